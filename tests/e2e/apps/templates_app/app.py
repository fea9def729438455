"""An app with its own templates (copied into the app's folder by tests/e2e/test_templates.py):
a footer line under assistant messages, a step's output in brackets, a header heading."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Welcome.").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    async with cl.Step(name="count", type="tool") as step:
        step.output = f"{len(message.content.split())} words"
    answer = cl.Message(content="")
    for word in f"You said: **{message.content}**".split(" "):
        await answer.stream_token(word + " ")
    await answer.send()
