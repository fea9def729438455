"""The command line and sign-in: ``lightchat create-secret``, and ``serve`` refusing to start
an app with sign-in but no secret, with a message naming the command that makes one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from lightchat.auth.sessions import MIN_SECRET_CHARS, UserSessions
from lightchat.cli import main
from lightchat.domain.user import User

pytestmark = pytest.mark.timeout(30)

SIGN_IN_APP = """
from lightchat import LightChat, Message, User

app = LightChat()

@app.password_auth_callback
def check(username: str, password: str):
    return User(identifier=username) if password == "secret" else None

@app.on_message
async def main(message: Message):
    await Message(content=message.content).send()
"""


def test_create_secret_prints_a_new_strong_secret() -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["create-secret"])
    second = runner.invoke(main, ["create-secret"])
    assert first.exit_code == 0, first.output
    line = first.stdout.strip()
    assert line.startswith("LIGHTCHAT_AUTH_SECRET=")
    secret = line.partition("=")[2]
    assert len(secret) >= 64 >= MIN_SECRET_CHARS
    assert secret != second.stdout.strip().partition("=")[2]
    assert "signs every user out" in first.stderr
    # What it prints signs sessions.
    sessions = UserSessions(secret, 60)
    assert sessions.load(sessions.issue(User(identifier="ada"))) == User(identifier="ada")
    assert "create-secret" in runner.invoke(main, ["--help"]).output


@pytest.mark.usefixtures("isolated_import")
def test_serve_refuses_sign_in_without_a_secret(tmp_path: Path) -> None:
    app = tmp_path / "guarded.py"
    app.write_text(textwrap.dedent(SIGN_IN_APP))
    result = CliRunner().invoke(
        main, ["serve", str(app)], env={"LIGHTCHAT_AUTH_SECRET": None}, catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ")
    assert "@password_auth_callback" in result.stderr
    assert "`lightchat create-secret`" in result.stderr
    assert "LIGHTCHAT_AUTH_SECRET" in result.stderr
