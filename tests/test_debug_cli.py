"""Debug mode from the command line: ``lightchat run -d`` and ``lightchat serve --debug``
turn it on (and debug logs), here and in the processes ``--reload`` starts; the command
says who sees the details, and warns when everyone who reaches the address would."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

import lightchat.cli
from lightchat.app import LightChat
from lightchat.cli import APP_ENV, DEBUG_ENV, main, reload_factory
from tests.helpers import free_port

APP = """
import lightchat as cl


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content="hi").send()
"""

EXPLICIT_APP = """
from lightchat import LightChat, Message, Settings

app = LightChat(settings=Settings(name="Explicit"))


@app.on_message
async def main(message: Message):
    await Message(content="hi").send()
"""

SIGNED_IN_APP = (
    APP
    + """

@cl.password_auth_callback
def check(username: str, password: str):
    return cl.User(identifier=username, metadata={"role": "admin"})
"""
)


class Served:
    """What ``uvicorn.run`` was asked to serve, instead of serving it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[dict[str, Any]] = []
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: self.runs.append({"app": app, **kw}))
        monkeypatch.setattr(lightchat.cli, "_open_when_up", lambda url, host, port: None)

    @property
    def app(self) -> LightChat:
        (run,) = self.runs
        app = run["app"]
        assert isinstance(app, LightChat)
        return app


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_import: None) -> Served:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "explicit.py").write_text(EXPLICIT_APP)
    (tmp_path / "signed.py").write_text(SIGNED_IN_APP)
    monkeypatch.chdir(tmp_path)
    for name in ("LIGHTCHAT_HOST", "CHAINLIT_HOST", "LIGHTCHAT_PORT", "CHAINLIT_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DEBUG_ENV, "0")  # so that what a command sets is undone after it
    return Served(monkeypatch)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--port", str(free_port())])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("flag", ["-d", "--debug"])
def test_run_d_turns_debug_mode_on(served: Served, flag: str) -> None:
    code, out, err = invoke("run", "app.py", "-h", flag)
    assert code == 0, out + err
    assert served.app.settings.debug
    assert served.runs[0]["log_level"] == "debug"
    assert os.environ[DEBUG_ENV] == "1"  # for the processes --reload or --workers start
    assert "Debug mode: run details for whoever opens a chat on this machine." in out
    assert "Warning" not in err


@pytest.mark.parametrize("command", [["run", "app.py", "-h"], ["serve", "app.py"]])
def test_debug_mode_is_off_by_default(served: Served, command: list[str]) -> None:
    code, out, err = invoke(*command)
    assert code == 0, out + err
    assert not served.app.settings.debug
    assert served.runs[0]["log_level"] == "info"
    assert "Debug mode" not in out


@pytest.mark.parametrize("flag", ["-d", "--debug"])
def test_serve_takes_debug_too(served: Served, flag: str) -> None:
    code, out, err = invoke("serve", "app.py", flag)
    assert code == 0, out + err
    assert served.app.settings.debug
    assert served.runs[0]["log_level"] == "debug"


def test_an_app_with_its_own_settings_is_in_debug_mode_too(served: Served) -> None:
    code, out, err = invoke("run", "explicit.py", "-h", "-d")
    assert code == 0, out + err
    assert served.app.settings.name == "Explicit"
    assert served.app.settings.debug


def test_debug_mode_beyond_this_machine_without_sign_in_warns(served: Served) -> None:
    code, out, err = invoke("serve", "app.py", "--debug", "--host", "0.0.0.0")
    assert code == 0, out + err
    assert "Warning: debug mode on 0.0.0.0 without sign-in" in err
    assert "Listen on 127.0.0.1, or turn sign-in on" in err


def test_with_sign_in_debug_mode_is_for_admins(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIGHTCHAT_AUTH_SECRET", "cli-secret-" + "x" * 40)
    code, out, err = invoke("serve", "signed.py", "--debug", "--host", "0.0.0.0")
    assert code == 0, out + err
    assert 'Debug mode: run details for admins (users with "role": "admin").' in out
    assert "Warning" not in err


def test_a_reloaded_process_is_in_debug_mode_when_asked(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(APP_ENV, "explicit.py")
    monkeypatch.setenv(DEBUG_ENV, "1")
    app = reload_factory()
    assert isinstance(app, LightChat)
    assert app.settings.debug
