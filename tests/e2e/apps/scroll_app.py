"""A long answer, many short paragraphs streamed one by one.

With ``SCROLL_GATE`` naming a file, the second answer waits after its tenth paragraph until
that file exists: the test lets it go on once the reader has scrolled up, so the answer is
still streaming then however slow the machine is.
"""

from __future__ import annotations

import asyncio
import os

import lightchat as cl

LINES = 100
GATE_AT = 10


async def _gate() -> None:
    gate = os.environ.get("SCROLL_GATE")
    if not gate:
        return
    for _ in range(3000):  # 60 s at most
        if await asyncio.to_thread(os.path.exists, gate):
            return
        await asyncio.sleep(0.02)


@cl.on_message
async def answer(message: cl.Message) -> None:
    msg = cl.Message(content="")
    for i in range(LINES):
        await msg.stream_token(f"Paragraph {i} of a long answer.\n\n")
        if i == GATE_AT and message.content == "again":
            await _gate()
        await asyncio.sleep(0.01)
    await msg.stream_token("The end.")
    await msg.send()
