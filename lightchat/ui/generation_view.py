"""A step's generation as its view shows it: what ``_generation.html`` needs, as text.

The generation is the dict a step carries (``StepData.generation``, Literal AI's shape).
Everything here is plain text that the template escapes: a model's messages are never
rendered as markdown in the disclosure, whatever they hold. Labels are translation keys
(``generation.*``), numbers are formatted here, so the template only lays them out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lightchat.domain.generation import content_text, tool_calls


@dataclass(frozen=True, slots=True)
class ShownCall:
    """A tool call as shown: the tool's name and its arguments as text."""

    name: str
    arguments: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ShownMessage:
    """One message of the prompt (or the answer): its role, the name of its author or
    tool, its text and the tool calls it asked for."""

    role: str
    content: str
    name: str = ""
    tool_call_id: str = ""
    calls: list[ShownCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GenerationView:
    """What the "Generation" disclosure of a step shows."""

    facts: list[tuple[str, str]]
    """(translation key, value) pairs: provider, model, token counts, timings."""
    settings: list[tuple[str, str]]
    """The call's settings (temperature...), name and value as text."""
    messages: list[ShownMessage]
    """A chat prompt's messages, in order."""
    prompt: str
    """A completion's prompt text ("" for a chat)."""
    answer: ShownMessage | None
    """A chat's answer message, or a completion's text as an assistant message."""
    tools: list[str]
    """The names of the tools the model was offered."""
    error: str
    truncated: bool


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: Any) -> str | None:
    number = _number(value)
    return None if number is None else f"{number:,.0f}"


def _shown_message(message: Any) -> ShownMessage | None:
    if not isinstance(message, dict):
        return None
    calls = [ShownCall(c.name, _text(c.arguments), c.id) for c in tool_calls(message)]
    name = message.get("name")
    call_id = message.get("tool_call_id")
    return ShownMessage(
        role=str(message.get("role") or "?"),
        content=content_text(message.get("content")),
        name=name if isinstance(name, str) else "",
        tool_call_id=call_id if isinstance(call_id, str) else "",
        calls=calls,
    )


def _facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    for key, label in (("provider", "generation.provider"), ("model", "generation.model")):
        if isinstance(data.get(key), str) and data[key]:
            facts.append((label, data[key]))
    for key, label in (
        ("inputTokenCount", "generation.input_tokens"),
        ("outputTokenCount", "generation.output_tokens"),
        ("tokenCount", "generation.total_tokens"),
    ):
        count = _count(data.get(key))
        if count is not None:
            facts.append((label, count))
    first = _number(data.get("ttFirstToken"))
    if first is not None:
        facts.append(("generation.first_token", f"{first:,.0f} ms"))
    rate = _number(data.get("tokenThroughputInSeconds"))
    if rate is not None:
        facts.append(("generation.throughput", f"{rate:,.1f}"))
    duration = _number(data.get("duration"))
    if duration is not None:
        facts.append(("generation.duration", f"{duration:.2f} s"))
    return facts


def generation_view(data: dict[str, Any]) -> GenerationView:
    """The view of a step's generation (``StepData.generation``), whatever it holds:
    missing or odd fields are left out, never an error."""
    settings = data.get("settings")
    messages = data.get("messages")
    shown = [m for m in map(_shown_message, messages if isinstance(messages, list) else []) if m]
    answer = _shown_message(data.get("messageCompletion"))
    completion = data.get("completion")
    if answer is None and isinstance(completion, str) and completion:
        answer = ShownMessage(role="assistant", content=completion)
    tools = data.get("tools")
    names = [
        str((tool.get("function") or tool).get("name") or "?")
        for tool in (tools if isinstance(tools, list) else [])
        if isinstance(tool, dict) and isinstance(tool.get("function") or tool, dict)
    ]
    prompt = data.get("prompt")
    error = data.get("error")
    return GenerationView(
        facts=_facts(data),
        settings=[
            (str(key), _text(value))
            for key, value in (settings.items() if isinstance(settings, dict) else [])
        ],
        messages=shown,
        prompt=prompt if isinstance(prompt, str) else "",
        answer=answer,
        tools=names,
        error=error if isinstance(error, str) else "",
        truncated=data.get("truncated") is True,
    )
