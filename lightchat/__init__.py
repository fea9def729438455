"""lightchat: conversational AI apps in the browser.

Chainlit's API, served the server-rendered way. A minimal app::

    import lightchat as cl

    @cl.on_message
    async def main(message: cl.Message):
        await cl.Message(content=f"You said: {message.content}").send()

Run it with ``lightchat serve app.py``. Importing this package reads and writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightchat import input_widget
from lightchat.__about__ import __version__
from lightchat.api.cache import cache
from lightchat.api.context import (
    ChatContext,
    Context,
    ElementSidebar,
    Emitter,
    UserSession,
)
from lightchat.api.copilot import CopilotFunction, send_window_message
from lightchat.api.elements import (
    Action,
    Audio,
    CustomElement,
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
from lightchat.api.message import (
    AskActionMessage,
    AskElementMessage,
    AskFileMessage,
    AskFileResponse,
    AskUserMessage,
    ErrorMessage,
    Message,
)
from lightchat.api.starters import ChatProfile, Starter, StarterCategory
from lightchat.api.step import Step
from lightchat.api.sync import make_async, run_sync, sleep
from lightchat.api.widgets import (
    ChatSettings,
    Checkbox,
    DatePicker,
    MultiSelect,
    NumberInput,
    RadioGroup,
    Select,
    Slider,
    Switch,
    Tab,
    Tags,
    TextInput,
)
from lightchat.app import LightChat
from lightchat.chat_context import chat_context
from lightchat.config.settings import Settings
from lightchat.context import context
from lightchat.domain.events import Mode, ModeOption
from lightchat.domain.generation import ChatGeneration, CompletionGeneration, GenerationMessage
from lightchat.domain.mcp import McpConnector
from lightchat.domain.types import InputAudioChunk, OutputAudioChunk
from lightchat.domain.user import PersistedUser, User
from lightchat.errors import (
    AppLoadError,
    ConfigError,
    LightChatError,
    NoSessionError,
    SessionClosedError,
)
from lightchat.step import step
from lightchat.user_session import user_session

if TYPE_CHECKING:  # the integrations' names, for type checkers (at run time: __getattr__)
    from lightchat.integrations.langchain import (
        AsyncLangchainCallbackHandler as AsyncLangchainCallbackHandler,
    )
    from lightchat.integrations.langchain import (
        LangchainCallbackHandler as LangchainCallbackHandler,
    )
    from lightchat.integrations.llama_index import (
        LlamaIndexCallbackHandler as LlamaIndexCallbackHandler,
    )
    from lightchat.integrations.mistralai import instrument_mistralai as instrument_mistralai
    from lightchat.integrations.openai import instrument_openai as instrument_openai

default_app = LightChat()
"""The app the module-level decorators register on; ``lightchat serve`` serves it."""

on_chat_start = default_app.on_chat_start
on_message = default_app.on_message
on_chat_end = default_app.on_chat_end
on_stop = default_app.on_stop
on_chat_resume = default_app.on_chat_resume
data_layer = default_app.data_layer
action_callback = default_app.action_callback
set_starters = default_app.set_starters
set_starter_categories = default_app.set_starter_categories
set_chat_profiles = default_app.set_chat_profiles
on_settings_update = default_app.on_settings_update
on_settings_edit = default_app.on_settings_edit
on_window_message = default_app.on_window_message
password_auth_callback = default_app.password_auth_callback
header_auth_callback = default_app.header_auth_callback
oauth_callback = default_app.oauth_callback
on_logout = default_app.on_logout
author_rename = default_app.author_rename
on_feedback = default_app.on_feedback
on_shared_thread_view = default_app.on_shared_thread_view
on_app_startup = default_app.on_app_startup
on_app_shutdown = default_app.on_app_shutdown
on_mcp_connect = default_app.on_mcp_connect
on_mcp_disconnect = default_app.on_mcp_disconnect
on_audio_start = default_app.on_audio_start
on_audio_chunk = default_app.on_audio_chunk
on_audio_end = default_app.on_audio_end
on_slack_reaction_added = default_app.on_slack_reaction_added


def _mcp_connector(settings: Settings) -> McpConnector:
    """The connector of MCP servers, for an app with ``features.mcp`` on: its module (and
    the ``mcp`` SDK, an extra) is imported only then (see ``LightChat.mcp_connector_factory``)."""
    from lightchat.integrations.mcp import McpConnector as SdkConnector

    return SdkConnector(settings)


LightChat.mcp_connector_factory = _mcp_connector


def __getattr__(name: str) -> object:
    """Names whose libraries are extras, imported only when asked for: ``cl.server`` (the
    FastAPI app of ``lightchat.server``) and the integrations (``cl.LangchainCallbackHandler``,
    ``cl.instrument_openai``..., see ``lightchat.integrations``)."""
    if name == "server":
        import lightchat.server as server

        return server
    from lightchat.integrations import LAZY, load

    if name in LAZY:
        return load(name)
    raise AttributeError(f"module 'lightchat' has no attribute {name!r}")


__all__ = [
    "Action",
    "AppLoadError",
    "AskActionMessage",
    "AskElementMessage",
    "AskFileMessage",
    "AskFileResponse",
    "AskUserMessage",
    "Audio",
    "ChatContext",
    "ChatGeneration",
    "ChatProfile",
    "ChatSettings",
    "Checkbox",
    "CompletionGeneration",
    "ConfigError",
    "Context",
    "CopilotFunction",
    "CustomElement",
    "Dataframe",
    "DatePicker",
    "Element",
    "ElementSidebar",
    "Emitter",
    "ErrorMessage",
    "File",
    "GenerationMessage",
    "Image",
    "InputAudioChunk",
    "LightChat",
    "LightChatError",
    "Message",
    "Mode",
    "ModeOption",
    "MultiSelect",
    "NoSessionError",
    "NumberInput",
    "OutputAudioChunk",
    "Pdf",
    "PersistedUser",
    "Plotly",
    "Pyplot",
    "RadioGroup",
    "Select",
    "SessionClosedError",
    "Settings",
    "Slider",
    "Starter",
    "StarterCategory",
    "Step",
    "Switch",
    "Tab",
    "Tags",
    "Task",
    "TaskList",
    "TaskStatus",
    "Text",
    "TextInput",
    "User",
    "UserSession",
    "Video",
    "__version__",
    "action_callback",
    "author_rename",
    "cache",
    "chat_context",
    "context",
    "data_layer",
    "default_app",
    "header_auth_callback",
    "input_widget",
    "make_async",
    "oauth_callback",
    "on_app_shutdown",
    "on_app_startup",
    "on_audio_chunk",
    "on_audio_end",
    "on_audio_start",
    "on_chat_end",
    "on_chat_resume",
    "on_chat_start",
    "on_feedback",
    "on_logout",
    "on_mcp_connect",
    "on_mcp_disconnect",
    "on_message",
    "on_settings_edit",
    "on_settings_update",
    "on_shared_thread_view",
    "on_slack_reaction_added",
    "on_stop",
    "on_window_message",
    "password_auth_callback",
    "run_sync",
    "send_window_message",
    "set_chat_profiles",
    "set_starter_categories",
    "set_starters",
    "sleep",
    "step",
    "user_session",
]
