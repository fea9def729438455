"""The deployment files say only what is true: the Dockerfile, the compose sketch, the nginx
configuration and the README's "Scaling out" name files, commands, options, routes and
variables that exist. (Images are not built here: nothing can be pulled. The last test
carries out the Dockerfile's steps without Docker instead.)"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement

from lightchat.cli import load_app
from lightchat.cli import main as cli
from lightchat.config.settings import Settings
from lightchat.http.routes import routes
from tests.helpers import free_port, stop_process, wait_until_answers

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


def dockerignored(relative: str) -> bool:
    """Whether .dockerignore keeps ``relative`` (a path in the repository) out of the build
    context: a pattern that matches the path or one of its folders, ``!`` taking it back."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            ignored = not negated
    return ignored


@dataclass
class Image:
    """The Dockerfile's steps carried out under ``root``, a folder standing in for ``/``: the
    files its COPY lines put in the image, the folder its ``pip install`` ran in, its ENV
    values, volumes, last WORKDIR, CMD and HEALTHCHECK."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    install_dir: Path | None = None
    install_env: dict[str, str] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)
    workdir: str = "/"
    cmd: list[str] = field(default_factory=list)
    health: list[str] = field(default_factory=list)
    health_timeout_s: float = 30

    def path(self, path: str) -> Path:
        return self.root / posixpath.normpath(posixpath.join(self.workdir, path)).lstrip("/")

    def copy(self, rest: str, args: dict[str, str]) -> None:
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        if words[0].startswith("["):
            words = json.loads(" ".join(words))
        words = [re.sub(r"\$\{?(\w+)\}?", lambda m: args[m.group(1)], w) for w in words]
        *sources, dest = words
        into = dest.endswith("/") or len(sources) > 1
        target = self.path(dest)
        for source in sources:
            origin = ROOT / source
            assert not dockerignored(source), source
            if origin.is_dir():  # its contents, as COPY does, less what .dockerignore drops
                files = [
                    f
                    for f in sorted(origin.rglob("*"))
                    if f.is_file() and not dockerignored(f.relative_to(ROOT).as_posix())
                ]
                for file in files:
                    (target / file.relative_to(origin)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, target / file.relative_to(origin))
            else:
                out = target / origin.name if into else target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, out)

    @classmethod
    def rehearse(cls, root: Path) -> Image:
        image = cls(root)
        args: dict[str, str] = {}
        for keyword, rest in instructions():
            if keyword == "ARG" and "=" in rest:
                name, value = rest.split("=", 1)
                args[name] = value
            elif keyword == "ENV":
                words = shlex.split(rest)
                if "=" in words[0]:
                    image.env.update(dict(w.split("=", 1) for w in words))
                else:
                    image.env[words[0]] = rest.split(None, 1)[1]
            elif keyword == "WORKDIR":
                image.workdir = posixpath.join(image.workdir, rest)
                image.path(".").mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                image.copy(rest, args)
            elif keyword == "VOLUME":
                for volume in json.loads(rest) if rest.startswith("[") else rest.split():
                    image.path(volume).mkdir(parents=True, exist_ok=True)
            elif keyword == "RUN" and (
                install := re.search(r"pip install \"?\.(\[[^\]]*\])?", rest)
            ):
                image.install_dir = image.path(".")
                image.install_env = dict(image.env)
                image.extras = [e for e in (install.group(1) or "").strip("[]").split(",") if e]
            elif keyword == "CMD":
                image.cmd = json.loads(rest) if rest.startswith("[") else ["sh", "-c", rest]
            elif keyword == "HEALTHCHECK":
                options, _, command = rest.partition("CMD ")
                timeout = re.search(r"--timeout=(\d+)s", options)
                image.health_timeout_s = float(timeout.group(1)) if timeout else 30
                image.health = (
                    json.loads(command) if command.startswith("[") else ["sh", "-c", command]
                )
        return image


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 60)
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def pip_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a pip that reads no configuration file and no PIP_ variable of this
    machine's (so it reaches for no index but the ones given)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**base, **env, "PIP_CONFIG_FILE": os.devnull}


INSTALLED = """
import importlib.metadata as metadata, sys, lightchat
from packaging.requirements import Requirement

print(lightchat.__file__)
extras = sys.argv[1:]
meta = metadata.metadata("lightchat")
assert set(extras) <= set(meta.get_all("Provides-Extra") or []), extras
assert (meta.get_payload() or "").strip(), "no long description: the build had no README"
for text in metadata.requires("lightchat") or []:
    req = Requirement(text)
    if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ["", *extras]):
        assert metadata.version(req.name) in req.specifier, text
"""
"""Run by the image's python: where lightchat comes from (printed), and that what it needs,
with the extras ``pip install`` asked for, is installed (what pip's resolver would see to),
and that the README made it into the package's description."""


def build_wheel(source: Path, out: Path, env: dict[str, str]) -> Path:
    """The wheel of ``source``, built offline with this venv's build backend (the dev
    extra installs the one pyproject.toml asks for). Skips, saying why, without it."""
    requires = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in map(Requirement, requires):
        try:
            found = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            found = "none"
        if found not in requirement.specifier:
            pytest.skip(f"the build backend {requirement} is not in this venv ({found})")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = run([*pip, "--no-index", f"--wheel-dir={out}", str(source)], env=pip_env(env))
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("lightchat-*.whl")
    return wheel


@pytest.mark.processes
def test_the_dockerfile_steps_build_an_image_that_serves_and_passes_its_health_check(
    tmp_path: Path,
) -> None:
    """The Dockerfile's steps, without Docker: the files its COPY lines take (and only those,
    less what .dockerignore drops) are built into a wheel, installed into a fresh venv whose
    dependencies are this venv's (lightchat itself excluded), the source folder removed, and
    its CMD, run in its last WORKDIR with its ENV, answers its HEALTHCHECK and renders the
    app's page."""
    image = Image.rehearse(tmp_path)
    assert image.install_dir is not None
    assert image.cmd[:2] == ["lightchat", "serve"], image.cmd
    assert image.health

    # RUN pip install ".[extras]": the wheel of the copied folder, in a venv of its own.
    wheel = build_wheel(image.install_dir, tmp_path / "dist", image.install_env)
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", f"--python={python}"]
    installed = run(
        [*pip, "install", "--no-deps", "--no-index", str(wheel)], env=pip_env(image.install_env)
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The dependencies come from this venv's site-packages, read as a plain folder, so its
    # editable install of lightchat (a .pth file there) stays out of sight.
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    shutil.rmtree(image.install_dir)  # && rm -rf /src

    app_dir = image.path(".")
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        **image.env,
        "LIGHTCHAT_SECRET": "a-secret-for-the-rehearsal-of-the-image",
    }
    check = run(["python", "-c", INSTALLED, *image.extras], cwd=app_dir, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert Path(check.stdout.strip()).is_relative_to(venv), check.stdout  # not the checkout
    executable = shutil.which(image.cmd[0], path=env["PATH"])
    assert executable is not None
    assert Path(executable).parent == venv / "bin"

    port = free_port()
    command = list(image.cmd)
    command[command.index("--port") + 1] = str(port)
    if "--host" in command:
        command[command.index("--host") + 1] = "127.0.0.1"
    server = subprocess.Popen(
        command, cwd=app_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_answers(server, f"http://127.0.0.1:{port}/-/health", timeout=20)
        health = [re.sub(r"(https?://[^/:'\"]+):\d+", rf"\g<1>:{port}", a) for a in image.health]
        assert any(f":{port}/" in word for word in health), health
        checked = run(health, cwd=app_dir, env=env, timeout=image.health_timeout_s)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            first = client.get("/")
            if first.status_code == 303:
                assert first.headers["location"].startswith("/chat/"), first.headers
                page = client.get(first.headers["location"])
            else:
                page = first
            assert page.status_code == 200, page.text
            assert "text/html" in page.headers["content-type"]
            assets = set(re.findall(r"(?:src|href)=\"(/-/static/[^\"?]+)", page.text))
            assert assets, page.text
            for asset in sorted(assets):
                assert client.get(asset).status_code == 200, asset
    finally:
        output = stop_process(server, timeout=15)
    # uvicorn shuts down on SIGTERM, then lets the signal end the process as it would have.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output
    assert (app_dir / ".lightchat" / "chat.db").is_file(), output
