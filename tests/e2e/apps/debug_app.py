"""Served with --debug: a tool step, a streamed answer, then on "boom" an error out of the
callback (its traceback names call_model)."""

from __future__ import annotations

import lightchat as cl


def call_model(text: str) -> str:
    if text == "boom":
        raise ValueError("the model is <down>")
    return f"Echo: {text}"


@cl.on_message
async def answer(message: cl.Message) -> None:
    async with cl.Step(name="lookup", type="tool") as step:
        step.output = f"looked up {message.content}"
    reply = cl.Message(content="")
    for word in ("Thinking", " about", " it"):
        await reply.stream_token(word)
    await reply.send()
    await cl.Message(content=call_model(message.content)).send()
