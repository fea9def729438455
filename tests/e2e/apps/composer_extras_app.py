"""Commands and modes in the composer; each answer says what the message carried."""

import lightchat as cl


@cl.on_chat_start
async def start():
    await cl.context.emitter.set_commands(
        [
            {"id": "Picture", "icon": "🖼", "description": "Draw it", "button": True},
            {"id": "Search", "description": "Look it up", "persistent": True},
            {"id": "Summarize", "description": "Make it short"},
        ]
    )
    await cl.context.emitter.set_modes(
        [
            cl.Mode(
                id="model",
                name="Model",
                options=[
                    cl.ModeOption(id="small", name="Small"),
                    cl.ModeOption(id="large", name="Large", default=True),
                ],
            )
        ]
    )
    await cl.Message(content="Ready").send()


@cl.on_message
async def main(message: cl.Message):
    model = message.modes.get("model")
    text = f"text={message.content} command={message.command} model={model}"
    await cl.Message(content=text).send()
