"""Testing a chat app with plain pytest: a chat client run in process, scripted models, and a
pytest plugin.

- ``ChatClient`` (and ``SyncChatClient`` for plain ``def`` tests) runs the app's chat in the
  test's process, with the session code the server runs, and returns what each input made
  the app do (``Reply``); ``transcript`` is the whole chat as text.
- ``FakeModel`` is a scripted stand-in for a language model: replies, token streams, tool
  calls, errors and delays; ``ScriptedOpenAI`` answers the ``openai`` client from such a
  script, in process, so an app built on it is tested without a key.
- The ``chat`` fixture of the pytest plugin that comes with lightchat gives a test a
  client of the app named by ``lightchat_app`` (ini option) or
  ``@pytest.mark.lightchat_app("app.py")``; a failing test shows the chat's transcript.

Example::

    from lightchat.testing import ChatClient, FakeModel

    async def test_the_app_answers():
        async with ChatClient("app.py") as chat:
            await chat.start()
            reply = await chat.send("Hi")
            assert reply.content == "Hello!"

Importing this module loads only the scripted model; the client and ``ScriptedOpenAI``
(and the ``openai`` library) are loaded when first named.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lightchat.testing.fake_model import (
    FakeModel,
    ModelError,
    ModelReply,
    Scripted,
    ToolCall,
    tokenize,
)

if TYPE_CHECKING:  # loaded on first use (see __getattr__)
    from lightchat.integrations.openai_testing import ScriptedOpenAI
    from lightchat.testing.client import (
        ChatClient,
        ChatClientError,
        ChatTimeoutError,
        FileSpec,
        SyncChatClient,
    )
    from lightchat.testing.views import (
        ActionView,
        CallbackError,
        ElementView,
        MessageView,
        Reply,
        StepView,
        transcript_text,
    )

__all__ = [
    "ActionView",
    "CallbackError",
    "ChatClient",
    "ChatClientError",
    "ChatTimeoutError",
    "ElementView",
    "FakeModel",
    "FileSpec",
    "MessageView",
    "ModelError",
    "ModelReply",
    "Reply",
    "Scripted",
    "ScriptedOpenAI",
    "StepView",
    "SyncChatClient",
    "ToolCall",
    "tokenize",
    "transcript_text",
]

_LAZY = {
    "ChatClient": "lightchat.testing.client",
    "ChatClientError": "lightchat.testing.client",
    "ChatTimeoutError": "lightchat.testing.client",
    "FileSpec": "lightchat.testing.client",
    "SyncChatClient": "lightchat.testing.client",
    "ActionView": "lightchat.testing.views",
    "CallbackError": "lightchat.testing.views",
    "ElementView": "lightchat.testing.views",
    "MessageView": "lightchat.testing.views",
    "Reply": "lightchat.testing.views",
    "StepView": "lightchat.testing.views",
    "transcript_text": "lightchat.testing.views",
    "ScriptedOpenAI": "lightchat.integrations.openai_testing",
}
"""The names loaded on first use, by their module: an app that imports ``tokenize`` from
here loads neither the client (and the CLI under it) nor ``openai``."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lightchat.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
