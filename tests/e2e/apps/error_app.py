"""on_message raises on "boom"; anything else is echoed."""

from __future__ import annotations

import lightchat as cl


def call_model(text: str) -> str:
    if text == "boom":
        raise ValueError("the model is down")
    return f"Echo: {text}"


@cl.on_message
async def answer(message: cl.Message) -> None:
    await cl.Message(content=call_model(message.content)).send()
