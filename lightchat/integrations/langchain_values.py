"""LangChain's values as the chat shows them: a run's inputs and outputs as plain data a
person can read, its messages as a generation's messages, and an LLM call as Chainlit's
``ChatGeneration`` or ``CompletionGeneration`` (``step.generation``).
"""

# ruff: noqa: E402 - LangChain is imported once ``require`` has named its extra

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from lightchat.integrations import require

require("langchain_core", "langchain")

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration as LCChatGeneration
from langchain_core.outputs import LLMResult
from langchain_core.prompt_values import PromptValue
from pydantic import BaseModel

from lightchat.domain.generation import (
    BaseGeneration,
    ChatGeneration,
    CompletionGeneration,
    GenerationMessage,
)

_SECRET_WORDS = ("api_key", "secret", "password")
_ROLES: dict[str, Literal["user", "assistant", "tool", "function", "system"]] = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "function",
}


@dataclass
class LLMCall:
    """An LLM or chat-model call under way: what its generation is made of."""

    started: float
    params: dict[str, Any]
    serialized: dict[str, Any]
    metadata: dict[str, Any]
    messages: list[BaseMessage] | None = None
    prompt: str | None = None
    chunks: int = 0
    first_token: float | None = None
    variables: dict[str, Any] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """A LangChain value as JSON-ready data a person can read: messages as role and
    content, documents as their text and metadata, prompts as their messages."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, BaseMessage):
        return dict(generation_message(value))
    if isinstance(value, PromptValue):
        return plain(value.to_messages())
    if isinstance(value, Document):
        return {"page_content": value.page_content, "metadata": plain(value.metadata)}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if isinstance(value, BaseModel):
        return plain(value.model_dump())
    return str(value)


def token_text(token: str | list[str | dict[str, Any]] | Any) -> str:
    """The text of a streamed token (some models stream lists of content blocks)."""
    if isinstance(token, str):
        return token
    if isinstance(token, list):
        parts = [part if isinstance(part, str) else str(part.get("text") or "") for part in token]
        return "".join(parts)
    return str(token or "")


def generation_message(message: BaseMessage) -> GenerationMessage:
    """A LangChain message as a generation's message (OpenAI's shape for tool calls)."""
    role = _ROLES.get(str(getattr(message, "role", "") or message.type), "assistant")
    shown = GenerationMessage(role=role, content=_content(message.content))
    if message.name:
        shown["name"] = message.name
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        shown["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
            }
            for call in calls
        ]
    if isinstance(message, ToolMessage):
        shown["tool_call_id"] = message.tool_call_id
    return shown


def _content(content: str | list[str | dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            parts.append({"type": "text", "text": part})
        elif part.get("type") not in ("tool_use", "tool_call"):  # those are tool_calls
            parts.append(plain(part))
    return parts


def answer_shown(generation: Any) -> Any:
    """What an LLM step shows as its output: the text, or the tools it called."""
    message = getattr(generation, "message", None)
    if isinstance(message, BaseMessage):
        calls = getattr(message, "tool_calls", None) or []
        if message.text or not calls:
            return str(message.text)
        return [{"name": call["name"], "args": plain(call["args"])} for call in calls]
    return str(getattr(generation, "text", ""))


# -- generations ------------------------------------------------------------------------------


def prompt_variables(inputs: Any) -> dict[str, Any]:
    """The prompt's variables: the plain values a call's parent chain was given."""
    if not isinstance(inputs, dict):
        return {}
    return {
        str(key): str(value)
        for key, value in inputs.items()
        if isinstance(value, str | int | float | bool)
    }


def _settings(call: LLMCall) -> dict[str, Any]:
    """The call's settings: its invocation parameters over the model's own arguments,
    with no key or secret, and without the tools (they have their own field)."""
    merged = {
        **dict(call.serialized.get("kwargs") or {}),
        **dict(call.params.get("model_kwargs") or {}),
        **call.params,
    }
    return {
        key: plain(value)
        for key, value in merged.items()
        if key not in ("_type", "model_kwargs", "tools", "functions")
        and not any(word in key.lower() for word in _SECRET_WORDS)
        and not (isinstance(value, dict) and value.get("type") == "secret")
    }


def _tools(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The tools offered to the model, in OpenAI's shape."""
    if params.get("tools"):
        return [
            tool if tool.get("type") == "function" else {"type": "function", "function": tool}
            for tool in plain(params["tools"])
        ]
    if params.get("functions"):
        return [{"type": "function", "function": f} for f in plain(params["functions"])]
    return None


def _model(call: LLMCall, settings: dict[str, Any]) -> str | None:
    keys = ("azure_deployment", "deployment_name", "model", "model_name")
    model = call.metadata.get("ls_model_name") or next(
        (settings[key] for key in keys if settings.get(key)), None
    )
    return str(model).replace("models/", "") if model else None


def _usage(generation: Any, response: LLMResult, call: LLMCall) -> tuple[int | None, ...]:
    """Input, output and total tokens: as the provider counted them, else the streamed
    chunks (as output)."""
    message = getattr(generation, "message", None)
    usage = getattr(message, "usage_metadata", None)
    if usage:
        return usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]
    counted = (response.llm_output or {}).get("token_usage") or {}
    if counted:
        asked, said = counted.get("prompt_tokens"), counted.get("completion_tokens")
        return asked, said, counted.get("total_tokens")
    streamed = call.chunks or None
    return None, streamed, streamed


def generation_of(call: LLMCall, generation: Any, response: LLMResult) -> BaseGeneration:
    """The record of an LLM call: Chainlit's ``ChatGeneration`` for a chat model,
    ``CompletionGeneration`` for a text LLM."""
    ended = time.time()
    duration = ended - call.started
    settings = _settings(call)
    asked, said, total = _usage(generation, response, call)
    common: dict[str, Any] = {
        "provider": call.metadata.get("ls_provider") or call.params.get("_type"),
        "model": _model(call, settings),
        "settings": settings,
        "variables": call.variables,
        "tools": _tools(call.params),
        "input_token_count": asked,
        "output_token_count": said,
        "token_count": total,
        "duration": duration,
        "tt_first_token": (
            (call.first_token - call.started) * 1000 if call.first_token is not None else None
        ),
        "token_throughput": call.chunks / duration if call.chunks and duration else None,
    }
    if isinstance(generation, LCChatGeneration) and call.messages is not None:
        return ChatGeneration(
            messages=[generation_message(m) for m in call.messages],
            message_completion=generation_message(generation.message),
            **common,
        )
    return CompletionGeneration(prompt=call.prompt, completion=generation.text, **common)
