"""A custom element: a counter drawn by the app's template elements/Counter.html. Its
"Add" button calls the "increment" action, which changes the props and redraws it; its
"Say hello" button sends a user message, which is echoed."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    counter = cl.CustomElement(name="Counter", props={"count": 1, "step": 2})
    cl.user_session.set("counter", counter)
    await cl.Message(content="A counter", elements=[counter]).send()


@cl.action_callback("increment")
async def increment(action: cl.Action) -> None:
    counter = cl.user_session.get("counter")
    counter.props["count"] += action.payload["by"]
    await counter.update()


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content=f"You said: {message.content}").send()
