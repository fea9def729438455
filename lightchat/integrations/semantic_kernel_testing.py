"""A scripted Semantic Kernel chat completion service, for an app's tests and for running
offline.

``ScriptedChatCompletion`` answers from a script as a real chat completion service would:
with text (streamed word by word when the kernel streams), or by calling the kernel's
functions, which Semantic Kernel then invokes (auto function calling). Nothing goes over
the network::

    from lightchat.integrations.semantic_kernel_testing import ScriptedChatCompletion

    chat = ScriptedChatCompletion(
        replies=[[("weather-get_weather", {"city": "Paris"})], "It is sunny in Paris."]
    )
    kernel.add_service(chat)
"""

# ruff: noqa: E402 - Semantic Kernel is imported once ``require`` has named its extra

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Callable
from typing import Any

from lightchat.integrations import require

require("semantic_kernel", "semantic-kernel")

from pydantic import Field, SkipValidation
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import (
    AuthorRole,
    ChatHistory,
    ChatMessageContent,
    FunctionCallContent,
    StreamingChatMessageContent,
)

FunctionCalls = list[tuple[str, dict[str, Any]]]
"""Calls of the kernel's functions: each a fully qualified name (``plugin-function``) and
its arguments."""

Reply = str | FunctionCalls | BaseException | Callable[[ChatHistory], "str | FunctionCalls"]
"""One scripted answer: text, function calls, an error to raise (as a failing service
would), or a function of the chat history that returns text or calls."""

_WORD = re.compile(r"\s*\S+|\s+")


class ScriptedChatCompletion(ChatCompletionClientBase):
    """A chat completion service that gives its scripted replies in turn (the last one
    repeats), and calls the kernel's functions when a reply says so.

    Streamed, a text reply comes a word at a time (``delay`` seconds apart); function calls
    come in one chunk. A text reply reports its token counts (words) as a real service's
    ``usage`` metadata. ``histories`` keeps each chat history the service was given, as
    the kernel gave it (with the functions' results, or their errors).
    """

    SUPPORTS_FUNCTION_CALLING = True
    replies: SkipValidation[list[Reply]] = Field(default_factory=list)
    delay: float = 0.0
    histories: list[list[dict[str, Any]]] = Field(default_factory=list)
    ai_model_id: str = "scripted-model"
    calls: int = 0

    def _reply(self, history: ChatHistory) -> str | FunctionCalls:
        self.histories.append([message.to_dict() for message in history.messages])
        if not self.replies:
            raise RuntimeError("ScriptedChatCompletion has no replies: give it some.")
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        if isinstance(reply, BaseException):
            raise reply
        return reply(history) if callable(reply) else reply

    def _function_calls(self, calls: FunctionCalls) -> list[FunctionCallContent]:
        return [
            FunctionCallContent(
                id=f"call-{self.calls}-{i}", name=name, arguments=json.dumps(args), index=i
            )
            for i, (name, args) in enumerate(calls)
        ]

    async def _inner_get_chat_message_contents(
        self, chat_history: ChatHistory, settings: PromptExecutionSettings
    ) -> list[ChatMessageContent]:
        reply = self._reply(chat_history)
        if isinstance(reply, str):
            usage = CompletionUsage(
                prompt_tokens=sum(len(str(m).split()) for m in chat_history.messages),
                completion_tokens=len(reply.split()),
            )
            message = ChatMessageContent(
                role=AuthorRole.ASSISTANT,
                content=reply,
                ai_model_id=self.ai_model_id,
                metadata={"usage": usage},
            )
            return [message]
        items: list[Any] = self._function_calls(reply)
        return [ChatMessageContent(role=AuthorRole.ASSISTANT, items=items)]

    async def _inner_get_streaming_chat_message_contents(
        self,
        chat_history: ChatHistory,
        settings: PromptExecutionSettings,
        function_invoke_attempt: int = 0,
    ) -> AsyncGenerator[list[StreamingChatMessageContent], Any]:
        reply = self._reply(chat_history)
        if not isinstance(reply, str):
            items: list[Any] = self._function_calls(reply)
            yield [
                StreamingChatMessageContent(role=AuthorRole.ASSISTANT, choice_index=0, items=items)
            ]
            return
        for word in _WORD.findall(reply):
            await asyncio.sleep(self.delay)
            yield [
                StreamingChatMessageContent(
                    role=AuthorRole.ASSISTANT,
                    content=word,
                    choice_index=0,
                    ai_model_id=self.ai_model_id,
                )
            ]
