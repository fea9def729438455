"""Sync callbacks: plain `def`s that reach the chat through cl.run_sync."""

from __future__ import annotations

import time

import lightchat as cl


def blocking_upper(text: str) -> str:
    time.sleep(0.05)  # a blocking client library
    return text.upper()


@cl.on_chat_start
def start() -> None:
    cl.user_session.set("turns", 0)
    cl.run_sync(cl.Message(content="Sync hello.").send())


@cl.on_message
def answer(message: cl.Message) -> None:
    turns = cl.user_session.get("turns") + 1
    cl.user_session.set("turns", turns)
    msg = cl.Message(content="")
    for word in ["Sync", "says", blocking_upper(message.content), f"(turn {turns})"]:
        cl.run_sync(msg.stream_token(word + " "))
        time.sleep(0.02)
    cl.run_sync(msg.send())
