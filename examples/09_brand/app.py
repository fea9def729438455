"""Look and brand: a theme, a logo for each theme, a favicon, an avatar and the app's own
CSS and JS, all from files beside the app (see lightchat.toml and public/).

Run it with ``lightchat serve examples/09_brand/app.py`` and use the header's button to
switch between the light and the dark theme.
"""

from __future__ import annotations

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Welcome to **Harbour**. Ask me anything.").send()


@cl.on_message
async def answer(message: cl.Message) -> None:
    await cl.Message(content=f"You said: {message.content}").send()
