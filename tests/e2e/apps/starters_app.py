"""Starters, one of them in a category, in an empty chat; on_message echoes."""

from __future__ import annotations

import lightchat as cl


@cl.set_starters
async def starters(user: object = None, language: str | None = None) -> list[cl.Starter]:
    return [
        cl.Starter(label="Write a poem", message="Write a poem about the sea."),
        cl.Starter(label="Plan a trip", message="Plan a weekend in Lisbon."),
    ]


@cl.set_starter_categories
async def categories() -> list[cl.StarterCategory]:
    bread = cl.Starter(label="Bake bread", message="How do I bake bread?")
    return [cl.StarterCategory(label="Cooking", starters=[bread])]


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Pick a starter, or type.").send()


@cl.on_message
async def echo(message: cl.Message) -> None:
    await cl.Message(content=f"Echo: {message.content}").send()
