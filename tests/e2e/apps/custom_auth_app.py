"""Custom auth (``CHAINLIT_CUSTOM_AUTH=true``): users come signed in from the site that
embeds the copilot, with an access token its server made; the chat greets them by name,
and a route of the app's own (``lightchat.server.app``) knows them too."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

import lightchat as cl
from lightchat.auth import get_current_user
from lightchat.server import app


@app.get("/api/me")
async def me(user: Annotated[cl.User | None, Depends(get_current_user)]) -> dict[str, Any]:
    return {"identifier": user.identifier if user else None}


@cl.on_chat_start
async def start() -> None:
    user = cl.user_session.get("user")
    await cl.Message(content=f"Hello {user.identifier} ({user.metadata.get('plan')})").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content=f"You said: {message.content}").send()
