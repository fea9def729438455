"""``instrument()``: what LlamaIndex's instrumentation dispatcher reports, as nested steps.

Current llama-index-core reports everything there, workflow agents (``FunctionAgent``,
``AgentWorkflow``) and their tool calls included, as spans (one per call of an
instrumented method, nested as the calls are) and events (a query started, a retrieval
ended, an LLM's next token...), each event in the span of its call.

Concurrency: one instrumentor serves every chat of the process, from whatever thread
LlamaIndex runs in; its state is a few dicts keyed by span id, under a lock. Each step
belongs to the chat whose context its call runs in.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from llama_index.core.agent.workflow import BaseWorkflowAgent
from llama_index.core.callbacks.token_counting import get_llm_token_counts
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from llama_index.core.instrumentation.events.exception import ExceptionEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.instrumentation.events.query import QueryEndEvent, QueryStartEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.instrumentation.events.retrieval import (
    RetrievalEndEvent,
    RetrievalStartEvent,
)
from llama_index.core.instrumentation.events.synthesis import (
    SynthesizeEndEvent,
    SynthesizeStartEvent,
)
from llama_index.core.instrumentation.span import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.tools.types import BaseTool, ToolOutput
from llama_index.core.utilities.token_counting import TokenCounter
from llama_index.core.workflow import Workflow
from llama_index_instrumentation import get_dispatcher
from pydantic import PrivateAttr

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
    text_of,
)

_STARTS: dict[type[BaseEvent], tuple[str, StepType]] = {
    QueryStartEvent: ("query", "run"),
    RetrievalStartEvent: ("retrieve", "retrieval"),
    EmbeddingStartEvent: ("embedding", "embedding"),
    SynthesizeStartEvent: ("synthesize", "undefined"),
    ReRankStartEvent: ("rerank", "rerank"),
    LLMChatStartEvent: ("llm", "llm"),
    LLMCompletionStartEvent: ("llm", "llm"),
}
"""The events that open a step, with its name (also its kind) and type."""

_ENDS: dict[type[BaseEvent], str] = {
    QueryEndEvent: "query",
    RetrievalEndEvent: "retrieve",
    EmbeddingEndEvent: "embedding",
    SynthesizeEndEvent: "synthesize",
    ReRankEndEvent: "rerank",
    LLMChatEndEvent: "llm",
    LLMCompletionEndEvent: "llm",
}
"""The events that end the step of their kind opened in the same span."""

_SPAN_ID_TAIL = 37
"""A span id is ``<Class>.<method>-<uuid4>``: the uuid and its dash."""


def _method(span_id: str) -> str:
    """The method a span is a call of."""
    return span_id[:-_SPAN_ID_TAIL].rpartition(".")[2]


class _Tracker:
    """The steps LlamaIndex's instrumentation opened, by the span they belong to.

    Events open and end the steps of queries, retrievals, embeddings, syntheses, reranks
    and LLM calls (an LLM step outlives its span while its answer streams); spans open and
    end those of tool calls and workflow (agent) runs. A step's parent is the step of the
    nearest span up the call that has one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parents: dict[str, str | None] = {}
        self._steps: dict[str, list[Opened]] = {}
        self._counter: TokenCounter | None = None

    # -- spans ------------------------------------------------------------------------------

    def entered(self, span_id: str, parent_id: str | None, instance: Any, bound: Any) -> None:
        """A span began: note its parent; a tool call or a workflow run opens a step."""
        with self._lock:
            self._parents[span_id] = parent_id
        method = _method(span_id)
        if isinstance(instance, BaseTool) and method in ("call", "acall", "__call__"):
            parent = self._nearest(span_id)
            if parent is not None and parent.owner is instance:
                return  # the same call, one method down
            name = instance.metadata.name or type(instance).__name__
            self._add(span_id, open_step("tool", name, "tool", parent, _arguments(bound)), instance)
        elif isinstance(instance, Workflow) and method == "run":
            name = (
                instance.name
                if isinstance(instance, BaseWorkflowAgent)
                else type(instance).__name__
            )
            shown = _start_input(bound)
            self._add(
                span_id, open_step("agent", name, "run", self._nearest(span_id), shown), instance
            )

    def exited(self, span_id: str, result: Any) -> None:
        """A span ended: the tool call or run it opened ends with its result."""
        with self._lock:
            self._parents.pop(span_id, None)
        for opened in self._take(span_id, ("tool", "agent")):
            opened.step.output = text_of(result)
            if isinstance(result, ToolOutput) and result.is_error:
                opened.step.is_error = True
            end_step(opened)

    def dropped(self, span_id: str, error: BaseException | None) -> None:
        """A span ended with an error: every step opened in it fails."""
        with self._lock:
            self._parents.pop(span_id, None)
        for opened in self._take(span_id, None):
            opened.step.is_error = True
            end_step(opened, error)

    # -- events -----------------------------------------------------------------------------

    def event(self, event: BaseEvent) -> None:
        """Open, stream into or end the step an event is about."""
        span_id = event.span_id or ""
        kind = _STARTS.get(type(event))
        if kind is not None:
            self._started(span_id, event, *kind)
        elif isinstance(event, LLMChatInProgressEvent | LLMCompletionInProgressEvent):
            opened = self._latest(span_id, "llm")
            if opened is not None:
                stream_into(opened, event.response.delta or "")
        elif type(event) in _ENDS:
            for opened in self._take(span_id, (_ENDS[type(event)],), last=True):
                self._ended(opened, event)
        elif isinstance(event, ExceptionEvent):
            for opened in self._take(span_id, None):
                end_step(opened, event.exception)

    def _started(self, span_id: str, event: BaseEvent, name: str, type_: StepType) -> None:
        call: Call | None = None
        shown: Any = None
        if isinstance(event, LLMChatStartEvent):
            call = Call.chat(event.messages, event.model_dict, event.additional_kwargs)
        elif isinstance(event, LLMCompletionStartEvent):
            call = Call.completion(event.prompt, event.model_dict, event.additional_kwargs)
        elif isinstance(event, QueryStartEvent | SynthesizeStartEvent | ReRankStartEvent):
            shown = query_text(event.query)
        elif isinstance(event, RetrievalStartEvent):
            shown = query_text(event.str_or_query_bundle)
        opened = open_step(name, name, type_, self._nearest(span_id), call.shown if call else shown)
        if opened is not None:
            opened.call = call
            self._add(span_id, opened, None)

    def _ended(self, opened: Opened, event: BaseEvent) -> None:
        if isinstance(event, QueryEndEvent | SynthesizeEndEvent):
            show_answer(opened, event.response)
        elif isinstance(event, RetrievalEndEvent | ReRankEndEvent):
            show_sources(opened, event.nodes)
        elif isinstance(event, EmbeddingEndEvent):
            show_embeddings(opened, event.chunks, event.embeddings)
        elif isinstance(event, LLMChatEndEvent | LLMCompletionEndEvent):
            answered(opened, event.response)
            opened.step.generation = record_call(
                opened, event.response, self._count(opened, event.response)
            )
        end_step(opened)

    def _count(self, opened: Opened, response: Any) -> tuple[int, int]:
        """The tokens of an LLM call: as its provider reports them, else counted here."""
        if opened.call is None:
            return 0, 0
        if self._counter is None:
            self._counter = TokenCounter()
        counted = get_llm_token_counts(self._counter, opened.call.payload(response))
        return counted.prompt_token_count, counted.completion_token_count

    # -- the books --------------------------------------------------------------------------

    def _add(self, span_id: str, opened: Opened | None, owner: object) -> None:
        if opened is None:
            return
        opened.owner = owner
        with self._lock:
            self._steps.setdefault(span_id, []).append(opened)

    def _latest(self, span_id: str, kind: str) -> Opened | None:
        with self._lock:
            return next((o for o in reversed(self._steps.get(span_id, [])) if o.kind == kind), None)

    def _take(
        self, span_id: str, kinds: tuple[str, ...] | None, last: bool = False
    ) -> list[Opened]:
        """Remove and return the steps of ``span_id`` of these kinds (all: None), the last
        one only with ``last``."""
        with self._lock:
            steps = self._steps.get(span_id, [])
            chosen = [o for o in steps if kinds is None or o.kind in kinds]
            if last:
                chosen = chosen[-1:]
            kept = [o for o in steps if o not in chosen]
            if kept:
                self._steps[span_id] = kept
            else:
                self._steps.pop(span_id, None)
        return chosen[::-1]

    def _nearest(self, span_id: str) -> Opened | None:
        """The step of the nearest span up from ``span_id`` (itself included)."""
        with self._lock:
            current: str | None = span_id
            seen = 0
            while current is not None and seen < 1000:
                steps = self._steps.get(current)
                if steps:
                    return steps[-1]
                current = self._parents.get(current)
                seen += 1
        return None


def _arguments(bound: Any) -> Any:
    """What a tool was called with."""
    if not isinstance(bound, inspect.BoundArguments):
        return None
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.pop("ctx", None)
    given: dict[str, Any] = dict(arguments.pop("kwargs", None) or {})
    positional = arguments.pop("args", None)
    if positional:
        given["args"] = list(positional)
    given.update(arguments)
    if len(given) == 1 and "input" in given:
        return given["input"]
    return given


def _start_input(bound: Any) -> Any:
    """What a workflow run was started with: an agent's user message, or the start
    event's fields."""
    if not isinstance(bound, inspect.BoundArguments):
        return None
    start = bound.arguments.get("start_event")
    if start is None:
        return None
    message = start.get("user_msg")
    if message is not None:
        return text_of(message)
    return start.to_dict() or None


class _SpanHandler(BaseSpanHandler[SimpleSpan]):
    """LlamaIndex's span handler for ``_Tracker`` (it keeps no spans of its own)."""

    _tracker: _Tracker = PrivateAttr()

    def __init__(self, tracker: _Tracker) -> None:
        super().__init__()
        self._tracker = tracker

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's name for this handler."""
        return "LightchatSpanHandler"

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        """A span began."""
        with contained("a span's start"):
            self._tracker.entered(id_, parent_span_id, instance, bound_args)
        return None

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        """A span ended."""
        with contained("a span's end"):
            self._tracker.exited(id_, result)
        return None

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        """A span ended with an error."""
        with contained("a failed span"):
            self._tracker.dropped(id_, err)
        return None


class _EventHandler(BaseEventHandler):
    """LlamaIndex's event handler for ``_Tracker``."""

    _tracker: _Tracker = PrivateAttr()

    def __init__(self, tracker: _Tracker) -> None:
        super().__init__()
        self._tracker = tracker

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's name for this handler."""
        return "LightchatEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """An event happened."""
        with contained(type(event).__name__):
            self._tracker.event(event)


class LlamaIndexInstrumentor:
    """Shows what LlamaIndex's instrumentation reports as nested steps: queries, retrievals
    (each node a ``cl.Text`` element of the step, with its score), embeddings, syntheses,
    reranks, LLM calls (tokens streamed into the step, ``step.generation`` recorded), tool
    calls and workflow (agent) runs.

    ``instrument()`` makes the process's one instrumentor and turns it on; ``uninstrument``
    turns it off.
    """

    def __init__(self) -> None:
        tracker = _Tracker()
        self._spans = _SpanHandler(tracker)
        self._events = _EventHandler(tracker)
        self._lock = threading.Lock()

    @property
    def instrumented(self) -> bool:
        """True while LlamaIndex reports to this instrumentor."""
        dispatcher = get_dispatcher()
        return any(handler is self._spans for handler in dispatcher.span_handlers)

    def instrument(self) -> None:
        """Add the handlers to LlamaIndex's root dispatcher (once)."""
        with self._lock:
            if not self.instrumented:
                dispatcher = get_dispatcher()
                dispatcher.add_span_handler(self._spans)
                dispatcher.add_event_handler(self._events)

    def uninstrument(self) -> None:
        """Take the handlers off LlamaIndex's root dispatcher."""
        with self._lock:
            dispatcher = get_dispatcher()
            dispatcher.span_handlers = [h for h in dispatcher.span_handlers if h is not self._spans]
            dispatcher.event_handlers = [
                h for h in dispatcher.event_handlers if h is not self._events
            ]


_INSTRUMENTOR = LlamaIndexInstrumentor()


def instrument() -> LlamaIndexInstrumentor:
    """Show LlamaIndex's work in the chat as steps, through its instrumentation.

    Call it once (calling it again changes nothing), e.g. when the app loads; from then on
    every LlamaIndex call made in a chat shows there as nested steps: queries, retrievals,
    embeddings, syntheses, reranks, LLM calls, and workflow agents' runs and tool calls::

        from lightchat.integrations.llama_index import instrument

        instrument()

    Returns the instrumentor; its ``uninstrument()`` turns it off.
    """
    _INSTRUMENTOR.instrument()
    return _INSTRUMENTOR
