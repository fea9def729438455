"""What the LlamaIndex integration's two ways in share: the steps they open, end and
stream into, and how each shows LlamaIndex's values (queries, nodes, messages, answers,
an LLM call's record).

Each step is entered and exited in a context of its own, copied from the call's when it
starts: LlamaIndex may end a step in another task or thread than the one that started
it, and the app's current step must stay as the app left it.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ToolCallBlock,
)
from llama_index.core.base.response.schema import (
    AsyncStreamingResponse,
    PydanticResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.callbacks import EventPayload
from llama_index.core.chat_engine.types import AgentChatResponse, StreamingAgentChatResponse
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.tools.types import ToolMetadata, ToolOutput
from llama_index.core.workflow import StopEvent

from lightchat.api.context import context
from lightchat.api.elements import Text
from lightchat.api.step import Step
from lightchat.chat.session import ChatSession
from lightchat.domain.events import StepType
from lightchat.domain.generation import (
    BaseGeneration,
    ChatGeneration,
    CompletionGeneration,
    GenerationMessage,
)
from lightchat.errors import NoSessionError
from lightchat.ui.i18n import DEFAULT, packaged

logger = logging.getLogger("lightchat.integrations.llama_index")

Role = Literal["user", "assistant", "tool", "function", "system"]
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "function",
}


def run_now(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run one of ``Step``'s coroutine methods to its end, here, from sync code.

    LlamaIndex's handlers are sync and may run on the chat's own loop thread, where nothing
    can be awaited; ``Step.stream_token`` waits for nothing (it publishes through the chat's
    loop), so it ends at its first step.
    """
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("A step's method waited for something; it was expected not to.")


def text_of(value: Any) -> Any:
    """What a step shows of a LlamaIndex result: its text for the types LlamaIndex answers
    with, the value itself otherwise (shown as JSON). A stream is never read here: that
    would take its tokens from the app."""
    if isinstance(value, StopEvent):
        value = value.result
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, StreamingResponse | AsyncStreamingResponse):
        return value.response_txt or ""
    if isinstance(value, StreamingAgentChatResponse):
        return value.response if value.is_done else ""
    if isinstance(value, Response | AgentChatResponse):
        return value.response or ""
    if isinstance(value, PydanticResponse):
        return value.response.model_dump() if value.response is not None else ""
    if isinstance(value, ChatMessage):
        return value.content or ""
    if isinstance(value, ChatResponse):
        return value.message.content or ""
    if isinstance(value, CompletionResponse):
        return value.text
    if isinstance(value, ToolOutput):
        return value.content
    response = getattr(value, "response", None)  # a workflow agent's AgentOutput
    if isinstance(response, ChatMessage):
        return response.content or ""
    return str(value)


def query_text(value: Any) -> str:
    """The text of a query (a string, or a ``QueryBundle``)."""
    if isinstance(value, QueryBundle):
        return value.query_str
    return "" if value is None else str(value)


def message_of(message: ChatMessage) -> GenerationMessage:
    """A LlamaIndex chat message as a generation records it, with its tool calls."""
    role = message.role.value if hasattr(message.role, "value") else str(message.role)
    recorded = GenerationMessage(role=_ROLES.get(role, "user"), content=message.content or "")
    calls = [
        {
            "id": block.tool_call_id or "",
            "type": "function",
            "function": {"name": block.tool_name, "arguments": block.tool_kwargs},
        }
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    if calls:
        recorded["tool_calls"] = calls
    call_id = message.additional_kwargs.get("tool_call_id")
    if isinstance(call_id, str):
        recorded["tool_call_id"] = call_id
    return recorded


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """The settings of a call that are plain values (numbers, text, flags)."""
    return {
        key: value
        for key, value in values.items()
        if isinstance(value, str | int | float | bool) and key != "class_name"
    }


def _tools(values: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The tools a call offered the model, by name and description."""
    offered = values.get("tools")
    if not isinstance(offered, list | tuple):
        return None
    found = []
    for tool in offered:
        metadata = getattr(tool, "metadata", None)
        if isinstance(metadata, ToolMetadata):
            found.append({"name": metadata.name, "description": metadata.description})
    return found or None


def _say(session: ChatSession, key: str, **values: Any) -> str:
    """One of this integration's texts, in the chat's language, its placeholders filled."""
    key = f"llama_index.{key}"
    text = session.say(key)
    if text == key:  # a chat made without the app's translations (a test's): English
        text = packaged()[DEFAULT].get(key, key)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


# -- the steps opened here ------------------------------------------------------------------


@dataclass
class Call:
    """An LLM call as it started: the model, its settings and what it was given."""

    model: dict[str, Any]
    settings: dict[str, Any]
    messages: list[ChatMessage] | None = None
    prompt: str | None = None

    @classmethod
    def chat(cls, messages: Sequence[ChatMessage], model: Any, settings: Any) -> Call:
        """A chat call: messages in."""
        return cls(_dict(model), _dict(settings), messages=list(messages))

    @classmethod
    def completion(cls, prompt: Any, model: Any, settings: Any) -> Call:
        """A completion call: a prompt in."""
        return cls(_dict(model), _dict(settings), prompt=str(prompt))

    @property
    def shown(self) -> Any:
        """What the LLM step shows as its input."""
        if self.messages is not None:
            return [dict(message_of(message)) for message in self.messages]
        return self.prompt or ""

    def payload(self, response: Any) -> dict[str, Any]:
        """The call in the shape of the callback manager's end payload (for counting)."""
        if self.messages is not None:
            return {EventPayload.MESSAGES: self.messages, EventPayload.RESPONSE: response}
        return {EventPayload.PROMPT: self.prompt, EventPayload.COMPLETION: response}


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass(eq=False)
class Opened:
    """A step this integration opened, with what its end needs."""

    step: Step
    session: ChatSession
    context: contextvars.Context
    kind: str
    parent: Opened | None = None
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    call: Call | None = None
    owner: object = None
    """The tool or workflow whose span opened the step."""
    failure: BaseException | None = None
    """The error of a step nested in this one, for an end that says nothing."""


def open_step(
    kind: str,
    name: str,
    type_: StepType,
    parent: Opened | None,
    shown: Any = None,
    step_id: str | None = None,
) -> Opened | None:
    """Open and show a step here, in the chat this code runs for (None outside a chat).

    Its parent is ``parent``'s step, or else the app's current step.
    """
    try:
        session = context.session
    except NoSessionError:
        return None
    step = Step(
        name=name,
        type=type_,
        id=step_id or None,
        parent_id=parent.step.id if parent is not None else None,
    )
    if shown is not None:
        step.input = shown
    entered = contextvars.copy_context()
    entered.run(step.__enter__)
    return Opened(step, session, entered, kind, parent)


def stream_into(opened: Opened, token: str) -> None:
    """Stream a token into the step's output."""
    if not token:
        return
    if opened.first_token is None:
        opened.first_token = time.monotonic()
    run_now(opened.step.stream_token(token))


def end_step(opened: Opened, error: BaseException | None = None) -> None:
    """End the step (failed, with ``error``), in the context it was entered in."""
    if error is None and opened.failure is not None and opened.kind not in ("tool", "agent"):
        error = opened.failure  # a nested step's error went through this one
    if error is not None and opened.parent is not None:
        opened.parent.failure = error
    kind = type(error) if error is not None else None
    opened.context.run(opened.step.__exit__, kind, error, None)


def show_sources(opened: Opened, nodes: Sequence[NodeWithScore], *, elements: bool = True) -> None:
    """Show retrieved (or reranked) nodes: a line that names them with their scores, and
    (``elements``) one ``cl.Text`` each on the step."""
    session = opened.session
    names = [_say(session, "source", number=index + 1) for index in range(len(nodes))]
    listed = [
        name
        if found.score is None
        else _say(session, "scored", source=name, score=f"{found.score:.2f}")
        for name, found in zip(names, nodes, strict=True)
    ]
    if elements:
        opened.step.elements = [
            Text(name=name, content=found.node.get_content(), display="side")
            for name, found in zip(names, nodes, strict=True)
        ]
    opened.step.output = _say(session, "retrieved", sources=", ".join(listed)) if nodes else ""


def answered(opened: Opened, response: Any) -> None:
    """An LLM call's answer as its step shows it: what streamed into the step, or else the
    response's text, or the tools it calls."""
    if opened.first_token is not None:
        return
    calls = [
        {"name": block.tool_name, "arguments": block.tool_kwargs}
        for block in (response.message.blocks if isinstance(response, ChatResponse) else [])
        if isinstance(block, ToolCallBlock)
    ]
    opened.step.output = text_of(response) or calls or ""


def show_answer(opened: Opened, response: Any) -> None:
    """Show a query's (or a synthesis's) answer; while it still streams (to the app), the
    sources it answers from."""
    shown = text_of(response)
    nodes = getattr(response, "source_nodes", None)
    if not shown and isinstance(nodes, list) and nodes:
        show_sources(opened, nodes, elements=False)
    else:
        opened.step.output = shown


def show_embeddings(opened: Opened, chunks: Sequence[str], embeddings: Sequence[Any]) -> None:
    """Show what was embedded, and how many vectors of what size came back."""
    opened.step.input = chunks[0] if len(chunks) == 1 else list(chunks)
    size = len(embeddings[0]) if embeddings else 0
    opened.step.output = {"embeddings": len(embeddings), "dimensions": size}


def record_call(opened: Opened, response: Any, counts: tuple[int, int]) -> BaseGeneration:
    """The record of an LLM call (``step.generation``): the model, what it was given and
    answered (as the step shows it, see ``answered``), the tokens counted, the time to the
    first token and the call's length."""
    call = opened.call or Call({}, {})
    duration = time.monotonic() - opened.started
    first = opened.first_token
    prompt_tokens, completion_tokens = counts
    raw = getattr(response, "raw", None)
    model = getattr(raw, "model", None) or (raw.get("model") if isinstance(raw, dict) else None)
    common: dict[str, Any] = {
        "provider": call.model.get("class_name"),
        "model": model or call.model.get("model_name") or call.model.get("model"),
        "settings": _plain(call.settings),
        "tools": _tools(call.settings),
        "input_token_count": prompt_tokens or None,
        "output_token_count": completion_tokens or None,
        "token_count": (prompt_tokens + completion_tokens) or None,
        "tt_first_token": (first - opened.started) * 1000 if first is not None else None,
        "duration": duration,
        "token_throughput": completion_tokens / duration
        if completion_tokens and duration
        else None,
    }
    answer = opened.step.output
    if call.messages is None:
        return CompletionGeneration(prompt=call.prompt, completion=answer, **common)
    completion = GenerationMessage(role="assistant", content=answer)
    if isinstance(response, ChatResponse):
        completion = message_of(response.message)
        completion["content"] = answer
    return ChatGeneration(
        messages=[message_of(message) for message in call.messages],
        message_completion=completion,
        **common,
    )


@contextmanager
def contained(where: str) -> Iterator[None]:
    """Around each entry point of the handlers: an error of this module is logged, and
    LlamaIndex's call goes on (the chat only misses a step)."""
    try:
        yield
    except Exception:  # a bug here must not break the app's LlamaIndex call
        logger.exception("The LlamaIndex integration failed in %s", where)
