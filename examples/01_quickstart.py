"""The quickstart: a welcome message, a tool step, and an answer streamed token by token.

Run it with `lightchat serve examples/01_quickstart.py` (this is what `make demo` serves).
The "model" is examples/demo_model.py, offline: replace it with your own.
"""

import asyncio

from demo_model import stream

import lightchat as cl


@cl.on_chat_start
async def start():
    cl.user_session.set("count", 0)
    await cl.Message(content="Welcome! Ask me anything.").send()


@cl.step(type="tool")
async def search(query: str) -> str:
    await asyncio.sleep(0.4)  # a real tool would call an API here
    return f"3 documents about {query}"


@cl.on_message
async def main(message: cl.Message):
    cl.user_session.set("count", cl.user_session.get("count") + 1)
    docs = await search(message.content)
    msg = cl.Message(content="")
    for token in stream(message.content, docs):
        await msg.stream_token(token)
        await asyncio.sleep(0.02)  # the pace of a real model
    await msg.send()
