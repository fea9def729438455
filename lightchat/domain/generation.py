"""An LLM call as the integrations record it: Chainlit's ``ChatGeneration``,
``CompletionGeneration`` and ``GenerationMessage`` (which Chainlit takes from Literal AI).

A step of type ``llm`` may carry one as ``step.generation``: the provider and model, the
settings, the prompt (messages or text), the answer, the tools and the token counts.
Plain data, with ``to_dict``/``from_dict`` in Literal AI's camel-case shape.
"""

from __future__ import annotations

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
