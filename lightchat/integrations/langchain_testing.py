"""A scripted LangChain chat model, for an app's tests and for running offline.

``ScriptedChatModel`` is to LangChain what ``lightchat.testing.FakeModel`` is to a plain
app: it answers from a script, streams its answer a word at a time, and calls tools
(which langchain-core's own fake chat models drop when they stream). Nothing goes over
the network::

    from langchain_core.messages import AIMessage, ToolCall
    from lightchat.integrations.langchain_testing import ScriptedChatModel

    call = ToolCall(name="get_weather", args={"city": "Paris"}, id="1")
    model = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[call]), "It is sunny in Paris."]
    ).bind_tools([get_weather])
"""

# ruff: noqa: E402 - LangChain is imported once ``require`` has named its extra

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from lightchat.integrations import require

require("langchain_core", "langchain")

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr, SkipValidation

Reply = str | AIMessage | Callable[[list[BaseMessage]], "str | AIMessage"]
"""One scripted answer: text, a message (with tool calls), or a function of the prompt."""

_WORD = re.compile(r"\s*\S+|\s+")


class ScriptedChatModel(BaseChatModel):
    """A chat model that gives its scripted replies in turn (the last one repeats).

    A reply is a string, an ``AIMessage`` (its ``tool_calls`` are kept, streamed or not),
    or a function of the messages it is given that returns one. Streaming yields the text
    word by word (``delay`` seconds apart), then the tool calls in one last chunk, with
    token counts (words) as ``usage_metadata``. ``bind_tools`` works: the tools reach each
    call's settings, as with a real provider. ``prompts`` keeps the messages of each call.
    """

    replies: SkipValidation[list[Reply]]  # a function is not a message: no validation
    model_name: str = "scripted-model"
    delay: float = 0.0
    _prompts: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}  # in each call's settings, as a provider's

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        """The messages the model was given, one list per call."""
        return self._prompts

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The model with ``tools`` (in OpenAI's shape) passed to every call."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        index = min(len(self._prompts), len(self.replies) - 1)
        self._prompts.append(list(messages))
        reply = self.replies[index]
        answer = reply(messages) if callable(reply) else reply
        message = AIMessage(content=answer) if isinstance(answer, str) else answer
        return message.model_copy(update={"usage_metadata": _usage(messages, message)})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in _chunks(self._next(messages)):
            if self.delay:
                time.sleep(self.delay)
            if run_manager is not None:
                run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in _chunks(self._next(messages)):
            if self.delay:
                await asyncio.sleep(self.delay)
            if run_manager is not None:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _usage(messages: list[BaseMessage], answer: AIMessage) -> UsageMetadata:
    asked = sum(len(_words(m.text)) for m in messages)
    said = len(_words(answer.text)) + len(answer.tool_calls)
    return UsageMetadata(input_tokens=asked, output_tokens=said, total_tokens=asked + said)


def _chunks(message: AIMessage) -> Iterator[ChatGenerationChunk]:
    """The message as a stream: its words, then its tool calls and token counts."""
    for word in _words(message.text):
        yield ChatGenerationChunk(message=AIMessageChunk(content=word, id=message.id))
    calls = [
        {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
        for i, c in enumerate(message.tool_calls)
    ]
    last = AIMessageChunk(
        content="",
        id=message.id,
        tool_call_chunks=calls,  # type: ignore[arg-type]
        usage_metadata=message.usage_metadata,
        chunk_position="last",
    )
    yield ChatGenerationChunk(message=last)
