"""lightchat: conversational AI apps in the browser.

Chainlit's API, served the server-rendered way. A minimal app::

    import lightchat as cl

    @cl.on_message
    async def main(message: cl.Message):
        await cl.Message(content=f"You said: {message.content}").send()

Run it with ``lightchat serve app.py``. Importing this package reads and writes nothing.
"""

from __future__ import annotations

from lightchat.__about__ import __version__
from lightchat.api import (
    AskActionMessage,
    AskFileMessage,
    AskFileResponse,
    AskUserMessage,
    ChatContext,
    Context,
    ErrorMessage,
    Message,
    Step,
    UserSession,
    chat_context,
    context,
    make_async,
    run_sync,
    step,
    user_session,
)
from lightchat.app import LightChat
from lightchat.config import Settings
from lightchat.elements import (
    Action,
    Audio,
    Dataframe,
    Element,
    File,
    Image,
    Pdf,
    Plotly,
    Pyplot,
    Task,
    TaskList,
    TaskStatus,
    Text,
    Video,
)
from lightchat.errors import (
    AppLoadError,
    ConfigError,
    LightChatError,
    NoSessionError,
    SessionClosedError,
)

default_app = LightChat()
"""The app the module-level decorators register on; ``lightchat serve`` serves it."""

on_chat_start = default_app.on_chat_start
on_message = default_app.on_message
on_chat_end = default_app.on_chat_end
on_stop = default_app.on_stop
on_chat_resume = default_app.on_chat_resume
action_callback = default_app.action_callback

__all__ = [
    "Action",
    "AppLoadError",
    "AskActionMessage",
    "AskFileMessage",
    "AskFileResponse",
    "AskUserMessage",
    "Audio",
    "ChatContext",
    "ConfigError",
    "Context",
    "Dataframe",
    "Element",
    "ErrorMessage",
    "File",
    "Image",
    "LightChat",
    "LightChatError",
    "Message",
    "NoSessionError",
    "Pdf",
    "Plotly",
    "Pyplot",
    "SessionClosedError",
    "Settings",
    "Step",
    "Task",
    "TaskList",
    "TaskStatus",
    "Text",
    "UserSession",
    "Video",
    "__version__",
    "action_callback",
    "chat_context",
    "context",
    "default_app",
    "make_async",
    "on_chat_end",
    "on_chat_resume",
    "on_chat_start",
    "on_message",
    "on_stop",
    "run_sync",
    "step",
    "user_session",
]
