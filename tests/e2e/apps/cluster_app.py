"""An app for two workers sharing Redis and PostgreSQL (tests/test_scale.py): a streamed
answer of numbered words ("slow": 40 of them, "long": 2,000, paced so that a test can act
half-way), a question ("ask"), and ``on_chat_resume``, after which answers say so."""

from __future__ import annotations

import asyncio

import lightchat as cl

DELAY_S = 0.01


@cl.on_chat_resume
async def resume(thread: dict[str, object]) -> None:
    cl.user_session.set("resumed", True)


@cl.on_message
async def answer(message: cl.Message) -> None:
    if message.content == "ask":
        reply = await cl.AskUserMessage(content="Your name?", timeout=60).send()
        name = reply["output"] if reply else "nobody"
        await cl.Message(content=f"Hello, {name}!").send()
        return
    if message.content in ("slow", "long"):
        msg = cl.Message(content="")
        for i in range(40 if message.content == "slow" else 2000):
            await msg.stream_token(f"w{i} ")
            await asyncio.sleep(DELAY_S)
        await msg.send()
        await cl.Message(content="finished").send()
        return
    prefix = "resumed" if cl.user_session.get("resumed") else "echo"
    await cl.Message(content=f"{prefix}: {message.content}").send()
