"""on_chat_start sends ChatSettings only after the user answered a question, so the page
is already open when the "Settings" button arrives."""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    await cl.AskUserMessage(content="Type anything to get settings.", timeout=60).send()
    await cl.ChatSettings([cl.Switch(id="stream", label="Stream", initial=False)]).send()
    await cl.Message(content="Settings are ready.").send()


@cl.on_message
async def echo(message: cl.Message) -> None:
    await cl.Message(content=f"Echo: {message.content}").send()
