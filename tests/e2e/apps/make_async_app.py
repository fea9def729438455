"""An async callback awaiting a blocking function wrapped with cl.make_async."""

from __future__ import annotations

import time

import lightchat as cl


def slow_reverse(text: str) -> str:
    time.sleep(0.2)  # a blocking client library
    prefix = cl.user_session.get("prefix")  # the worker thread sees the chat's session
    return f"{prefix}{text[::-1]}"


reverse = cl.make_async(slow_reverse)


@cl.on_chat_start
async def start() -> None:
    cl.user_session.set("prefix", "reversed: ")


@cl.on_message
async def answer(message: cl.Message) -> None:
    result = await reverse(message.content)
    await cl.Message(content=result).send()
