"""A chat served by several workers (see "Scaling out" in the README).

Nothing in the app changes for several workers, with one rule: what a chat keeps in
``user_session`` lives in the worker running it, so ``on_chat_resume`` rebuilds it from the
saved thread when another worker takes the chat over (after a restart, a crash or a
graceful shutdown). Here the chat counts its questions, and the count survives a move.

Run two workers on one port (Redis and PostgreSQL on this machine)::

    LIGHTCHAT_REDIS_URL=redis://127.0.0.1:6379/0 \\
    LIGHTCHAT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
    lightchat serve examples/14_scale_out/app.py --workers 2

or the whole setup (two app containers, PostgreSQL, Redis, nginx) from the repository's
root: ``docker compose -f examples/14_scale_out/compose.yaml up``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import lightchat as cl


def _questions(thread: dict[str, Any]) -> int:
    return sum(1 for step in thread.get("steps", []) if step.get("type") == "user_message")


@cl.on_chat_start
async def start() -> None:
    cl.user_session.set("questions", 0)
    await cl.Message(content=f"Hello from worker {os.getpid()}. Ask me anything.").send()


@cl.on_chat_resume
async def resume(thread: dict[str, Any]) -> None:
    # Another worker ran this chat before: rebuild what user_session held from the thread.
    cl.user_session.set("questions", _questions(thread))


@cl.on_message
async def answer(message: cl.Message) -> None:
    count = (cl.user_session.get("questions") or 0) + 1
    cl.user_session.set("questions", count)
    reply = cl.Message(content="")
    text = f"Question {count}, answered by worker {os.getpid()}: {message.content}"
    for word in text.split(" "):
        await reply.stream_token(word + " ")
        await asyncio.sleep(0.05)
    await reply.send()
