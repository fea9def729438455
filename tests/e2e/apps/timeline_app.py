"""Steps and a run's timeline: a run of nested steps, and a step held open until the test
lets it go (a file, TIMELINE_GATE, appearing), so its ticking time can be watched."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import lightchat as cl


@cl.step(type="tool")
async def search(query: str) -> str:
    await asyncio.sleep(0.25)
    return f"3 pages about {query}"


@cl.step(type="tool")
async def rank(pages: str) -> str:
    await asyncio.sleep(0.1)
    return f"best of {pages}"


@cl.step(name="plan", type="run")
async def plan(question: str) -> str:
    return await rank(await search(question))


async def released(gate: Path) -> None:
    """Returns once the gate file exists (the test creates it)."""
    loop = asyncio.get_running_loop()
    opened = asyncio.Event()

    def look() -> None:
        if gate.exists():
            opened.set()
        else:
            loop.call_later(0.05, look)

    look()
    await opened.wait()


@cl.on_message
async def main(message: cl.Message) -> None:
    if message.content == "research":
        found = await plan("lighthouses")
        async with cl.Step(name="write", type="llm") as write:
            write.input = found
            for word in ["Lighthouses", "guide", "ships."]:
                await write.stream_token(word + " ")
                await asyncio.sleep(0.05)
        await cl.Message(content="Lighthouses guide ships.").send()
    elif message.content == "slow":
        gate = Path(os.environ["TIMELINE_GATE"])
        async with cl.Step(name="crawl", type="tool") as crawl:
            await released(gate)
            crawl.output = "crawled"
        await cl.Message(content="Crawled.").send()
    else:
        await cl.Message(content=f"You said: {message.content}").send()
