"""OpenTelemetry: a chat's runs and steps exported as traces, over OTLP/HTTP.

With ``Settings.otel_endpoint`` the app makes one ``Telemetry`` and shows it every event
its chats publish (``observe``, from the same path as the history). Each run of a chat's
callbacks (from "running" to idle) is the root span of a trace; each step is a span in
it, under the step it is nested in, with the step's own start and end times. A failed
step, and a run that showed an error message, get an error status.

An ``llm`` step with a generation follows the OpenTelemetry GenAI semantic conventions
for an inference span: named ``{gen_ai.operation.name} {gen_ai.request.model}`` (``chat
gpt-4o``), of kind ``CLIENT``, with ``gen_ai.operation.name``, ``gen_ai.provider.name``
(and the older ``gen_ai.system``), ``gen_ai.request.model`` and its settings
(``gen_ai.request.temperature``...), ``gen_ai.usage.input_tokens``/``output_tokens`` and
``gen_ai.response.time_to_first_chunk``. A ``tool`` step is an ``execute_tool`` span. What
was read and written (the messages as ``gen_ai.input.messages``, ``gen_ai.output.messages``
and ``gen_ai.tool.definitions``, a step's input and output) goes in only with
``Settings.otel_capture_content``, as the conventions advise; the messages follow their
JSON schema and are recorded as JSON strings, which every SDK version and backend takes.

This module is the only one of lightchat that imports OpenTelemetry (the ``otel`` extra);
the app imports it only when the setting is set, so without it nothing is imported.

Concurrency: ``observe`` runs on the event loop in the session's publish path. It only
starts, changes and ends spans in memory; the SDK's batch processor sends them from its
own thread, a batch every few seconds. ``aclose`` (at shutdown, after the chats ended)
ends what is still open and flushes the last batch, in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context

from lightchat.domain.events import Entry, MessageEvent, RunEvent, StepData, StepEvent
from lightchat.domain.generation import content_text, tool_calls

__all__ = ["MAX_CHATS", "MAX_CONTENT_CHARS", "RUN_SPAN", "Telemetry", "traces_url"]

logger = logging.getLogger("lightchat")

RUN_SPAN = "chat run"
"""The name of a run's span, the root of its trace."""

MAX_CHATS = 10_000
"""How many chats' open spans are kept; past that the oldest chat's are ended (a chat
that closed in the middle of a run never says it is idle)."""

MAX_CONTENT_CHARS = 32_000
"""The longest text put in a span (a step's input or output), cut beyond."""

_OPERATIONS = {"CHAT": "chat", "COMPLETION": "text_completion"}

# Literal AI's provider names that the GenAI conventions spell otherwise.
_PROVIDERS = {"mistralai": "mistral_ai", "azure": "azure.ai.openai", "bedrock": "aws.bedrock"}

# A generation's settings that the conventions name, and the type they take.
_SETTINGS: dict[str, tuple[str, type]] = {
    "temperature": ("gen_ai.request.temperature", float),
    "top_p": ("gen_ai.request.top_p", float),
    "top_k": ("gen_ai.request.top_k", float),
    "max_tokens": ("gen_ai.request.max_tokens", int),
    "max_completion_tokens": ("gen_ai.request.max_tokens", int),
    "max_output_tokens": ("gen_ai.request.max_tokens", int),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", float),
    "presence_penalty": ("gen_ai.request.presence_penalty", float),
    "seed": ("gen_ai.request.seed", int),
    "n": ("gen_ai.request.choice.count", int),
    "stream": ("gen_ai.request.stream", bool),
}


def traces_url(endpoint: str) -> str:
    """Where OTLP/HTTP traces go for ``otel_endpoint``: a collector's address gets
    ``/v1/traces``, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` does; a full traces URL stays.

    >>> traces_url("http://localhost:4318/")
    'http://localhost:4318/v1/traces'
    >>> traces_url("https://otel.example.com/v1/traces")
    'https://otel.example.com/v1/traces'
    """
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CONTENT_CHARS else text[:MAX_CONTENT_CHARS] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass
class _Chat:
    """The spans of one chat: its run's, and its steps' until the run ends."""

    run: Span | None = None
    steps: dict[str, Span] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    failed: str | None = None
    """The error message the run showed, if any."""


class Telemetry:
    """Exports chats' runs and steps as OpenTelemetry spans (see the module docstring).

    ``endpoint``: the collector's address or traces URL (``traces_url``); the exporter
    also reads the standard ``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout,
    certificates). ``service_name``: the ``service.name`` of the spans, unless
    ``OTEL_SERVICE_NAME`` gives one. ``capture_content``: put inputs, outputs and
    messages in the spans.
    """

    def __init__(self, endpoint: str, *, service_name: str, capture_content: bool) -> None:
        resource = Resource.create()
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": service_name}))
        self._provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint)))
        )
        self._tracer = self._provider.get_tracer("lightchat")
        self.capture_content = capture_content
        self._chats: OrderedDict[str, _Chat] = OrderedDict()

    async def aclose(self) -> None:
        """End the spans still open (runs cut short by the shutdown) and send every span
        not sent yet, then stop exporting. Blocking work (the last export) goes to a
        thread; the exporter's own timeout bounds it."""
        now = time.time()
        while self._chats:
            _, chat = self._chats.popitem(last=False)
            self._end_all(chat, now)
        await asyncio.to_thread(self._provider.shutdown)

    async def flush(self) -> bool:
        """Send the spans ended so far now, not at the next batch (True once sent)."""
        return await asyncio.to_thread(self._provider.force_flush)

    # -- events -------------------------------------------------------------------------

    def observe(self, chat_id: str, entry: Entry) -> None:
        """Note an event of the chat ``chat_id`` (its thread id): a run starts or ends, a
        step starts, changes or ends, an error message shows."""
        event = entry.event
        try:
            if isinstance(event, RunEvent):
                self._run(chat_id, event.running)
            elif isinstance(event, StepEvent):
                self._step(chat_id, event.step)
            elif isinstance(event, MessageEvent) and event.message.type == "error":
                chat = self._chats.get(chat_id)
                if chat is not None and chat.run is not None:
                    chat.failed = event.message.content
        # Telemetry must never break a chat: a span that cannot be made is logged and left.
        except Exception:
            logger.exception("OpenTelemetry: an event of chat %s was not exported", chat_id)

    def _chat(self, chat_id: str) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat()
            if len(self._chats) > MAX_CHATS:
                _, oldest = self._chats.popitem(last=False)
                self._end_all(oldest, time.time())
        else:
            self._chats.move_to_end(chat_id)
        return chat

    def _run(self, chat_id: str, running: bool) -> None:
        if running:
            chat = self._chat(chat_id)
            if chat.run is None:
                attributes = {"gen_ai.conversation.id": chat_id, "lightchat.chat.id": chat_id}
                # An empty context: the run is a root, whatever span the code that
                # started it (a request) may be in.
                chat.run = self._tracer.start_span(RUN_SPAN, Context(), attributes=attributes)
            return
        if chat_id in self._chats:
            self._end_all(self._chats.pop(chat_id), time.time())

    def _end_all(self, chat: _Chat, now: float) -> None:
        """End a chat's open spans: its steps still running (their run ended without
        them), then its run."""
        for step_id, span in chat.steps.items():
            if step_id not in chat.ended:
                span.set_attribute("lightchat.step.status", "running")
                span.end(_ns(now))
        if chat.run is not None:
            if chat.failed is not None:
                chat.run.set_status(Status(StatusCode.ERROR, chat.failed[:1000]))
                chat.run.set_attribute("error.type", "_OTHER")
            chat.run.end(_ns(now))

    def _step(self, chat_id: str, step: StepData) -> None:
        chat = self._chat(chat_id)
        if step.id in chat.ended:
            return  # changed after it ended: its span is sent already
        span = chat.steps.get(step.id)
        if span is None:
            parent = chat.steps.get(step.parent_id or "") or chat.run
            context = Context() if parent is None else set_span_in_context(parent, Context())
            span = self._tracer.start_span(
                self._name(step),
                context,
                kind=SpanKind.CLIENT if step.type == "llm" else SpanKind.INTERNAL,
                attributes=self._step_attributes(chat_id, step),
                start_time=_ns(step.started_at),
            )
            chat.steps[step.id] = span
        if step.status != "running":
            self._finish(span, step)
            chat.ended.add(step.id)

    # -- attributes ---------------------------------------------------------------------

    def _name(self, step: StepData) -> str:
        generation = step.generation
        if step.type == "llm" and generation is not None:
            operation = _OPERATIONS.get(str(generation.get("type")), "chat")
            model = generation.get("model")
            return f"{operation} {model}" if isinstance(model, str) and model else operation
        if step.type == "tool":
            return f"execute_tool {step.name}"
        return step.name

    def _step_attributes(self, chat_id: str, step: StepData) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.conversation.id": chat_id,
            "lightchat.step.id": step.id,
            "lightchat.step.type": step.type,
            "lightchat.step.name": step.name,
        }
        if step.type == "tool":
            attributes["gen_ai.operation.name"] = "execute_tool"
            attributes["gen_ai.tool.name"] = step.name
        return attributes

    def _finish(self, span: Span, step: StepData) -> None:
        """Give an ended step's span what it says now, and end it at the step's end."""
        span.update_name(self._name(step))
        span.set_attribute("lightchat.step.status", step.status)
        if step.interrupted:
            span.set_attribute("lightchat.step.interrupted", True)
        if self.capture_content:
            if step.type == "tool":
                span.set_attribute("gen_ai.tool.call.arguments", _cut(step.input))
                span.set_attribute("gen_ai.tool.call.result", _cut(step.output))
            else:
                span.set_attribute("lightchat.step.input", _cut(step.input))
                span.set_attribute("lightchat.step.output", _cut(step.output))
        error = None
        if step.type == "llm" and step.generation is not None:
            span.set_attributes(self._generation_attributes(step.generation))
            if isinstance(step.generation.get("error"), str):
                error = step.generation["error"]
        if step.status == "failed":
            error = step.output or error or "failed"
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error[:1000]))
            span.set_attribute("error.type", "_OTHER")
        span.end(_ns(step.ended_at if step.ended_at is not None else time.time()))

    def _generation_attributes(self, generation: dict[str, Any]) -> dict[str, Any]:
        """The GenAI attributes of an inference span, from a step's generation."""
        kind = str(generation.get("type"))
        attributes: dict[str, Any] = {"gen_ai.operation.name": _OPERATIONS.get(kind, "chat")}
        provider = generation.get("provider")
        if isinstance(provider, str) and provider:
            name = _PROVIDERS.get(provider.lower(), provider.lower())
            attributes["gen_ai.provider.name"] = name
            attributes["gen_ai.system"] = name
        if isinstance(generation.get("model"), str):
            attributes["gen_ai.request.model"] = generation["model"]
        settings = generation.get("settings")
        for key, value in settings.items() if isinstance(settings, dict) else []:
            known = _SETTINGS.get(key)
            if known is not None and isinstance(value, int | float):
                attributes[known[0]] = known[1](value)
            elif key in ("stop", "stop_sequences") and isinstance(value, str | list):
                stops = [value] if isinstance(value, str) else [str(s) for s in value]
                attributes["gen_ai.request.stop_sequences"] = stops
        for key, name in (
            ("inputTokenCount", "gen_ai.usage.input_tokens"),
            ("outputTokenCount", "gen_ai.usage.output_tokens"),
        ):
            value = generation.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                attributes[name] = value
        first = generation.get("ttFirstToken")
        if isinstance(first, int | float) and not isinstance(first, bool):
            attributes["gen_ai.response.time_to_first_chunk"] = first / 1000  # ms to s
        if self.capture_content:
            attributes.update(_content_attributes(generation))
        return attributes


# -- messages as the GenAI conventions' JSON schemas have them ---------------------------


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's parts: its text (a tool's answer for role ``tool``) and its tool calls."""
    parts: list[dict[str, Any]] = []
    text = content_text(message.get("content"))
    if message.get("role") in ("tool", "function"):
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": text}
        )
    elif text:
        parts.append({"type": "text", "content": text})
    for call in tool_calls(message):
        parts.append(
            {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}
        )
    return parts


def _message(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    made: dict[str, Any] = {
        "role": "tool" if role == "function" else str(role or "user"),
        "parts": _parts(message),
    }
    if isinstance(message.get("name"), str):
        made["name"] = message["name"]
    return made


def _finish_reason(generation: dict[str, Any], answer: dict[str, Any] | None) -> str:
    metadata = generation.get("metadata")
    given = metadata.get("finish_reason") if isinstance(metadata, dict) else None
    if isinstance(given, str):
        return given
    if generation.get("error"):
        return "error"
    return "tool_call" if answer is not None and tool_calls(answer) else "stop"


def _content_attributes(generation: dict[str, Any]) -> dict[str, Any]:
    """``gen_ai.input.messages``, ``gen_ai.output.messages`` and
    ``gen_ai.tool.definitions``, as JSON strings."""
    attributes: dict[str, Any] = {}
    if generation.get("type") == "COMPLETION":
        prompt, completion = generation.get("prompt"), generation.get("completion")
        inputs = [{"role": "user", "parts": [{"type": "text", "content": str(prompt or "")}]}]
        answer = {"role": "assistant", "content": completion} if completion else None
    else:
        messages = generation.get("messages")
        inputs = (
            [_message(m) for m in messages if isinstance(m, dict)]
            if isinstance(messages, list)
            else []
        )
        found = generation.get("messageCompletion")
        answer = found if isinstance(found, dict) else None
    if inputs:
        attributes["gen_ai.input.messages"] = _json(inputs)
    if answer is not None:
        output = {**_message(answer), "finish_reason": _finish_reason(generation, answer)}
        attributes["gen_ai.output.messages"] = _json([output])
    tools = generation.get("tools")
    if isinstance(tools, list) and tools:
        attributes["gen_ai.tool.definitions"] = _json(tools)
    return attributes
