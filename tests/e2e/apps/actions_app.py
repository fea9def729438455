"""Actions: buttons that run their callback (one removes itself), and one clicked while
an answer is still streaming, which runs after it."""

from __future__ import annotations

import asyncio

import lightchat as cl

SLOW_WORDS = 60


@cl.on_chat_start
async def start() -> None:
    actions = [
        cl.Action(name="pick", payload={"n": 1}, label="One", tooltip="The first"),
        cl.Action(name="pick", payload={"n": 2}, label="Two"),
        cl.Action(name="later", label="Later", icon="⏱"),
    ]
    await cl.Message(content="Pick one", actions=actions).send()


@cl.action_callback("pick")
async def pick(action: cl.Action) -> None:
    await action.remove()
    await cl.Message(content=f"You picked {action.payload['n']}").send()


@cl.action_callback("later")
async def later(action: cl.Action) -> None:
    finished = cl.user_session.get("finished", False)
    await cl.Message(content=f"Later ran; the answer was finished: {finished}").send()


@cl.on_message
async def slow(message: cl.Message) -> None:
    cl.user_session.set("finished", False)
    msg = cl.Message(content="")
    for i in range(SLOW_WORDS):
        await msg.stream_token(f"word{i} ")
        await asyncio.sleep(0.05)
    await msg.send()
    cl.user_session.set("finished", True)
