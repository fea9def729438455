"""Chainlit's JSX custom elements, as a Chainlit app writes them: public/elements/*.jsx
(the test copies tests/e2e/apps/jsx/public into the app's folder). A counter that updates
its props, calls an action, sends a message and removes itself; a ticket form asked for
with AskElementMessage; an element that shows untrusted text."""

from __future__ import annotations

import lightchat as cl

HOSTILE = '</script><img src=x onerror="parent.__lcPwned=1">"\'&<b>bold</b>'


@cl.on_chat_start
async def start():
    counter = cl.CustomElement(name="Counter", props={"count": 1, "label": "Clicks"})
    cl.user_session.set("counter", counter)
    await cl.Message(content="A counter", elements=[counter]).send()


@cl.action_callback("celebrate")
async def celebrate(action):
    await cl.Message(content=f"Celebrating {action.payload.get('count')}").send()


@cl.on_message
async def on_message(message: cl.Message):
    if message.content == "ticket":
        form = cl.CustomElement(
            name="Ticket", props={"title": "New ticket", "priorities": ["Low", "Medium", "High"]}
        )
        res = await cl.AskElementMessage(
            content="Create a ticket:", element=form, timeout=60
        ).send()
        if res is None:
            await cl.Message(content="No answer").send()
        elif res.get("submitted"):
            await cl.Message(content=f"Ticket {res['summary']} ({res['priority']})").send()
        else:
            await cl.Message(content="No ticket").send()
        return
    if message.content == "hostile":
        echo = cl.CustomElement(name="Echo", props={"text": HOSTILE})
        await cl.Message(content="Untrusted text", elements=[echo]).send()
        return
    if message.content == "props?":
        counter = cl.user_session.get("counter")
        await cl.Message(content=f"Props: {counter.props}").send()
        return
    await cl.Message(content=f"You said: {message.content}").send()
