"""LangChain and LangGraph in the chat: Chainlit's ``cl.LangchainCallbackHandler`` (and
``cl.AsyncLangchainCallbackHandler``, the same class, as in Chainlit).

Pass a handler in a run's callbacks, and the run's work shows in the chat as nested steps:
chains, runnables and LangGraph nodes, LLM and chat-model calls (their tokens streaming
into the step, their record in ``step.generation``), tools and retrievers. Each LangChain
run becomes the step whose id is the run's id, under the step of its parent run::

    cb = cl.LangchainCallbackHandler()
    async for chunk in chain.astream(question, config=RunnableConfig(callbacks=[cb])):
        await answer.stream_token(chunk)

The steps Chainlit hides stay hidden: runs named like an entry of ``to_ignore`` (and the
runs LangChain marks hidden, tag ``langsmith:hidden``), with the runs under them, except
those whose type is in ``to_keep``, which show under the nearest shown ancestor.

Concurrency: the handler is a LangChain async handler. In async code LangChain awaits it
on the chat's loop; in sync code (a chain run through ``cl.make_async``, a LangGraph node
in LangGraph's threads) LangChain runs each of its calls to the end in a loop of the
calling thread, and what it shows reaches the chat's loop in order (steps and messages
publish through ``dispatch``): nothing here waits on the chat's loop, so a sync chain run
on the loop's own thread cannot deadlock. The handler's state is a few dicts keyed by run
id, each run's entries written by the thread that runs it.
"""

# ruff: noqa: E402 - LangChain is imported once ``require`` has named its extra

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lightchat.integrations import require

require("langchain_core", "langchain")

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.outputs import LLMResult

from lightchat.api.context import context
from lightchat.api.message import Message
from lightchat.api.step import Step
from lightchat.domain.events import StepType
from lightchat.errors import NoSessionError
from lightchat.integrations.langchain_values import (
    LLMCall,
    answer_shown,
    generation_of,
    plain,
    prompt_variables,
    token_text,
)

DEFAULT_ANSWER_PREFIX_TOKENS = ["Final", "Answer", ":"]
"""The words after which an agent's final answer starts (``stream_final_answer``)."""

DEFAULT_TO_IGNORE = [
    "RunnableSequence",
    "RunnableParallel",
    "RunnableAssign",
    "RunnableLambda",
    "<lambda>",
]
"""Runs whose name contains one of these are not shown (nor what runs under them)."""

DEFAULT_TO_KEEP = ["retriever", "llm", "agent", "chain", "tool"]
"""Run types shown even under a run that is not."""

HIDDEN_TAG = "langsmith:hidden"
"""The tag LangChain and LangGraph put on their internal runs; such runs are not shown."""

_RECENT_CHARS = 400


@dataclass
class _Run:
    """A LangChain run as the handler sees it: where its children's steps go."""

    hidden: bool
    anchor: str | None
    """The step a child of this run goes under: its own, or (hidden) its parent's."""
    step: Step | None = None
    inputs: Any = None


class LangchainCallbackHandler(AsyncCallbackHandler):
    """Shows a LangChain or LangGraph run in the chat as steps (Chainlit's handler).

    Works for async runs (``ainvoke``, ``astream``, ``graph.astream``) and sync ones
    (``invoke`` or ``stream`` through ``cl.make_async``). With ``stream_final_answer``,
    the LLM's tokens after ``answer_prefix_tokens`` (``Final Answer:`` by default; at once
    with ``force_stream_final_answer``) also stream into a message, ``final_stream``,
    which the app may update when the run ends. ``to_ignore`` and ``to_keep`` choose the
    runs shown (see the module's docstring).
    """

    def __init__(
        self,
        answer_prefix_tokens: list[str] | None = None,
        stream_final_answer: bool = False,
        force_stream_final_answer: bool = False,
        to_ignore: list[str] | None = None,
        to_keep: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.answer_prefix_tokens = list(
            DEFAULT_ANSWER_PREFIX_TOKENS if answer_prefix_tokens is None else answer_prefix_tokens
        )
        self.stream_final_answer = stream_final_answer
        self.answer_reached = force_stream_final_answer
        self.final_stream: Message | None = None
        """The message the final answer streams into, once it has begun."""
        self.has_streamed_final_answer = False
        self._prefix = answer_prefix_pattern(self.answer_prefix_tokens)
        self._recent = ""
        """The latest text the LLMs wrote, where the answer prefix is looked for."""
        self.to_ignore = list(DEFAULT_TO_IGNORE if to_ignore is None else to_ignore)
        self.to_keep = list(DEFAULT_TO_KEEP if to_keep is None else to_keep)
        self.steps: dict[str, Step] = {}
        """The steps shown, by LangChain run id."""
        current = context.current_step
        self.root_parent_id = current.id if current is not None else None
        """The step a run without a parent goes under, when no step is open where it runs."""
        self._runs: dict[str, _Run] = {}
        self._calls: dict[str, LLMCall] = {}

    # -- which runs show, and where -------------------------------------------------------

    async def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        kind: str,
        tags: list[str] | None,
        shown_input: Any = None,
    ) -> _Run:
        """Record a run that starts; show its step unless it is hidden."""
        parent = self._runs.get(str(parent_run_id)) if parent_run_id else None
        by_name = any(word in name for word in self.to_ignore) or HIDDEN_TAG in (tags or [])
        by_parent = parent is not None and parent.hidden
        hidden = by_name or (by_parent and kind not in self.to_keep)
        anchor = parent.anchor if parent is not None else self._root_anchor()
        run = _Run(hidden=hidden, anchor=anchor)
        self._runs[str(run_id)] = run
        if hidden or not _in_a_chat():
            return run
        step = Step(
            name=name,
            type=_step_type(kind, is_root=parent is None),
            id=run_id.hex,
            parent_id=anchor,
            tags=list(tags or []),
        )
        if shown_input is not None:
            step.input = shown_input
        run.step = step
        run.anchor = step.id
        self.steps[str(run_id)] = step
        await step.send()
        return run

    def _root_anchor(self) -> str | None:
        current = context.current_step
        return current.id if current is not None else self.root_parent_id

    async def _end(self, run_id: UUID, output: Any = None, *, has_output: bool = True) -> None:
        """A run ended: its step shows its output, done."""
        run = self._runs.pop(str(run_id), None)
        if run is None or run.step is None:
            return
        if has_output:
            run.step.output = output
        run.step.end = time.time()
        await run.step.update()

    async def _fail(self, run_id: UUID, error: BaseException) -> None:
        """A run failed: its step shows the error (after what it streamed), failed."""
        self._calls.pop(str(run_id), None)
        run = self._runs.pop(str(run_id), None)
        if run is None or run.step is None:
            return
        step = run.step
        step.is_error = True
        if isinstance(error, Exception):  # a cancelled run (Stop) keeps its output as is
            message = str(error) or type(error).__name__
            step.output = f"{step.output}\n\n{message}" if step.output else message
        step.end = time.time()
        await step.update()

    # -- chains, runnables, LangGraph nodes -----------------------------------------------

    async def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chain, a runnable or a graph node starts: a step with its inputs."""
        # A streamed run learns its inputs at its end (a placeholder stands in until then).
        deferred = bool(kwargs.get("defers_inputs")) or inputs == {"input": ""}
        kind = str(kwargs.get("run_type") or "chain")
        name = _run_name(serialized, kwargs)
        shown = None if deferred else plain(inputs)
        run = await self._start(run_id, parent_run_id, name, kind, tags, shown)
        if not deferred:
            run.inputs = inputs
            parent = self._runs.get(str(parent_run_id))
            if kind == "prompt" and parent is not None and parent.inputs is None:
                parent.inputs = inputs  # a streamed sequence learns its inputs at its end

    async def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chain ended: its outputs (and, when they came late, its inputs)."""
        run = self._runs.get(str(run_id))
        inputs = kwargs.get("inputs")
        if run is not None and run.step is not None and inputs is not None and not run.step.input:
            run.step.input = plain(inputs)
        await self._end(run_id, plain(outputs))

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chain failed: its step failed."""
        await self._fail(run_id, error)

    # -- tools and retrievers -------------------------------------------------------------

    async def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool is called: a tool step with its arguments."""
        name = _run_name(serialized, kwargs)
        shown = plain(inputs) if inputs is not None else input_str
        await self._start(run_id, parent_run_id, name, "tool", tags, shown)

    async def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool answered: its step shows the answer."""
        shown = output.content if isinstance(output, ToolMessage) else output
        await self._end(run_id, plain(shown))

    async def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool raised: its step failed (the chain decides what happens next)."""
        await self._fail(run_id, error)

    async def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A retriever is asked: a retrieval step with the query."""
        name = _run_name(serialized, kwargs)
        await self._start(run_id, parent_run_id, name, "retriever", tags, query)

    async def on_retriever_end(
        self,
        documents: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A retriever answered: its step shows the documents."""
        await self._end(run_id, plain(documents))

    async def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A retriever raised: its step failed."""
        await self._fail(run_id, error)

    # -- LLM and chat-model calls ---------------------------------------------------------

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chat model is called: an llm step with the messages it is given."""
        prompt = messages[0] if messages else []
        call = self._new_call(serialized, parent_run_id, metadata, kwargs)
        call.messages = list(prompt)
        self._calls[str(run_id)] = call
        name = _run_name(serialized, kwargs)
        await self._start(run_id, parent_run_id, name, "llm", tags, plain(prompt))

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A text-completion LLM is called: an llm step with its prompt."""
        call = self._new_call(serialized, parent_run_id, metadata, kwargs)
        call.prompt = prompts[0] if prompts else ""
        self._calls[str(run_id)] = call
        name = _run_name(serialized, kwargs)
        await self._start(run_id, parent_run_id, name, "llm", tags, call.prompt)

    def _new_call(
        self,
        serialized: dict[str, Any] | None,
        parent_run_id: UUID | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> LLMCall:
        parent = self._runs.get(str(parent_run_id)) if parent_run_id else None
        return LLMCall(
            started=time.time(),
            params=dict(kwargs.get("invocation_params") or {}),
            serialized=dict(serialized or {}),
            metadata=dict(metadata or {}),
            variables=prompt_variables(parent.inputs if parent is not None else None),
        )

    async def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A token: into the call's step, and into the final answer once it has begun."""
        call = self._calls.get(str(run_id))
        if call is not None:
            call.chunks += 1
            if call.first_token is None:
                call.first_token = time.time()
        text = token_text(token)
        if not text:
            return
        run = self._runs.get(str(run_id))
        if run is not None and run.step is not None:
            await run.step.stream_token(text)
        if self.stream_final_answer:
            await self._final_answer_token(text)

    async def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A call answered: its step shows the answer and carries its generation."""
        call = self._calls.pop(str(run_id), None)
        run = self._runs.get(str(run_id))
        generations = response.generations[0] if response.generations else []
        first = generations[0] if generations else None
        if run is not None and run.step is not None and first is not None and call is not None:
            run.step.generation = generation_of(call, first, response)
            run.step.output = answer_shown(first)
        await self._end(run_id, has_output=False)
        await self._finish_final_stream()

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """A call failed: its step keeps what streamed and shows the error; the final
        answer keeps what streamed too."""
        await self._fail(run_id, error)
        await self._finish_final_stream()

    # -- the final answer ------------------------------------------------------------------

    async def _final_answer_token(self, text: str) -> None:
        """Stream ``text`` into the final answer once the answer prefix has been written
        (the text after the prefix, when the prefix ends inside this token)."""
        if not self.answer_reached:
            self._recent = (self._recent + text)[-_RECENT_CHARS:]
            found = self._prefix.search(self._recent)
            if found is None:
                return
            self.answer_reached = True
            text = self._recent[found.end() :]
            self._recent = ""
        if not self.has_streamed_final_answer:
            text = text.lstrip()  # the answer starts at its first word
        if not text:
            return
        if self.final_stream is None:
            self.final_stream = Message(content="")
        await self.final_stream.stream_token(text)
        self.has_streamed_final_answer = True

    async def _finish_final_stream(self) -> None:
        """The final answer, streamed so far, shows as finished (a later call may go on)."""
        if self.final_stream is not None and self.has_streamed_final_answer:
            await self.final_stream.update()


AsyncLangchainCallbackHandler = LangchainCallbackHandler
"""Chainlit's other name for the handler: the same class, for sync and async runs."""


def answer_prefix_pattern(prefix: list[str]) -> re.Pattern[str]:
    """What marks the start of the final answer: the prefix's tokens in order, with or
    without spaces between them, however the model splits them into tokens."""
    words = [re.escape(word.strip()) for word in prefix if word.strip()]
    return re.compile(r"\s*".join(words))


# -- runs and steps ---------------------------------------------------------------------------


def _run_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any]) -> str:
    """A run's name as LangChain gives it: its ``name``, else its class's."""
    if kwargs.get("name"):
        return str(kwargs["name"])
    serialized = serialized or {}
    if serialized.get("name"):
        return str(serialized["name"])
    ids = serialized.get("id") or []
    return str(ids[-1]) if ids else "Run"


def _step_type(kind: str, *, is_root: bool) -> StepType:
    """The step type of a LangChain run type, as Chainlit chooses it (a retriever is a
    ``retrieval`` step here: lightchat has that type)."""
    if kind == "llm":
        return "llm"
    if kind == "tool":
        return "tool"
    if kind == "retriever":
        return "retrieval"
    if kind == "embedding":
        return "embedding"
    if kind == "agent" or is_root:
        return "run"
    return "undefined"


def _in_a_chat() -> bool:
    """True inside a chat's callback (outside one, e.g. in a script, nothing shows)."""
    try:
        context.session  # noqa: B018 (reading it raises outside a chat)
    except NoSessionError:
        return False
    return True
