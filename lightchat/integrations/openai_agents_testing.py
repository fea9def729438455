"""A scripted model for the OpenAI Agents SDK, for an app's tests and for running offline.

``ScriptedModel`` is an ``agents.models.interface.Model`` that answers from a script: with
text, or by calling tools (a hand-off is a tool call too: ``transfer_to_<agent>``). It
records each call in a span as the SDK's own models do: a plain call in a generation span
shaped as a Chat Completions model's, a streamed one in a response span holding a
Responses API response, its text streamed word by word. Nothing goes over the network::

    from lightchat.integrations.openai_agents_testing import ScriptedModel

    agent = Agent(
        name="Assistant",
        tools=[get_weather],
        model=ScriptedModel([("get_weather", {"city": "Paris"})], "It is sunny in Paris."),
    )
"""

# ruff: noqa: E402 - the SDK is imported once ``require`` has named its extra

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from lightchat.integrations import require

require("agents", "openai-agents")

from agents import ModelSettings, TResponseInputItem
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.chatcmpl_converter import Converter
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.tracing import generation_span, response_span
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

ToolCalls = list[tuple[str, dict[str, Any]]]
"""Calls of the agent's tools: each a tool's name and its arguments."""

Reply = str | ToolCalls | BaseException | Callable[[list[TResponseInputItem]], "str | ToolCalls"]
"""One scripted answer: text, tool calls, an error to raise (as a failing API would), or a
function of the conversation so far (the SDK's input items) that returns text or calls."""

_WORD = re.compile(r"\s*\S+|\s+")
_call_ids = itertools.count(1)  # a call id is unique in a run (and beyond), as a real model's


class ScriptedModel(Model):
    """A model that gives its scripted replies in turn (the last one repeats).

    ``name`` is the model's name in its spans (and so in its steps); streamed, the text
    comes a word at a time, ``delay`` seconds apart. Token counts are words. ``inputs``
    keeps the conversation each call was given.
    """

    def __init__(self, *replies: Reply, name: str = "scripted-model", delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.name = name
        self.delay = delay
        self.inputs: list[list[TResponseInputItem]] = []
        self._calls = 0

    def _reply(self, input: str | list[TResponseInputItem]) -> str | ToolCalls:
        items: list[TResponseInputItem] = (
            [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        )
        self.inputs.append(items)
        if not self.replies:
            raise RuntimeError("ScriptedModel has no replies: give it some.")
        reply = self.replies[min(self._calls, len(self.replies) - 1)]
        self._calls += 1
        if isinstance(reply, BaseException):
            raise reply
        return reply(items) if callable(reply) else reply

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Answer at once, recorded as a Chat Completions model records a call."""
        messages = _messages(system_instructions, input)
        settings = {k: v for k, v in model_settings.to_json_dict().items() if v is not None}
        with generation_span(
            model=self.name, model_config=settings, input=messages, disabled=tracing.is_disabled()
        ) as span:
            reply = self._reply(input)
            output = _output(reply)
            asked, answered = _words(messages), _words(reply)
            span.span_data.output = [_chat_message(output)]
            span.span_data.usage = {"input_tokens": asked, "output_tokens": answered}
            usage = Usage(
                requests=1,
                input_tokens=asked,
                output_tokens=answered,
                total_tokens=asked + answered,
            )
            return ModelResponse(output=output, usage=usage, response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Stream the answer, recorded as a Responses API model records a call."""
        with response_span(disabled=tracing.is_disabled()) as span:
            span.span_data.input = input
            reply = self._reply(input)
            if isinstance(reply, str):
                for number, word in enumerate(_WORD.findall(reply)):
                    await asyncio.sleep(self.delay)
                    yield ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        item_id="msg",
                        output_index=0,
                        content_index=0,
                        delta=word,
                        logprobs=[],
                        sequence_number=number,
                    )
            output = _output(reply)
            asked = _words(_messages(system_instructions, input))
            response = _response(self.name, output, asked, _words(reply))
            span.span_data.response = response
            yield ResponseCompletedEvent(
                type="response.completed", response=response, sequence_number=len(reply) + 1
            )


def _messages(
    system_instructions: str | None, input: str | list[TResponseInputItem]
) -> list[dict[str, Any]]:
    """The conversation as Chat Completions messages (what such a model sends)."""
    messages: list[dict[str, Any]] = [dict(m) for m in Converter.items_to_messages(input)]
    if system_instructions:
        messages.insert(0, {"role": "system", "content": system_instructions})
    return messages


def _words(value: Any) -> int:
    """A rough token count: the words of a reply, or of the messages' contents."""
    if isinstance(value, str):
        return len(value.split())
    if value and isinstance(value[0], dict):
        return sum(len(str(message.get("content") or "").split()) for message in value)
    return sum(1 + len(json.dumps(arguments).split()) for _, arguments in value)


def _output(reply: str | ToolCalls) -> list[ResponseOutputItem]:
    if isinstance(reply, str):
        text = ResponseOutputText(type="output_text", text=reply, annotations=[])
        return [
            ResponseOutputMessage(
                id="msg", type="message", role="assistant", status="completed", content=[text]
            )
        ]
    calls: list[ResponseOutputItem] = []
    for name, arguments in reply:
        number = next(_call_ids)
        calls.append(
            ResponseFunctionToolCall(
                type="function_call",
                id=f"fc-{number}",
                call_id=f"call-{number}",
                name=name,
                arguments=json.dumps(arguments),
            )
        )
    return calls


def _chat_message(output: list[ResponseOutputItem]) -> dict[str, Any]:
    """The answer as a Chat Completions message (what such a model records)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in output:
        if isinstance(item, ResponseOutputMessage):
            texts.extend(p.text for p in item.content if isinstance(p, ResponseOutputText))
        elif isinstance(item, ResponseFunctionToolCall):
            function = {"name": item.name, "arguments": item.arguments}
            calls.append({"id": item.call_id, "type": "function", "function": function})
    return {"role": "assistant", "content": "".join(texts) or None, "tool_calls": calls or None}


def _response(model: str, output: list[ResponseOutputItem], asked: int, answered: int) -> Response:
    """The answer as a Responses API response."""
    return Response(
        id=f"resp-{next(_call_ids)}",
        created_at=time.time(),
        model=model,
        object="response",
        output=output,
        parallel_tool_calls=False,
        tool_choice="auto",
        tools=[],
        usage=ResponseUsage(
            input_tokens=asked,
            output_tokens=answered,
            total_tokens=asked + answered,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        ),
    )
