"""Message actions: a welcome from on_chat_start, numbered answers (so a regenerated
answer differs), a question back to the user ("ask"), and a streamed answer with a code
block ("code"), whose last block stays open until "finish" is sent to the chat."""

from __future__ import annotations

import asyncio

import lightchat as cl

CODE = "def greet(name):\n    return f'Hello {name}'\n"


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Welcome! Ask me anything.").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    number = cl.user_session.get("answers", 0) + 1
    cl.user_session.set("answers", number)
    if message.content == "ask":
        reply = await cl.AskUserMessage(content="Which colour?", timeout=120).send()
        await cl.Message(content=f"Colour: {reply['output'] if reply else 'none'}").send()
        return
    if message.content == "code":
        msg = cl.Message(content="")
        await msg.stream_token("Here is the code:\n\n```python\n")
        for line in CODE.splitlines(keepends=True):
            await msg.stream_token(line)
            await asyncio.sleep(0.05)
        await msg.stream_token("```\n\nAnd more text ")
        for _ in range(30):  # still streaming: the code block above is settled
            await msg.stream_token("and more ")
            await asyncio.sleep(0.05)
        await msg.send()
        return
    await cl.Message(content=f"Answer {number} to {message.content}").send()
