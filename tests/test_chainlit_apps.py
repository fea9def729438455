"""Chainlit apps as they are written: an app needs one of ``on_chat_start``,
``on_message`` (or ``on_audio_chunk``), as in Chainlit."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.auth.identity import COOKIE
from lightchat.cli import load_app
from tests.helpers import with_form_token

pytestmark = pytest.mark.anyio

HINT = "the app has no @on_message callback"


@pytest.mark.usefixtures("isolated_import")
def test_an_app_with_only_on_chat_start_is_served(tmp_path: Path) -> None:
    # The shape of Chainlit's own hello sample: a greeting, buttons, no @on_message.
    app_file = tmp_path / "hello.py"
    app_file.write_text(
        textwrap.dedent(
            """
            import lightchat as cl

            @cl.on_chat_start
            async def main():
                await cl.Message(
                    content="Hello!", actions=[cl.Action(name="go", payload={}, label="Go")]
                ).send()

            @cl.action_callback("go")
            async def go(action):
                await cl.Message(content="Going").send()
            """
        )
    )
    app = load_app(str(app_file))
    assert "on_chat_start" in app.callbacks
    assert "on_message" not in app.callbacks


async def test_a_message_without_on_message_is_kept_and_the_log_says_why_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))

    @app.on_chat_start
    async def start() -> None:
        await cl.Message(content="Pick a button below.").send()

    caplog.set_level(logging.INFO, logger="lightchat")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with_form_token(client, app)
        opened = await client.get("/")
        chat = opened.headers["location"]
        owner = app.build().state.services.identity.load(client.cookies[COOKIE])
        assert app.chats is not None
        session = app.chats.get(chat.rsplit("/", 1)[1], owner)
        assert session is not None
        await session.settled()
        for text in ("first words", "second words"):
            posted = await client.post(
                f"{chat}/messages", data={"content": text}, headers={"HX-Request": "true"}
            )
            assert posted.status_code == 204, posted.text
            await session.settled()
        page = (await client.get(chat)).text
    assert "first words" in page
    assert "second words" in page
    assert 'data-type="error"' not in page
    hints = [record for record in caplog.records if HINT in record.getMessage()]
    assert len(hints) == 1  # once, however many messages
    assert len(hints[0].getMessage().splitlines()) == 1
    await app.chats.close_all()
