"""The app ``lightchat hello`` serves: a first chat to see lightchat work, before writing
one's own (Chainlit's ``chainlit hello``). lightchat never imports this module; the CLI
serves it as an app file.
"""

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    answer = await cl.AskUserMessage(content="Hello! What is your name?", timeout=600).send()
    name = (answer or {}).get("output") or "there"
    await cl.Message(
        content=f"Nice to meet you, **{name}**. Write anything, and I will count its words.",
        actions=[cl.Action(name="tour", payload={}, label="What else can a chat do?")],
    ).send()


@cl.on_message
async def count(message: cl.Message) -> None:
    async with cl.Step(name="count words", type="tool") as step:
        step.input = message.content
        step.output = len(message.content.split())
    await cl.Message(content=f"That was {step.output} words.").send()


@cl.action_callback("tour")
async def tour(action: cl.Action) -> None:
    await cl.Message(
        content="Streamed answers, steps like the one above, buttons, questions back, files "
        "and images, history and sign-in: see the README's examples to build your own."
    ).send()
