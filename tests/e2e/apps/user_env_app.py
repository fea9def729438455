"""Keys from the user (LIGHTCHAT_USER_ENV=API_KEY): the chat says how long the key it got
is, never the key itself; messages are echoed."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    key = cl.user_session.get("env")["API_KEY"]
    await cl.Message(content=f"Your key has {len(key)} characters.").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content=f"Echo: {message.content}").send()
