"""An LLM call as the integrations record it: Chainlit's ``ChatGeneration``,
``CompletionGeneration`` and ``GenerationMessage`` (which Chainlit takes from Literal AI).

A step of type ``llm`` may carry one as ``step.generation``: the provider and model, the
settings, the prompt (messages or text), the answer, the tools and the token counts.
Plain data, with ``to_dict``/``from_dict`` in Literal AI's camel-case shape.

A step carries its generation to the chat, the history and the exporters as the dict
``generation_dict`` makes: ``to_dict``'s shape, JSON-safe and at most
``MAX_GENERATION_BYTES``.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, TypedDict


class GenerationMessage(TypedDict, total=False):
    """One message of a chat prompt or answer: ``role`` and ``content`` at least."""

    uuid: str
    templated: bool
    name: str
    role: Literal["user", "assistant", "tool", "function", "system"]
    content: str | list[dict[str, Any]] | None
    tool_calls: list[dict[str, Any]]
    tool_call_id: str


_CAMEL = {
    "prompt_id": "promptId",
    "token_count": "tokenCount",
    "input_token_count": "inputTokenCount",
    "output_token_count": "outputTokenCount",
    "tt_first_token": "ttFirstToken",
    "token_throughput": "tokenThroughputInSeconds",
    "message_completion": "messageCompletion",
}


@dataclass(kw_only=True)
class BaseGeneration:
    """What every generation has. Durations are in milliseconds for ``tt_first_token``
    (time to the first token) and seconds for ``duration``, as Literal AI counts them."""

    id: str | None = None
    prompt_id: str | None = None
    provider: str | None = None
    model: str | None = None
    error: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
    token_count: int | None = None
    input_token_count: int | None = None
    output_token_count: int | None = None
    tt_first_token: float | None = None
    token_throughput: float | None = None
    duration: float | None = None

    type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The generation as JSON-ready data, with Literal AI's key names."""
        data: dict[str, Any] = {"type": self.type}
        for name, value in vars(self).items():
            data[_CAMEL.get(name, name)] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatGeneration | CompletionGeneration:
        """A generation from ``to_dict``'s shape (its ``type`` picks the class)."""
        kind = ChatGeneration if data.get("type", "CHAT") == "CHAT" else CompletionGeneration
        names = {_CAMEL.get(f.name, f.name): f.name for f in fields(kind)}
        return kind(**{names[key]: value for key, value in data.items() if key in names})


@dataclass(kw_only=True)
class CompletionGeneration(BaseGeneration):
    """A text completion: ``prompt`` in, ``completion`` out."""

    prompt: str | None = None
    completion: str | None = None

    type: ClassVar[str] = "COMPLETION"


@dataclass(kw_only=True)
class ChatGeneration(BaseGeneration):
    """A chat completion: ``messages`` in, ``message_completion`` out."""

    messages: list[GenerationMessage] = field(default_factory=list)
    message_completion: GenerationMessage | None = None

    type: ClassVar[str] = "CHAT"


MAX_GENERATION_BYTES = 64 * 1024
"""The most a step's generation (as JSON) takes in its events and its stored row: as much
as a thread's metadata. A longer one is shortened (``generation_dict``)."""

_MAX_DEPTH = 32
_SHORTEST = 64  # the shortest a long text is cut to before the prompt itself goes


def generation_dict(generation: BaseGeneration | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The generation as a step carries it: ``to_dict()`` (or the dict given, already in
    that shape), made JSON-safe and bounded.

    JSON-safe: keys become strings, tuples lists, what JSON cannot hold (an object, a
    ``NaN``) its text or None, and what nests past 32 levels its text. Bounded: past
    ``MAX_GENERATION_BYTES``, long texts are cut (each ending with "…"), shorter and
    shorter, and as a last resort the messages, prompt, answer and tools are left out;
    a shortened generation says so with ``"truncated": True``.

    >>> generation_dict(ChatGeneration(model="m", settings={"t": float("nan")}))["settings"]
    {'t': None}
    """
    if generation is None:
        return None
    raw = generation.to_dict() if isinstance(generation, BaseGeneration) else dict(generation)
    data: dict[str, Any] = _safe(raw, 0)
    if _size(data) <= MAX_GENERATION_BYTES:
        return data
    limit = max((len(text) for text in _texts(data)), default=0)
    while limit > _SHORTEST:
        limit //= 2
        cut: dict[str, Any] = _cut(data, limit)
        if _size(cut) <= MAX_GENERATION_BYTES:
            return {**cut, "truncated": True}
    bulky = {"messages", "messageCompletion", "prompt", "completion", "tools", "variables"}
    kept = {key: value for key, value in _cut(data, _SHORTEST).items() if key not in bulky}
    if _size(kept) > MAX_GENERATION_BYTES:
        kept = {key: kept[key] for key in ("type", "provider", "model") if key in kept}
    return {**kept, "truncated": True}


def _safe(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, dict):
        return {str(key): _safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item, depth + 1) for item in value]
    return str(value)


def _size(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {key: _cut(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, limit) for item in value]
    return value


# -- reading a generation's messages, whatever library wrote them ------------------------


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call a model asked for in a message: its id, the tool's name, its arguments
    (parsed from JSON when they were given as text that is JSON)."""

    id: str | None
    name: str
    arguments: Any


def content_text(content: Any) -> str:
    """A message's content as text: a string as it is; a list of parts (OpenAI's
    ``[{"type": "text", "text": ...}, {"type": "image_url", ...}]``) as its texts, each
    other part as JSON; anything else as JSON.

    >>> content_text([{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}])
    'Hi\\nthere'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, str):
                texts.append(part)
            else:
                texts.append(json.dumps(part, ensure_ascii=False, default=str))
        return "\n".join(texts)
    return json.dumps(content, ensure_ascii=False, default=str)


def tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
    """The tool calls of a message: OpenAI's ``{"id", "function": {"name", "arguments"}}``
    or the flat ``{"id", "name", "args"}``/``{"name", "arguments"}`` other libraries write.

    >>> tool_calls({"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "[1]"}}]})
    [ToolCall(id='c1', name='f', arguments=[1])]
    """
    found = message.get("tool_calls")
    if not isinstance(found, list):
        return []
    calls: list[ToolCall] = []
    for call in found:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        inner = function if isinstance(function, dict) else call
        name = inner.get("name")
        arguments = inner.get("arguments", inner.get("args"))
        if isinstance(arguments, str):
            with contextlib.suppress(ValueError):  # not JSON: kept as the text it is
                arguments = json.loads(arguments)
        call_id = call.get("id")
        calls.append(
            ToolCall(call_id if isinstance(call_id, str) else None, str(name or "?"), arguments)
        )
    return calls
