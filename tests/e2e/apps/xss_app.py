"""Hostile text from every side: the model's answer, the user's message echoed back, and a
step's name, input and output."""

from __future__ import annotations

import asyncio

import lightchat as cl

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
LINK = "[x](javascript:alert(3))"
MODEL_TEXT = f"Model says {IMG} and {SCRIPT} and {LINK} done.\n\n{IMG}\n\n{SCRIPT}\n"
STEP_NAME = "<img src=x onerror=alert(4)>"
STEP_OUTPUT = "<script>alert(5)</script> [y](javascript:alert(6))"


@cl.on_message
async def answer(message: cl.Message) -> None:
    async with cl.Step(name=STEP_NAME, type="tool") as step:
        step.input = message.content
        step.output = STEP_OUTPUT
    msg = cl.Message(content="")
    text = MODEL_TEXT + f"\nYou said: {message.content}\n"
    for i in range(0, len(text), 3):  # tags arrive split over several tokens
        await msg.stream_token(text[i : i + 3])
        await asyncio.sleep(0.01)
    await msg.send()
