"""Steps: what a chat shows of the work behind an answer (a tool call, a retrieval...).

``Step`` (an async or sync context manager) and ``@step`` (a decorator for sync and async
functions) follow Chainlit's names and behaviour; nesting follows the call stack, through
``CURRENT_STEP``.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from lightchat.api.elements import Element
from lightchat.chat.session import ChatSession, current_session, dispatch
from lightchat.domain.events import (
    STEP_TYPES,
    ElementData,
    RemoveEvent,
    StepData,
    StepEvent,
    StepType,
    new_id,
)
from lightchat.domain.generation import BaseGeneration, generation_dict
from lightchat.errors import ConfigError, NoSessionError

P = ParamSpec("P")
R = TypeVar("R")


CURRENT_STEP: ContextVar[Step | None] = ContextVar("lightchat_step", default=None)


def shown_text(value: Any) -> tuple[str, str | None]:
    """A value as shown in a step: strings as they are, anything else as JSON if it can."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str), "json"
    except (TypeError, ValueError):
        return str(value), None


class Step:
    """An intermediate step: a tool call, a retrieval, an LLM call.

    Use it as an async (or plain) context manager; steps opened inside it nest under it::

        async with cl.Step(name="search", type="tool") as step:
            step.input = query
            step.output = await search(query)

    Its ``elements`` show in it, as a message's do. An element whose bytes must be kept
    (``path=``, ``content=`` bytes) shows once the async code sends the step (``async
    with``, ``send()``, ``update()``); one with text or a url shows from sync code too.
    """

    def __init__(
        self,
        name: str | None = None,
        type: StepType = "undefined",
        id: str | None = None,
        parent_id: str | None = None,
        show_input: bool | str = "json",
        language: str | None = None,
        default_open: bool = False,
        elements: list[Any] | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        icon: str | None = None,
        auto_collapse: bool = False,
        thread_id: str | None = None,
    ) -> None:
        if type not in STEP_TYPES:
            raise ConfigError(
                f"Step type {type!r} is not one of {', '.join(sorted(STEP_TYPES))}; pick one."
            )
        self.name = name or "Step"
        self.type: StepType = type
        self.id = id or new_id()
        self.parent_id = parent_id
        self.show_input = show_input
        self.language = language
        self.default_open = default_open
        self.elements = list(elements or [])
        self.metadata = dict(metadata or {})
        self.tags = list(tags or [])
        self.icon = icon
        self.auto_collapse = auto_collapse
        self.thread_id = thread_id
        """Chainlit's: the thread the step belongs to; the chat it runs in decides here."""
        self.generation: BaseGeneration | None = None
        """The LLM call an ``llm`` step made (``cl.ChatGeneration``...), as an app or an
        integration records it (Chainlit's ``step.generation``)."""
        self.is_error = False
        self.start: float | None = None
        self.end: float | None = None
        self._input = ""
        self._output = ""
        self._output_language: str | None = None
        self._session: ChatSession | None = None
        self._token: Any = None

    @property
    def input(self) -> str:
        """What the step was given (a non-string value is shown as JSON)."""
        return self._input

    @input.setter
    def input(self, value: Any) -> None:
        self._input, _ = shown_text(value)

    @property
    def output(self) -> str:
        """What the step produced (a non-string value is shown as JSON)."""
        return self._output

    @output.setter
    def output(self, value: Any) -> None:
        self._output, self._output_language = shown_text(value)

    def _data(self) -> StepData:
        started = self.start or time.time()
        return StepData(
            id=self.id,
            name=self.name,
            type=self.type,
            parent_id=self.parent_id,
            input=self._input,
            output=self._output,
            status="failed" if self.is_error else ("done" if self.end else "running"),
            show_input=self.show_input,
            language=self.language or self._output_language,
            started_at=started,
            ended_at=self.end,
            icon=self.icon,
            default_open=self.default_open,
            auto_collapse=self.auto_collapse,
            generation=generation_dict(self.generation),
            elements=self._shown_elements(),
        )

    def _shown_elements(self) -> list[ElementData]:
        """The step's elements that can be shown now: those with their text or their url,
        or whose file is kept (``_keep_elements``, which the async paths call)."""
        shown: list[ElementData] = []
        for element in self.elements:
            if isinstance(element, Element):
                data = element.data(self.id)
                if data.content is not None or data.key or data.url:
                    shown.append(data)
        return shown

    async def _keep_elements(self) -> None:
        """Keep the files of the step's elements (once each), so that they show."""
        if self._session is not None:
            for element in self.elements:
                if isinstance(element, Element):
                    await element.prepare(self._session)

    def _emit(self) -> None:
        session = self._session
        if session is not None:
            dispatch(session, session.emit, StepEvent(self._data()))

    def _enter(self) -> None:
        try:
            self._session = current_session()
        except NoSessionError:
            self._session = None  # outside a chat (a unit test): run without showing
        if self.parent_id is None:
            parent = CURRENT_STEP.get()
            self.parent_id = parent.id if parent is not None else None
        self._token = CURRENT_STEP.set(self)
        self.start = time.time()
        self._emit()

    def _exit(self, exc: BaseException | None) -> None:
        if self._token is not None:
            try:
                CURRENT_STEP.reset(self._token)
            except ValueError:  # exited in another context (e.g. a generator); harmless
                CURRENT_STEP.set(None)
            self._token = None
        if exc is not None:
            self.is_error = True
            if not self._output:
                self._output = str(exc) or type(exc).__name__
        self.end = time.time()
        self._emit()

    async def __aenter__(self) -> Step:
        self._enter()
        if self.elements:
            await self._keep_elements()
            self._emit()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._keep_elements()
        finally:
            self._exit(exc)

    def __enter__(self) -> Step:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)

    async def send(self) -> Step:
        """Show the step (as it stands) without the context manager."""
        if self._session is None:
            self._session = current_session()
        if self.start is None:
            self.start = time.time()
        await self._keep_elements()
        self._emit()
        return self

    async def update(self) -> bool:
        """Show the step's current input, output, state, generation and elements."""
        await self._keep_elements()
        self._emit()
        return True

    async def remove(self) -> bool:
        """Take the step (and its nested steps) out of the chat."""
        session = self._session or current_session()
        dispatch(session, session.emit, RemoveEvent(self.id))
        return True

    async def stream_token(
        self, token: str, is_sequence: bool = False, is_input: bool = False
    ) -> None:
        """Append ``token`` to the step's output as it is shown (``is_sequence``: replace;
        ``is_input``: to its input instead). An empty token is ignored, as in Chainlit."""
        if not token:
            return
        if is_input:
            self._input = token if is_sequence else self._input + token
            self._emit()
            return
        if is_sequence:
            self._output = token
            self._emit()
            return
        self._output += token
        session = self._session
        if session is not None:
            dispatch(session, session.stream, self.id, token)


def _describe_call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), **kwargs}
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.pop("cls", None)
    return arguments


@overload
def step(original_function: Callable[P, R]) -> Callable[P, R]: ...


@overload
def step(
    original_function: None = None,
    *,
    name: str | None = None,
    type: StepType = "undefined",
    id: str | None = None,
    parent_id: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    language: str | None = None,
    show_input: bool | str = "json",
    default_open: bool = False,
    auto_collapse: bool = False,
    icon: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def step(
    original_function: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    type: StepType = "undefined",
    id: str | None = None,
    parent_id: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    language: str | None = None,
    show_input: bool | str = "json",
    default_open: bool = False,
    auto_collapse: bool = False,
    icon: str | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Show each call of a function as a step, with its arguments and its return value.

    Works on sync and async functions, with or without arguments::

        @cl.step(type="tool")
        async def search(query: str) -> str: ...
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        def make() -> Step:
            return Step(
                name=name or func.__name__,
                type=type,
                id=id,  # as in Chainlit: every call with a fixed id shows as that one step
                parent_id=parent_id,
                tags=tags,
                metadata=metadata,
                language=language,
                show_input=show_input,
                default_open=default_open,
                auto_collapse=auto_collapse,
                icon=icon,
            )

        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[P, Awaitable[Any]], func)

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                current = make()
                current.input = _describe_call(func, args, kwargs)
                async with current:
                    result = await async_func(*args, **kwargs)
                    if result is not None and not current.output:
                        current.output = result
                    return result

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            current = make()
            current.input = _describe_call(func, args, kwargs)
            with current:
                result = func(*args, **kwargs)
                if result is not None and not current.output:
                    current.output = result
                return result

        return sync_wrapper

    if original_function is not None:
        return decorate(original_function)
    return decorate
