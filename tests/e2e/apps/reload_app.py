"""An answer of numbered words, streamed slowly enough to reload the page in the middle."""

from __future__ import annotations

import asyncio

import lightchat as cl

WORDS = [f"w{i}" for i in range(120)]
ANSWER = " ".join(WORDS)


@cl.on_message
async def answer(message: cl.Message) -> None:
    msg = cl.Message(content="")
    for i, word in enumerate(WORDS):
        await msg.stream_token(word if i == 0 else " " + word)
        await asyncio.sleep(0.02)
    await msg.send()
