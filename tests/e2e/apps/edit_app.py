"""Editing and regenerating: every answer is numbered, so a new answer to the same text
differs from the old one. A message starting with "slow" gets a long streamed answer that
an edit can interrupt; the answer after a stop says so."""

from __future__ import annotations

import asyncio

import lightchat as cl

LONG_WORDS = 500


@cl.on_message
async def main(message: cl.Message) -> None:
    number = cl.user_session.get("answers", 0) + 1
    cl.user_session.set("answers", number)
    if message.content.startswith("slow"):
        msg = cl.Message(content="")
        for i in range(LONG_WORDS):
            await msg.stream_token(f"word{i} ")
            await asyncio.sleep(0.02)
        await msg.send()
        return
    after_stop = " after a stop" if cl.user_session.get("stopped") else ""
    cl.user_session.set("stopped", False)
    await cl.Message(content=f"Answer {number} to {message.content}{after_stop}").send()


@cl.on_stop
async def stopped() -> None:
    cl.user_session.set("stopped", True)
