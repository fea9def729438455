"""The commands Chainlit users type: ``lightchat run`` with Chainlit's flags, ``lightchat
hello`` and ``lightchat lint-translations``."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

import lightchat.cli
from lightchat.api.cache import NO_CACHE_ENV
from lightchat.cli import DEBUG_ENV, load_app, main
from tests.helpers import free_port, stop_process, wait_until_answers

LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))
APP = """
import lightchat as cl


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content="{answer}").send()
"""


class Served:
    """What ``uvicorn.run`` and the browser opener were asked to do."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[dict[str, Any]] = []
        self.opened: list[str] = []
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: self.runs.append({"app": app, **kw}))
        monkeypatch.setattr(
            lightchat.cli, "_open_when_up", lambda url, host, port: self.opened.append(url)
        )


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_import: None) -> Served:
    (tmp_path / "app.py").write_text(APP.format(answer="hi"))
    monkeypatch.chdir(tmp_path)
    for name in ("CHAINLIT_HOST", "CHAINLIT_PORT", "CHAINLIT_ROOT_PATH", "LIGHTCHAT_PORT"):
        monkeypatch.delenv(name, raising=False)
    # So that whatever a command sets (-d sets debug mode's variable) is undone after it.
    monkeypatch.setenv(NO_CACHE_ENV, "0")
    monkeypatch.setenv(DEBUG_ENV, "0")
    return Served(monkeypatch)


def test_run_takes_chainlits_flags_and_serves_with_them(served: Served) -> None:
    port = free_port()
    result = CliRunner().invoke(
        main, ["run", "app.py", "-h", "-d", "--port", str(port), "--root-path", "/chat/"]
    )
    assert result.exit_code == 0, result.output
    (run,) = served.runs
    assert (run["port"], run["root_path"], run["log_level"]) == (port, "/chat", "debug")
    assert run["ssl_certfile"] is None
    assert f"http://127.0.0.1:{port}/chat" in result.output
    assert served.opened == []  # -h: headless


def test_run_opens_the_browser_without_h(served: Served) -> None:
    port = free_port()
    assert CliRunner().invoke(main, ["run", "app.py", "--port", str(port)]).exit_code == 0
    assert served.opened == [f"http://127.0.0.1:{port}"]


def test_run_in_ci_mode_opens_nothing(served: Served) -> None:
    assert (
        CliRunner().invoke(main, ["run", "app.py", "-c", "--port", str(free_port())]).exit_code == 0
    )
    assert served.runs
    assert served.opened == []


def test_run_reads_chainlits_variables(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    cert, key = Path("cert.pem"), Path("key.pem")
    cert.write_text("cert")
    key.write_text("key")
    monkeypatch.setenv("CHAINLIT_PORT", str(port))
    monkeypatch.setenv("CHAINLIT_ROOT_PATH", "/assistant")
    monkeypatch.setenv("CHAINLIT_SSL_CERT", str(cert))
    monkeypatch.setenv("CHAINLIT_SSL_KEY", str(key))
    assert CliRunner().invoke(main, ["run", "app.py", "-h"]).exit_code == 0
    (run,) = served.runs
    assert (run["port"], run["root_path"]) == (port, "/assistant")
    assert (run["ssl_certfile"], run["ssl_keyfile"]) == (str(cert), str(key))


def test_run_with_tls_and_without_cache(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    alone = CliRunner().invoke(main, ["run", "app.py", "-h", "--ssl-cert", str(cert)])
    assert alone.exit_code == 2
    assert "--ssl-cert and --ssl-key go together" in alone.output
    port = free_port()
    args = ["run", "app.py", "-h", "--no-cache", "--port", str(port)]
    result = CliRunner().invoke(main, [*args, "--ssl-cert", str(cert), "--ssl-key", str(key)])
    assert result.exit_code == 0, result.output
    (run,) = served.runs
    assert (run["ssl_certfile"], run["ssl_keyfile"]) == (str(cert), str(key))
    assert f"https://127.0.0.1:{port}" in result.output
    assert os.environ[NO_CACHE_ENV] == "1"  # @cl.cache now computes every call


def test_a_root_path_must_be_a_path(served: Served) -> None:
    result = CliRunner().invoke(main, ["run", "app.py", "-h", "--root-path", "chat"])
    assert result.exit_code == 2
    assert "must start with '/'" in result.output


def test_hello_serves_a_first_chat(served: Served) -> None:
    result = CliRunner().invoke(main, ["hello", "-h", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    (run,) = served.runs
    app = run["app"]
    assert {"on_chat_start", "on_message", "action:tour"} <= set(app.callbacks)


def test_the_hello_app_loads_as_an_app_file(isolated_import: None) -> None:
    app = load_app(str(Path(lightchat.cli.__file__).with_name("hello.py")))
    assert "on_chat_start" in app.callbacks


def test_lint_translations_names_each_problem(tmp_path: Path) -> None:
    folder = tmp_path / "translations"
    folder.mkdir()
    (folder / "fr.json").write_text(
        json.dumps(
            {
                "chat.new": "Nouvelle discussion",
                "chat.nwe": "typo",
                "notice.oauth_failed": "La connexion a échoué.",
            }
        )
    )
    (folder / "de.json").write_text("[1, 2]")
    result = CliRunner().invoke(main, ["lint-translations", str(tmp_path)])
    assert result.exit_code == 1
    problems = result.stderr.strip().splitlines()
    assert len(problems) == 3, problems
    assert any("de.json: not a JSON object" in line for line in problems)
    assert any("unknown key 'chat.nwe'; did you mean 'chat.new'?" in line for line in problems)
    assert any("'notice.oauth_failed' must use the placeholders {provider}" in p for p in problems)

    (folder / "de.json").unlink()
    (folder / "fr.json").write_text(json.dumps({"chat.new": "Nouvelle discussion"}))
    clean = CliRunner().invoke(main, ["lint-translations", str(tmp_path)])
    assert clean.exit_code == 0, clean.output
    assert "1 translation files checked" in clean.output


@pytest.mark.processes
@pytest.mark.timeout(90)
def test_run_watch_serves_the_new_code_after_an_edit(tmp_path: Path) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text(APP.format(answer="first version"))
    port = free_port()
    process = subprocess.Popen(
        [LIGHTCHAT, "run", str(app_file), "-w", "-h", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "LIGHTCHAT_HISTORY": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(process, f"{url}/-/health", timeout=30)
        assert answer_to_a_new_chat(url) == "first version"
        app_file.write_text(APP.format(answer="second version"))
        # The reloader restarts the server; a new chat then runs the new code.
        deadline = time.monotonic() + 40
        seen = ""
        while time.monotonic() < deadline and seen != "second version":
            # While the server restarts, nothing answers: only its port can be polled.
            with contextlib.suppress(httpx.HTTPError):
                seen = answer_to_a_new_chat(url)
            time.sleep(0.2)
        assert seen == "second version"
    finally:
        output = stop_process(process)
    assert "Traceback" not in output, output


def answer_to_a_new_chat(url: str) -> str:
    """The answer of a new chat (a new browser) to one message, without JavaScript."""
    with httpx.Client(base_url=url, timeout=10, follow_redirects=True) as client:
        page = client.get("/")
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert token is not None, page.text[:300]
        answered = client.post(
            f"{page.url.path}/messages", data={"content": "hi", "csrf_token": token[1]}
        )
        found = re.findall(r'data-type="assistant_message".*?<p>(.*?)</p>', answered.text, re.S)
        return found[-1] if found else ""


def test_a_dotenv_beside_the_app_is_read_at_start_without_overriding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_import: None
) -> None:
    (tmp_path / ".env").write_text(
        "# the app's keys\nGREETING_FROM_DOTENV='hello there'\nREAL_ONE=from-the-file\n"
        "export LIGHTCHAT_NAME=Dotenv Bot\n"
    )
    (tmp_path / "app.py").write_text(
        "import os\nimport lightchat as cl\n\nGREETING = os.environ['GREETING_FROM_DOTENV']\n\n"
        "@cl.on_message\nasync def main(message):\n    await cl.Message(content=GREETING).send()\n"
    )
    monkeypatch.setenv("REAL_ONE", "from-the-environment")
    for name in ("GREETING_FROM_DOTENV", "LIGHTCHAT_NAME"):
        monkeypatch.delenv(name, raising=False)
    try:
        app = load_app(str(tmp_path / "app.py"))
        assert os.environ["GREETING_FROM_DOTENV"] == "hello there"
        assert os.environ["REAL_ONE"] == "from-the-environment"  # the environment wins
        assert app.settings.name == "Dotenv Bot"
    finally:
        for name in ("GREETING_FROM_DOTENV", "LIGHTCHAT_NAME"):
            os.environ.pop(name, None)


SERVER_APP = """
from fastapi import Request
from fastapi.responses import JSONResponse

import lightchat as cl
from lightchat.server import app


@app.get("/healthz")
async def healthz(request: Request):
    return JSONResponse({"ok": True, "path": request.url.path})


@app.get("/items/{item_id}")
async def item(item_id: int):
    return {"item": item_id}


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content="from the chat").send()
"""


@pytest.mark.anyio
async def test_routes_added_to_lightchat_server_are_served_before_the_chat(
    tmp_path: Path, isolated_import: None
) -> None:
    (tmp_path / "app.py").write_text(SERVER_APP)
    app = load_app(str(tmp_path / "app.py"))
    asgi = lightchat.cli.served(app)
    assert asgi is not app  # the FastAPI app, with the chat mounted at its root
    transport = httpx.ASGITransport(app=asgi)
    async with (
        asgi.router.lifespan_context(asgi),  # type: ignore[attr-defined]
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        assert (await client.get("/healthz")).json() == {"ok": True, "path": "/healthz"}
        assert (await client.get("/items/7")).json() == {"item": 7}  # FastAPI's own typing
        assert (await client.get("/items/x")).status_code == 422
        opened = await client.get("/")
        assert opened.status_code == 303  # the chat's own URLs still go to the chat
        page = await client.get(opened.headers["location"])
        assert page.status_code == 200
        assert "content-security-policy" in page.headers
        assert (await client.get("/docs")).status_code == 404  # no generated docs


def test_without_routes_of_its_own_the_app_is_served_as_it_is(
    tmp_path: Path, isolated_import: None
) -> None:
    (tmp_path / "app.py").write_text(APP.format(answer="hi"))
    app = load_app(str(tmp_path / "app.py"))
    assert lightchat.cli.served(app) is app


@pytest.mark.processes
@pytest.mark.timeout(60)
def test_lightchat_serve_serves_an_apps_own_routes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SERVER_APP)
    port = free_port()
    process = subprocess.Popen(
        [LIGHTCHAT, "serve", str(tmp_path / "app.py"), "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "LIGHTCHAT_HISTORY": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(process, f"{url}/healthz")
        assert answer_to_a_new_chat(url) == "from the chat"
    finally:
        output = stop_process(process)
    assert "Traceback" not in output, output
