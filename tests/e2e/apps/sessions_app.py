"""Each chat counts its own messages in cl.user_session and streams its answer back."""

from __future__ import annotations

import asyncio

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    cl.user_session.set("count", 0)


@cl.on_message
async def answer(message: cl.Message) -> None:
    count = cl.user_session.get("count") + 1
    cl.user_session.set("count", count)
    msg = cl.Message(content="")
    for token in [message.content, " message", " number", f" {count}"]:
        await msg.stream_token(token)
        await asyncio.sleep(0.05)  # long enough for the chats' answers to interleave
    await msg.send()
