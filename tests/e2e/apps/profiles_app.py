"""Two chat profiles; on_chat_start and on_message say which one the chat runs with."""

from __future__ import annotations

import lightchat as cl


@cl.set_chat_profiles
async def profiles() -> list[cl.ChatProfile]:
    tides = cl.Starter(label="Explain tides", message="Explain the tides.")
    return [
        cl.ChatProfile(name="Quick", markdown_description="Short **answers**.", default=True),
        cl.ChatProfile(
            name="Thorough", markdown_description="Long, *careful* answers.", starters=[tides]
        ),
    ]


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content=f"Profile: {cl.user_session.get('chat_profile')}").send()


@cl.on_message
async def echo(message: cl.Message) -> None:
    profile = cl.user_session.get("chat_profile")
    await cl.Message(content=f"{profile} says: {message.content}").send()
