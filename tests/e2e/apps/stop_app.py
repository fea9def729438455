"""A long streamed answer to stop half-way; on_stop says so; "short" gets a short answer."""

from __future__ import annotations

import asyncio

import lightchat as cl

LONG_WORDS = 500


@cl.on_message
async def answer(message: cl.Message) -> None:
    if message.content == "short":
        await cl.Message(content="A short answer.").send()
        return
    msg = cl.Message(content="")
    for i in range(LONG_WORDS):
        await msg.stream_token(f"word{i} ")
        await asyncio.sleep(0.02)
    await msg.send()


@cl.on_stop
async def stopped() -> None:
    await cl.Message(content="Stopped.").send()
