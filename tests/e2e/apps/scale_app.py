"""An app for several workers and for graceful shutdown: a streamed answer (its length
and pace from ``SCALE_WORDS`` and ``SCALE_DELAY_S``; "long" for a long one), an action,
a question ("ask"), and ``on_chat_resume``, so another worker can take a chat over."""

from __future__ import annotations

import asyncio
import os

import lightchat as cl

WORDS = int(os.environ.get("SCALE_WORDS", "20"))
DELAY_S = float(os.environ.get("SCALE_DELAY_S", "0.02"))
LONG_WORDS = 2000  # "long": an answer to stop half-way


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Hello", actions=[cl.Action(name="ping", label="Ping")]).send()


@cl.on_chat_resume
async def resume(thread: dict[str, object]) -> None:
    cl.user_session.set("resumed", True)


@cl.action_callback("ping")
async def ping(action: cl.Action) -> None:
    await cl.Message(content="Pong").send()


@cl.on_message
async def answer(message: cl.Message) -> None:
    if message.content == "ask":
        reply = await cl.AskUserMessage(content="Your name?", timeout=120).send()
        name = reply["output"] if reply else "nobody"
        await cl.Message(content=f"Hello, {name}!").send()
        return
    msg = cl.Message(content="")
    for i in range(LONG_WORDS if message.content == "long" else WORDS):
        await msg.stream_token(f"w{i} ")
        await asyncio.sleep(DELAY_S)
    await msg.send()
