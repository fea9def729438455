"""The deployment files say only what is true: the Dockerfile, the compose sketch, the nginx
configuration and the README's "Scaling out" name files, commands, options, routes and
variables that exist. (Images are not built here: nothing can be pulled.)"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest

from lightchat.cli import load_app
from lightchat.cli import main as cli
from lightchat.config import Settings
from lightchat.routes import routes

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "14_scale_out"
KNOWN_VARIABLES = {f"LIGHTCHAT_{f.name.upper()}" for f in fields(Settings)} | {
    "LIGHTCHAT_WORKERS"  # read by `lightchat serve` itself (--workers)
}
DOCKERFILE_KEYWORDS = {
    "FROM", "ENV", "WORKDIR", "COPY", "RUN", "ARG", "VOLUME", "USER", "EXPOSE",
    "HEALTHCHECK", "CMD",
}  # fmt: skip


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword, rest.strip()))
    return found


def serve_args(command: str) -> list[str]:
    """``lightchat serve ...`` from an exec-form (JSON) or shell-form command."""
    args = json.loads(command) if command.startswith("[") else shlex.split(command)
    assert args[:2] == ["lightchat", "serve"], args
    return list(args[1:])


def test_the_dockerfile_uses_known_instructions_on_python_311_as_a_plain_user() -> None:
    found = instructions()
    assert {keyword for keyword, _ in found} <= DOCKERFILE_KEYWORDS
    assert found[0] == ("FROM", "python:3.11-slim")
    users = [rest for keyword, rest in found if keyword == "USER"]
    assert users == ["lightchat"]
    assert next(i for i, (k, _) in enumerate(found) if k == "USER") < len(found) - 1
    run = " ".join(rest for keyword, rest in found if keyword == "RUN")
    assert 'pip install ".[redis]"' in run
    assert "useradd" in run
    assert "lightchat" in run


def test_the_dockerfile_copies_files_that_exist_and_the_build_context_keeps() -> None:
    found = instructions()
    args = dict(rest.split("=", 1) for keyword, rest in found if keyword == "ARG" and "=" in rest)
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [rest for keyword, rest in found if keyword == "COPY"]
    assert copies
    for copy in copies:
        parts = [p for p in copy.split() if not p.startswith("--")]
        for source in parts[:-1]:
            source = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], source)
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert "pyproject.toml" in copies[0]  # pip needs both
    assert "README.md" in copies[0]


def test_the_dockerfile_serves_with_real_options_and_checks_a_real_route() -> None:
    found = dict(instructions())
    args = serve_args(found["CMD"])
    context = cli.commands["serve"].make_context("serve", args[1:])  # parses, or raises
    assert context.params["host"] == "0.0.0.0"
    assert context.params["port"] == 8000
    assert found["EXPOSE"] == "8000"
    health = re.search(r"http://127\.0\.0\.1:8000(/[^'\"]*)", found["HEALTHCHECK"])
    assert health is not None
    paths = {getattr(route, "path", "") for route in routes()}
    assert health.group(1) in paths
    assert "/-/ready" in paths
    env = re.findall(r"(LIGHTCHAT_\w+)=", found["ENV"])
    assert env
    assert set(env) <= KNOWN_VARIABLES


def test_the_compose_file_and_nginx_configuration_hold_together() -> None:
    compose = (EXAMPLE / "compose.yaml").read_text()
    for name in re.findall(r"\b(LIGHTCHAT_\w+):", compose):
        assert name in KNOWN_VARIABLES, name
    for service in ("app1", "app2", "postgres", "redis", "nginx"):
        assert re.search(rf"^  {service}:", compose, re.MULTILINE), service
    build_arg = re.search(r"APP: (\S+)", compose)
    assert build_arg is not None
    assert (ROOT / build_arg.group(1)).is_file()
    assert "context: ../.." in compose
    assert (EXAMPLE / "../../Dockerfile").resolve().is_file()
    assert "./nginx.conf:" in compose
    grace = re.search(r"LIGHTCHAT_SHUTDOWN_GRACE_S: \"(\d+)\"", compose)
    stop = re.search(r"stop_grace_period: (\d+)s", compose)
    assert grace is not None
    assert stop is not None
    assert int(stop.group(1)) > int(grace.group(1))

    nginx = (EXAMPLE / "nginx.conf").read_text()
    for upstream in re.findall(r"server (app\d):8000", nginx):
        assert re.search(rf"^  {upstream}:", compose, re.MULTILINE)
    for directive in (
        "proxy_buffering off;",
        "proxy_http_version 1.1;",
        "proxy_read_timeout 1h;",
        "proxy_set_header Host $http_host;",
    ):
        assert directive in nginx
    for affinity in ("ip_hash", "hash ", "sticky", "least_conn"):
        assert affinity not in nginx


def test_the_readme_section_names_real_variables_and_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    for name in set(re.findall(r"\bLIGHTCHAT_[A-Z_]+\b", section)):
        assert name in KNOWN_VARIABLES, name
    for command in re.findall(r"^lightchat serve .*$", section, re.MULTILINE):
        args = shlex.split(command)[1:]
        cli.commands["serve"].make_context("serve", args[1:])
    for path in re.findall(r"`(examples/[\w./]+|Dockerfile)`", section):
        assert (ROOT / path).exists(), path
    for route in re.findall(r"`(?:GET )?(/-/\w+)`", section):
        assert route in {getattr(r, "path", "") for r in routes()}, route
    nginx = re.search(r"```nginx\n(.*?)```", section, re.DOTALL)
    assert nginx is not None
    for directive in ("proxy_buffering off;", "proxy_http_version 1.1;", "proxy_read_timeout"):
        assert directive in nginx.group(1)


@pytest.mark.usefixtures("isolated_import")
def test_the_scale_out_example_loads_with_on_chat_resume() -> None:
    app = load_app(str(EXAMPLE / "app.py"))
    assert {"on_chat_start", "on_chat_resume", "on_message"} <= set(app.callbacks)
