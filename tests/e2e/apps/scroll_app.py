"""A long answer, many short paragraphs streamed one by one."""

from __future__ import annotations

import asyncio

import lightchat as cl

LINES = 100


@cl.on_message
async def answer(message: cl.Message) -> None:
    msg = cl.Message(content="")
    for i in range(LINES):
        await msg.stream_token(f"Paragraph {i} of a long answer.\n\n")
        await asyncio.sleep(0.01)
    await msg.stream_token("The end.")
    await msg.send()
