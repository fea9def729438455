"""The OpenAI Agents SDK: a run's agents, model calls, tool calls, hand-offs and guardrails
show in the chat as steps, nested as they happen (lightchat's own: Chainlit has none).

``instrument_openai_agents()`` adds a tracing processor to the SDK
(``agents.tracing.add_trace_processor``): the SDK tells it when each span of a run starts
and ends, and each span made inside a chat becomes a step there, shown running as soon as
it starts. The run (the SDK's task span, named after the workflow) holds an agent's step
for each agent that takes a turn; an agent's step holds its model calls (``llm`` steps
with their ``cl.ChatGeneration``: the prompt, the answer, the model, its settings and the
token counts), its tool calls (the arguments and the result), its guardrails and its
hand-offs (``Triage → Spanish``). A span that ends with an error fails its step; what the
run does then is the SDK's affair (a tool's error goes back to the model, a tripped
guardrail raises to the app, whose chat shows the error). Spans made outside a chat, and
runs with tracing off (``RunConfig(tracing_disabled=True)``), show nothing.

The processor is added beside the SDK's own (which exports traces to OpenAI when an
OpenAI key is set); ``agents.set_trace_processors([StepTracingProcessor()])`` keeps only
the steps.

Example::

    cl.instrument_openai_agents()

    @cl.on_message
    async def main(message: cl.Message):
        result = await Runner.run(agent, message.content)
        await cl.Message(content=result.final_output).send()
"""

# ruff: noqa: E402 - the SDK is imported once ``require`` has named its extra

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from lightchat.integrations import require

require("agents", "openai-agents")

from agents.tracing import (
    AgentSpanData,
    CustomSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    MCPListToolsSpanData,
    ResponseSpanData,
    Span,
    TaskSpanData,
    Trace,
    TracingProcessor,
    TurnSpanData,
    add_trace_processor,
)

from lightchat.api.context import context
from lightchat.api.step import Step
from lightchat.domain.events import StepType
from lightchat.domain.generation import ChatGeneration, GenerationMessage
from lightchat.errors import NoSessionError


@dataclass(slots=True)
class _Open:
    """A span under way: its step, or, for a span shown through its children only (a
    turn), the step its children go in."""

    step: Step | None
    parent_id: str | None
    current: bool = False  # the step is the current step of the span's context (a tool's)


class StepTracingProcessor(TracingProcessor):
    """The tracing processor that turns the spans of runs made inside a chat into steps.

    Its methods are called by the SDK, synchronously, where the span starts and ends (the
    run's task, or a tool's thread); a step publishes through its chat's loop, so the order
    holds either way. The spans under way are shared by every instance: a span shows once
    however many of them the SDK was given.
    """

    _open: ClassVar[dict[str, _Open]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def on_trace_start(self, trace: Trace) -> None:
        """Nothing to show: the run's task span is its step."""

    def on_trace_end(self, trace: Trace) -> None:
        """Nothing to show: the run's task span is its step."""

    def on_span_start(self, span: Span[Any]) -> None:
        """Show the span's step, running, in the chat the span starts in (if any)."""
        if not _in_chat():
            return
        with self._lock:
            if span.span_id in self._open:
                return  # another instance (or this one, added twice) shows it
            parent_id = self._step_id(span.parent_id)
            if isinstance(span.span_data, TurnSpanData):
                self._open[span.span_id] = _Open(None, parent_id)
                return
            step = _step_for(span.span_data, parent_id)
            # A tool's step becomes the current step where the tool runs, so the steps the
            # tool opens nest in it; any other step is opened aside (in a copy of the
            # context) so that it never outlives its span as anyone's current step.
            current = isinstance(span.span_data, FunctionSpanData)
            self._open[span.span_id] = _Open(step, parent_id, current)
        if current:
            step.__enter__()
        else:
            contextvars.copy_context().run(step.__enter__)

    def on_span_end(self, span: Span[Any]) -> None:
        """Fill the span's step with what the span recorded, and end it."""
        with self._lock:
            opened = self._open.pop(span.span_id, None)
        if opened is None or opened.step is None:
            return
        step = opened.step
        _fill(step, span.span_data)
        if span.error is not None:
            step.is_error = True
            step.output = "\n\n".join(filter(None, [step.output, _error_text(span.error)]))
        if opened.current:
            step.__exit__(None, None, None)
        else:
            contextvars.copy_context().run(step.__exit__, None, None, None)

    def shutdown(self) -> None:
        """Nothing to release: each step ends with its span."""

    def force_flush(self) -> None:
        """Nothing is queued: each step is shown as its span changes."""

    def _step_id(self, span_id: str | None) -> str | None:
        """The id of the step a span's children go in (None: the current step)."""
        opened = self._open.get(span_id) if span_id is not None else None
        if opened is None:
            return None
        return opened.step.id if opened.step is not None else opened.parent_id


_PROCESSOR = StepTracingProcessor()
_instrumented = False


def instrument_openai_agents() -> None:
    """Show the runs of the OpenAI Agents SDK made inside a chat as steps, from now on
    (once is enough: calling it again changes nothing)."""
    global _instrumented
    if not _instrumented:
        add_trace_processor(_PROCESSOR)
        _instrumented = True


def _in_chat() -> bool:
    try:
        context.session  # noqa: B018 - raises outside a chat
    except NoSessionError:
        return False
    return True


def _step_for(data: Any, parent_id: str | None) -> Step:
    """A new step for a span of this kind (its name as the span knows it when it starts)."""
    name, kind = _name_and_type(data)
    return Step(name=name, type=kind, parent_id=parent_id)


def _name_and_type(data: Any) -> tuple[str, StepType]:
    if isinstance(data, TaskSpanData | AgentSpanData):
        return data.name, "run"
    if isinstance(data, GenerationSpanData):
        return data.model or data.type, "llm"
    if isinstance(data, ResponseSpanData):
        model = data.response.model if data.response is not None else None
        return model or data.type, "llm"
    if isinstance(data, FunctionSpanData):
        return data.name, "tool"
    if isinstance(data, HandoffSpanData):
        return _handoff_name(data), "tool"
    if isinstance(data, GuardrailSpanData | CustomSpanData):
        return data.name, "undefined"
    if isinstance(data, MCPListToolsSpanData):
        return data.server or data.type, "tool"
    return str(data.type), "undefined"


def _handoff_name(data: HandoffSpanData) -> str:
    return f"{data.from_agent or '…'} → {data.to_agent or '…'}"


def _fill(step: Step, data: Any) -> None:
    """Put what a span recorded, now that it ends, into its step."""
    if isinstance(data, GenerationSpanData | ResponseSpanData):
        _fill_generation(step, data)
    elif isinstance(data, FunctionSpanData):
        step.input = _parsed(data.input)
        step.output = data.output if data.output is not None else ""
    elif isinstance(data, HandoffSpanData):
        step.name = _handoff_name(data)
    elif isinstance(data, GuardrailSpanData):
        step.output = {"triggered": data.triggered}
        step.is_error = data.triggered
    elif isinstance(data, CustomSpanData):
        step.output = data.data
    elif isinstance(data, MCPListToolsSpanData):
        step.output = data.result or []


def _error_text(error: Mapping[str, Any]) -> str:
    """A span's error as its step shows it: the SDK's message, and the error's own text
    when the SDK kept it (a tool's exception, say)."""
    data = error.get("data") or {}
    detail = data.get("error") if isinstance(data, Mapping) else None
    message = str(error.get("message") or "")
    return f"{message}: {detail}" if detail else message or "error"


def _parsed(arguments: str | None) -> Any:
    """A tool's arguments (JSON text) as data, shown as JSON; as they are if not JSON."""
    if not arguments:
        return ""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _fill_generation(step: Step, data: GenerationSpanData | ResponseSpanData) -> None:
    """An ``llm`` step's input, output and generation, from a model call's span: a Chat
    Completions model's generation span or a Responses model's response span."""
    generation = _generation(data)
    if generation.model:
        step.name = generation.model
    prompt = generation.messages
    if prompt:
        step.input = prompt[-1].get("content") or ""
    answer = generation.message_completion or {}
    step.output = answer.get("content") or answer.get("tool_calls") or ""
    if step.start is not None:
        generation.duration = time.time() - step.start
    step.generation = generation


def _generation(data: GenerationSpanData | ResponseSpanData) -> ChatGeneration:
    if isinstance(data, GenerationSpanData):
        generation = ChatGeneration(
            model=data.model,
            settings=dict(data.model_config or {}),
            messages=_messages(data.input or []),
            message_completion=_completion(data.output or []),
        )
        usage: Mapping[str, Any] = data.usage or {}
    else:
        response = data.response
        prompt = data.input
        generation = ChatGeneration(
            provider="openai",
            model=response.model if response is not None else None,
            messages=_messages([{"role": "user", "content": prompt}])
            if isinstance(prompt, str)
            else _messages(prompt or []),
            message_completion=_completion(
                [item.model_dump() for item in response.output] if response is not None else []
            ),
        )
        usage = data.usage or (
            response.usage.model_dump() if response is not None and response.usage else {}
        )
    _count_tokens(generation, usage)
    return generation


def _count_tokens(generation: ChatGeneration, usage: Mapping[str, Any]) -> None:
    prompt, answer = usage.get("input_tokens"), usage.get("output_tokens")
    generation.input_token_count = prompt if isinstance(prompt, int) else None
    generation.output_token_count = answer if isinstance(answer, int) else None
    total = usage.get("total_tokens")
    if isinstance(total, int):
        generation.token_count = total
    elif isinstance(prompt, int) and isinstance(answer, int):
        generation.token_count = prompt + answer


_ROLES = {"user", "assistant", "tool", "function", "system"}


def _messages(items: Iterable[Any]) -> list[GenerationMessage]:
    """A model call's prompt as chat messages, from Chat Completions messages or Responses
    input items (a message, a function call, a function call's output)."""
    messages = []
    for item in items:
        message = _message(item) if isinstance(item, Mapping) else None
        if message is not None:
            messages.append(message)
    return messages


def _message(item: Mapping[str, Any]) -> GenerationMessage | None:
    kind = item.get("type")
    if kind == "function_call":
        return {"role": "assistant", "content": None, "tool_calls": [_tool_call(item)]}
    if kind == "function_call_output":
        return {
            "role": "tool",
            "tool_call_id": str(item.get("call_id", "")),
            "content": _text(item.get("output")),
        }
    if "role" not in item or kind not in (None, "message"):
        return None
    role = str(item["role"])
    message: GenerationMessage = {
        "role": role if role in _ROLES else "system",  # type: ignore[typeddict-item]
        "content": _text(item.get("content")),
    }
    if item.get("tool_calls"):
        message["tool_calls"] = list(item["tool_calls"])
    if item.get("tool_call_id"):
        message["tool_call_id"] = str(item["tool_call_id"])
    return message


def _tool_call(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": item.get("call_id"),
        "type": "function",
        "function": {"name": item.get("name"), "arguments": item.get("arguments")},
    }


def _text(content: Any) -> str | None:
    """A message's text: a string as it is, a list of parts as their texts joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, Mapping)]
        return "".join(text for text in texts if isinstance(text, str))
    return str(content)


def _completion(outputs: Iterable[Any]) -> GenerationMessage:
    """A model call's answer as one assistant message: its text and its tool calls, from
    Chat Completions messages, Responses output items or whole responses."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for output in outputs:
        if not isinstance(output, Mapping):
            continue
        if isinstance(output.get("output"), list):  # a whole response
            nested = _completion(output["output"])
            texts.append(str(nested.get("content") or ""))
            calls.extend(nested.get("tool_calls", []))
            continue
        message = _message(output)
        if message is None or message.get("role") != "assistant":
            continue
        texts.append(str(message.get("content") or ""))
        calls.extend(message.get("tool_calls", []))
    answer: GenerationMessage = {"role": "assistant", "content": "".join(texts)}
    if calls:
        answer["tool_calls"] = calls
    return answer
