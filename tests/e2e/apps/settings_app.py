"""Chat settings sent in on_chat_start; on_settings_update echoes the new values as JSON."""

from __future__ import annotations

import json
from typing import Any

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    await cl.ChatSettings(
        [
            cl.Select(id="model", label="Model", values=["small", "large"], initial_index=0),
            cl.Slider(id="temperature", label="Temperature", initial=0.5, min=0, max=1, step=0.1),
            cl.Switch(id="stream", label="Stream", initial=True),
        ]
    ).send()
    await cl.Message(content="Ready.").send()


@cl.on_settings_update
async def update(settings: dict[str, Any]) -> None:
    await cl.Message(content="Settings: " + json.dumps(settings, sort_keys=True)).send()


@cl.on_message
async def echo(message: cl.Message) -> None:
    model = cl.user_session.get("chat_settings")["model"]
    await cl.Message(content=f"{model}: {message.content}").send()
