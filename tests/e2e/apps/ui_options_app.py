"""Chainlit's UI options in the browser: the test sets them through LIGHTCHAT_ variables
(sidebar closed, "New chat" asking first, a header link, French whatever the browser
says). A command and a starter carry Lucide icon names; on_message echoes."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    await cl.context.emitter.set_commands(
        [{"id": "Picture", "icon": "image", "description": "Draw a picture", "button": True}]
    )


@cl.set_starters
async def starters(user: object = None, language: str | None = None) -> list[cl.Starter]:
    return [cl.Starter(label="Draw a cat", message="Draw a cat", icon="image")]


@cl.on_message
async def echo(message: cl.Message) -> None:
    await cl.Message(content=f"Reçu : {message.content}").send()
