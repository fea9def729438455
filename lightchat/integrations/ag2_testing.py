"""A scripted model for AG2 (``ag2.Agent``), for an app's tests and for running offline.

``ScriptedConfig`` is an AG2 model configuration whose client answers from a script: with
text, streamed a word at a time as a provider's client streams it, or by calling tools.
Unlike AG2's own ``ag2.testing.TestConfig``, which starts its script again at each turn,
it reads on across an agent's turns, and a reply may be a function of the conversation,
so an app can run on it for as long as it is asked. Nothing goes over the network::

    from lightchat.integrations.ag2_testing import ScriptedConfig

    agent = Agent(
        "assistant",
        config=ScriptedConfig([("get_weather", {"city": "Paris"})], "It is sunny in Paris."),
        tools=[get_weather],
    )
"""

# ruff: noqa: E402 - AG2 is imported once ``require`` has named its extra

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lightchat.integrations import require

require("ag2", "ag2")

from ag2.config import ModelProvider
from ag2.context import ConversationContext
from ag2.events import (
    BaseEvent,
    ModelMessage,
    ModelMessageChunk,
    ModelResponse,
    ToolCallEvent,
    ToolCallsEvent,
    Usage,
)
from ag2.files.protocol import FilesClient

ToolCalls = list[tuple[str, dict[str, Any]]]
"""Calls of the agent's tools: each a tool's name and its arguments."""

Reply = str | ToolCalls | BaseException | Callable[[Sequence[BaseEvent]], "str | ToolCalls"]
"""One scripted answer: text, tool calls, an error to raise (as a failing provider's client
would), or a function of the conversation (AG2's events) that returns text or calls."""

_WORD = re.compile(r"\s*\S+|\s+")


class ScriptedConfig:
    """An AG2 model configuration (``config=`` of an ``Agent``, or of one ``ask``) whose
    client gives its scripted replies in turn (the last one repeats).

    Text streams a word at a time (``delay`` seconds apart) before the answer is complete;
    the answer names ``model`` and counts its tokens (words). ``conversations`` keeps what
    each call was given.
    """

    def __init__(self, *replies: Reply, model: str = "scripted-model", delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.delay = delay
        self.conversations: list[list[BaseEvent]] = []
        self._model = model
        self._calls = 0

    @property
    def provider(self) -> ModelProvider:
        """Not a provider's: AG2 asks for one only to pick provider-specific behaviour."""
        raise NotImplementedError

    @property
    def model(self) -> str:
        """The model's name, as its answers give it."""
        return self._model

    def copy(self) -> ScriptedConfig:
        """The same configuration: its script is read on, whoever holds it."""
        return self

    def create(self) -> ScriptedConfig:
        """The client: this configuration itself, called for each model call."""
        return self

    def create_files_client(self) -> FilesClient[Any]:
        """No files API: a scripted model reads nothing."""
        raise NotImplementedError("ScriptedConfig has no files API.")

    async def __call__(
        self,
        messages: Sequence[BaseEvent],
        context: ConversationContext,
        **options: Any,
    ) -> ModelResponse:
        """One model call: the next reply, its text streamed to the turn as it comes."""
        reply = self._reply(messages)
        asked = sum(len(str(getattr(m, "content", "") or "").split()) for m in messages)
        if not isinstance(reply, str):
            calls = [ToolCallEvent(name=name, arguments=json.dumps(args)) for name, args in reply]
            usage = Usage(
                prompt_tokens=asked, completion_tokens=len(calls), total_tokens=asked + len(calls)
            )
            return ModelResponse(tool_calls=ToolCallsEvent(calls), usage=usage, model=self._model)
        for word in _WORD.findall(reply):
            await asyncio.sleep(self.delay)
            await context.send(ModelMessageChunk(word))
        message = ModelMessage(reply)
        await context.send(message)
        answered = len(reply.split())
        usage = Usage(
            prompt_tokens=asked, completion_tokens=answered, total_tokens=asked + answered
        )
        return ModelResponse(message, usage=usage, model=self._model)

    def _reply(self, messages: Iterable[BaseEvent]) -> str | ToolCalls:
        conversation = list(messages)
        self.conversations.append(conversation)
        if not self.replies:
            raise RuntimeError("ScriptedConfig has no replies: give it some.")
        reply = self.replies[min(self._calls, len(self.replies) - 1)]
        self._calls += 1
        if isinstance(reply, BaseException):
            raise reply
        return reply(conversation) if callable(reply) else reply
