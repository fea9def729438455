"""Chainlit's ``LlamaIndexCallbackHandler``: what LlamaIndex's callback manager reports,
as nested steps.

The callback manager reports no tokens: a relay on LlamaIndex's instrumentation dispatcher
streams each LLM call's tokens into the step this handler opened for it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from llama_index.core.callbacks import CBEventType, EventPayload, TokenCountingHandler
from llama_index.core.callbacks.base import global_stack_trace
from llama_index.core.callbacks.token_counting import get_llm_token_counts
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatInProgressEvent,
    LLMCompletionInProgressEvent,
)
from llama_index.core.instrumentation.span import active_span_id
from llama_index.core.tools.types import ToolMetadata
from llama_index.core.utilities.token_counting import TokenCounter
from llama_index_instrumentation import get_dispatcher
from pydantic import PrivateAttr

from lightchat.api.step import Step
from lightchat.domain.events import StepType
from lightchat.integrations.llama_index.steps import (
    Call,
    Opened,
    answered,
    contained,
    end_step,
    open_step,
    query_text,
    record_call,
    show_answer,
    show_embeddings,
    show_sources,
    stream_into,
)

DEFAULT_IGNORE = [
    CBEventType.CHUNKING,
    CBEventType.SYNTHESIZE,
    CBEventType.EMBEDDING,
    CBEventType.NODE_PARSING,
    CBEventType.TREE,
]
"""The events ``LlamaIndexCallbackHandler`` leaves out unless told otherwise, as in
Chainlit: pass ``event_starts_to_ignore=[]`` and ``event_ends_to_ignore=[]`` to see the
embeddings and syntheses too."""


_EVENT_STEPS: dict[CBEventType, StepType] = {
    CBEventType.QUERY: "run",
    CBEventType.RETRIEVE: "retrieval",
    CBEventType.FUNCTION_CALL: "tool",
    CBEventType.LLM: "llm",
    CBEventType.EMBEDDING: "embedding",
    CBEventType.SYNTHESIZE: "undefined",
    CBEventType.RERANKING: "rerank",
    CBEventType.SUB_QUESTION: "undefined",
    CBEventType.AGENT_STEP: "run",
}
"""The callback manager's events shown as steps, by the step's type: the types
``instrument()`` gives the same work (Chainlit makes queries and retrievals ``tool``
steps)."""

_ASKED = (CBEventType.QUERY, CBEventType.RETRIEVE, CBEventType.SYNTHESIZE)
_ANSWERED = (
    CBEventType.QUERY,
    CBEventType.SYNTHESIZE,
    CBEventType.SUB_QUESTION,
    CBEventType.AGENT_STEP,
)


class LlamaIndexCallbackHandler(TokenCountingHandler):
    """Show what LlamaIndex's callback manager reports as nested steps (Chainlit's handler).

    Queries, retrievals (each node a ``cl.Text`` element of the step, with its score),
    LLM calls (tokens streamed into the step, ``step.generation`` recorded) and function
    calls show; embeddings and syntheses too when they are not ignored (they are by
    default, as in Chainlit). It counts tokens as LlamaIndex's ``TokenCountingHandler``
    does, which it is::

        Settings.callback_manager = CallbackManager([cl.LlamaIndexCallbackHandler()])

    ``steps`` holds the steps still open, by LlamaIndex's event id (each step's id).
    """

    def __init__(
        self,
        event_starts_to_ignore: Sequence[CBEventType] | None = None,
        event_ends_to_ignore: Sequence[CBEventType] | None = None,
    ) -> None:
        super().__init__(
            event_starts_to_ignore=list(
                DEFAULT_IGNORE if event_starts_to_ignore is None else event_starts_to_ignore
            ),
            event_ends_to_ignore=list(
                DEFAULT_IGNORE if event_ends_to_ignore is None else event_ends_to_ignore
            ),
        )
        self.steps: dict[str, Step] = {}
        self._open: dict[str, Opened] = {}
        _RELAY.install()

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        """Open the event's step, under its parent event's step (or the app's current
        step)."""
        super().on_event_start(event_type, payload, event_id, parent_id, **kwargs)
        with contained("on_event_start"):
            self._start(event_type, payload or {}, event_id, parent_id)
        return event_id

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        """Show the event's result in its step and end it (failed, for an exception)."""
        super().on_event_end(event_type, payload, event_id, **kwargs)
        with contained("on_event_end"):
            self._end(event_type, payload or {}, event_id)

    def _start(
        self, event_type: CBEventType, payload: dict[str, Any], event_id: str, parent_id: str
    ) -> None:
        type_ = _EVENT_STEPS.get(event_type)
        if type_ is None:
            return
        name = event_type.value
        shown: Any = None
        call: Call | None = None
        if event_type == CBEventType.FUNCTION_CALL:
            tool = payload.get(EventPayload.TOOL)
            name = tool.name if isinstance(tool, ToolMetadata) and tool.name else name
            shown = payload.get(EventPayload.FUNCTION_CALL)
        elif event_type in _ASKED or event_type == CBEventType.RERANKING:
            shown = query_text(payload.get(EventPayload.QUERY_STR))
        elif event_type == CBEventType.LLM:
            model, settings = (
                payload.get(EventPayload.SERIALIZED),
                payload.get(EventPayload.ADDITIONAL_KWARGS),
            )
            if EventPayload.MESSAGES in payload:
                call = Call.chat(payload[EventPayload.MESSAGES] or [], model, settings)
            else:
                call = Call.completion(payload.get(EventPayload.PROMPT, ""), model, settings)
            shown = call.shown
        opened = open_step(event_type.value, name, type_, self._parent(parent_id), shown, event_id)
        if opened is None:
            return
        opened.call = call
        self._open[event_id] = opened
        self.steps[event_id] = opened.step
        if call is not None:
            _RELAY.watch(active_span_id.get(), opened)

    def _parent(self, parent_id: str) -> Opened | None:
        """The step of the nearest event up the call that has one: the parent event's, or
        else (the parent is ignored) that of an event further up the callback manager's
        stack of open events."""
        if parent_id in self._open:
            return self._open[parent_id]
        for event_id in reversed(global_stack_trace.get()):
            if event_id in self._open:
                return self._open[event_id]
        return None

    def _end(self, event_type: CBEventType, payload: dict[str, Any], event_id: str) -> None:
        opened = self._open.pop(event_id, None)
        self.steps.pop(event_id, None)
        if opened is None:
            return
        _RELAY.forget(opened)
        error = payload.get(EventPayload.EXCEPTION)
        if isinstance(error, BaseException):
            end_step(opened, error)
            return
        step = opened.step
        if event_type == CBEventType.FUNCTION_CALL:
            output = payload.get(EventPayload.FUNCTION_OUTPUT)
            if output is not None:
                step.output = str(output)
        elif event_type in _ANSWERED and EventPayload.RESPONSE in payload:
            show_answer(opened, payload[EventPayload.RESPONSE])
        elif event_type in (CBEventType.RETRIEVE, CBEventType.RERANKING):
            nodes = payload.get(EventPayload.NODES)
            if isinstance(nodes, list):
                show_sources(opened, nodes)
        elif event_type == CBEventType.EMBEDDING and EventPayload.CHUNKS in payload:
            show_embeddings(
                opened, payload[EventPayload.CHUNKS], payload.get(EventPayload.EMBEDDINGS) or []
            )
        elif event_type == CBEventType.LLM and payload:
            self._answered(opened, payload, event_id)
        end_step(opened)

    def _answered(self, opened: Opened, payload: dict[str, Any], event_id: str) -> None:
        """An LLM call's answer in its step, and its record in ``step.generation``."""
        response = payload.get(EventPayload.RESPONSE, payload.get(EventPayload.COMPLETION))
        answered(opened, response)
        counted = next((c for c in reversed(self.llm_token_counts) if c.event_id == event_id), None)
        if counted is None:  # LLM ends ignored: count them here
            counted = get_llm_token_counts(TokenCounter(self.tokenizer), payload, event_id)
        counts = (counted.prompt_token_count, counted.completion_token_count)
        opened.step.generation = record_call(opened, response, counts)


class _TokenRelay(BaseEventHandler):
    """Streams LLM tokens into the steps ``LlamaIndexCallbackHandler`` opened.

    The callback manager reports no tokens; LlamaIndex's instrumentation does, with the
    span of the LLM call, which is the span current when the handler's LLM event started.
    One relay serves every handler: it is added to the dispatcher once.
    """

    _watched: dict[str, Opened] = PrivateAttr(default_factory=dict)
    _installed: bool = PrivateAttr(default=False)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's name for this handler."""
        return "LightchatTokenRelay"

    def install(self) -> None:
        """Add the relay to LlamaIndex's root dispatcher, once."""
        with self._lock:
            if not self._installed:
                get_dispatcher().add_event_handler(self)
                self._installed = True

    def watch(self, span_id: str | None, opened: Opened) -> None:
        """Stream the tokens of the LLM call in ``span_id`` into ``opened``."""
        if span_id is not None:
            with self._lock:
                self._watched[span_id] = opened

    def forget(self, opened: Opened) -> None:
        """Stop streaming into ``opened`` (its call ended)."""
        with self._lock:
            for span_id in [key for key, value in self._watched.items() if value is opened]:
                del self._watched[span_id]

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Pass an LLM call's next token to its step."""
        if isinstance(event, LLMChatInProgressEvent | LLMCompletionInProgressEvent):
            opened = self._watched.get(event.span_id or "")
            if opened is not None:
                with contained("a streamed token"):
                    stream_into(opened, event.response.delta or "")


_RELAY = _TokenRelay()
