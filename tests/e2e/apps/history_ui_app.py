"""History UI: a tool step with input and output, a markdown answer, tags and state kept."""

import lightchat as cl


@cl.on_chat_start
async def start():
    cl.user_session.set("tags", ["e2e"])
    cl.user_session.set("asked", 0)


@cl.on_chat_resume
async def resume(thread: dict):
    cl.user_session.set("asked", thread["metadata"].get("asked", 0))


@cl.on_message
async def main(message: cl.Message):
    asked = cl.user_session.get("asked") + 1
    cl.user_session.set("asked", asked)
    async with cl.Step(name="lookup", type="tool") as step:
        step.input = message.content
        step.output = f"{len(message.content)} letters"
    await cl.Message(content=f"Answer {asked}: **{message.content}**").send()
