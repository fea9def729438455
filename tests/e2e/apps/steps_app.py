"""Steps: a tool step, steps nested in a step, an instant step, and a step that fails."""

from __future__ import annotations

import asyncio

import lightchat as cl


@cl.step(type="tool")
async def lookup(query: str) -> str:
    await asyncio.sleep(0.3)  # a tool call taking a moment
    return f"found {query}"


@cl.step(name="plan", type="run")
async def plan(question: str) -> str:
    found = await lookup(question)
    async with cl.Step(name="draft", type="llm") as draft:
        draft.input = question
        for word in ["drafting", "from", "the", "results"]:
            await draft.stream_token(word + " ")
            await asyncio.sleep(0.02)
    return found


@cl.step(name="flaky search", type="retrieval")
async def flaky_search(query: str) -> str:
    await asyncio.sleep(0.05)
    raise RuntimeError("the search index is unavailable")


@cl.on_message
async def main(message: cl.Message) -> None:
    if message.content == "tool":
        result = await lookup("weather in Paris")
        await cl.Message(content=f"Tool said: {result}").send()
    elif message.content == "nested":
        result = await plan("cats")
        await cl.Message(content=f"Plan said: {result}").send()
    elif message.content == "instant":
        # Created and finished in the same instant: both changes reach the page together.
        async with cl.Step(name="instant", type="tool") as step:
            step.output = "quick result"
        msg = await cl.Message(content="first draft").send()
        msg.content = "final text"
        await msg.update()
    elif message.content == "fail":
        await flaky_search("dogs")
        await cl.Message(content="never shown").send()
