"""on_chat_start greets the user; on_message echoes."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Welcome to the **test** chat.").send()


@cl.on_message
async def echo(message: cl.Message) -> None:
    await cl.Message(content=f"Echo: {message.content}").send()
