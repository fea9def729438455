"""Questions back to the user: a name asked in on_chat_start, then, by what the user
types, a text question ("text"), a choice of buttons ("action") or a file ("file")."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    answer = await cl.AskUserMessage(content="What is your name?", timeout=120).send()
    if answer:
        await cl.Message(content=f"Hello {answer['output']}").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    if message.content == "text":
        answer = await cl.AskUserMessage(content="Your favourite colour?", timeout=120).send()
        await cl.Message(content=f"Colour: {answer['output'] if answer else 'none'}").send()
    elif message.content == "action":
        actions = [
            cl.Action(name="go", payload={"choice": "yes"}, label="Yes"),
            cl.Action(name="go", payload={"choice": "no"}, label="No"),
        ]
        chosen = await cl.AskActionMessage(
            content="Shall we go on?", actions=actions, timeout=120
        ).send()
        await cl.Message(
            content=f"Chosen: {chosen['payload']['choice'] if chosen else 'none'}"
        ).send()
    elif message.content == "file":
        files = await cl.AskFileMessage(
            content="Upload a text file", accept=["text/plain"], max_size_mb=1, timeout=120
        ).send()
        if files:
            got = ", ".join(f"{f.name} ({f.size} bytes)" for f in files)
            await cl.Message(content=f"Got {got}").send()
        else:
            await cl.Message(content="No file came").send()
    else:
        await cl.Message(content=f"Echo: {message.content}").send()
