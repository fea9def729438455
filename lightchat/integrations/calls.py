"""What the OpenAI and Mistral integrations share: one call of a chat model shown as an
``llm`` step while it runs, with its ``cl.ChatGeneration``, and the patching of a client's
methods that makes every call inside a chat such a step.

A call becomes a step nested under the step open where it is made (``cl.context``), named
after the model. The step shows the messages as its input from the start; a streamed
answer's text is streamed into its output as the app reads the stream; at the end it holds
the answer (the text, or the tool calls when there is no text) and its generation: the
provider, the model, the settings, the tools, the answer's message with its tool calls, the
token counts, the duration and the time to the first token. An error fails the step and
goes on to the app as the client raised it; a stream cut short keeps what came.

Concurrency: an async client's call awaits the step's changes in its own task. A sync
client's call runs either in a worker thread (a sync callback, ``cl.make_async``), where
each change waits its turn on the chat's loop (``run_sync``), so the step fills live and
in order; or on the chat's loop thread itself (a blocking call in an async callback),
which the call holds: nothing can be shown before it returns, so the changes are queued on
the loop, in order, to run as soon as it is free, and streamed pieces are not sent one by
one (the step's output gets the whole text at the end).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lightchat.api.context import context
from lightchat.api.step import Step
from lightchat.api.sync import run_sync
from lightchat.domain.generation import ChatGeneration, GenerationMessage
from lightchat.errors import NoSessionError

logger = logging.getLogger("lightchat")

Method = Callable[..., Any]

Role = Literal["user", "assistant", "tool", "function", "system"]
_ROLES: dict[str, Role] = {
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "function",
    "system": "system",
    "developer": "system",  # OpenAI's newer name for the system's instructions
}
_PENDING: set[asyncio.Task[Any]] = set()  # queued step changes (see the module's docstring)


@dataclass
class Answer:
    """What a model answered, as read from a whole result or from a stream."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """OpenAI's shape: ``{"id", "type": "function", "function": {"name", "arguments"}}``."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    model: str | None = None
    error: str | None = None
    """An error the API reported inside a stream, which the client does not raise."""


class StreamReader(Protocol):
    """Reads a stream's items as the app reads them."""

    def read(self, item: Any) -> str:
        """Note what ``item`` says; the text it adds to the answer."""

    def answer(self) -> Answer:
        """The answer so far."""


def plain(value: Any) -> Any:
    """A value a client takes or gives (its models, mappings, lists) as JSON-ready data;
    anything else as its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, type):
        return value.__name__  # a structured output's model class
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return plain(dump(mode="json", exclude_none=True))
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return str(value)


def arguments_text(arguments: Any) -> str:
    """A tool call's arguments as the JSON text OpenAI gives them."""
    return arguments if isinstance(arguments, str) else json.dumps(plain(arguments))


def generation_message(message: Any) -> GenerationMessage:
    """One message of a prompt (a dict or a client's model) as a ``GenerationMessage``."""
    data = plain(message)
    if not isinstance(data, dict):
        return {"role": "user", "content": str(data)}
    role = _ROLES.get(str(data.get("role")), "user")
    shown: GenerationMessage = {"role": role, "content": data.get("content")}
    if data.get("name"):
        shown["name"] = str(data["name"])
    if data.get("tool_calls"):
        shown["tool_calls"] = list(data["tool_calls"])
    if data.get("tool_call_id"):
        shown["tool_call_id"] = str(data["tool_call_id"])
    return shown


def materialize(kwargs: dict[str, Any], *names: str) -> None:
    """Turn the iterables the call was given under ``names`` into lists, in place, so
    that reading them for the step leaves them whole for the client."""
    for name in names:
        value = kwargs.get(name)
        if isinstance(value, Iterable) and not isinstance(value, str | list | tuple | Mapping):
            kwargs[name] = list(value)


def settings_of(
    kwargs: Mapping[str, Any], skip: set[str], given: Callable[[Any], bool]
) -> dict[str, Any]:
    """The call's settings: its arguments but those in ``skip`` and those not ``given``."""
    return {
        name: plain(value) for name, value in kwargs.items() if name not in skip and given(value)
    }


def in_chat() -> bool:
    """Whether the code running here belongs to a chat (calls outside one are left alone)."""
    try:
        context.session  # noqa: B018 - raises outside a chat
    except NoSessionError:
        return False
    return True


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run(change: Coroutine[Any, Any, Any]) -> None:
    """Apply a change of the step from sync code (see the module's docstring)."""
    if _on_loop_thread():
        task = asyncio.get_running_loop().create_task(change)
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)
    else:
        run_sync(change)


class LLMCall:
    """One call of a chat model, shown as an ``llm`` step (``step``) whose generation
    (``generation``) fills as the call goes. Each change has an async form and a sync one
    (``*_sync``)."""

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        messages: list[GenerationMessage],
        settings: dict[str, Any],
        tools: list[dict[str, Any]] | None,
    ) -> None:
        parent = context.current_step
        self.step = Step(
            name=model or provider, type="llm", parent_id=parent.id if parent else None
        )
        self.step.input = messages
        self.generation = ChatGeneration(
            provider=provider, model=model, messages=messages, settings=settings, tools=tools
        )
        self.step.generation = self.generation
        self._began = time.monotonic()
        self._first: float | None = None
        self._pieces: list[str] = []
        self._ended = False

    async def start(self) -> None:
        """Show the step, running, with its input."""
        await self.step.send()

    async def token(self, text: str) -> None:
        """Add a piece of the streamed answer to the step's output."""
        if self._note(text):
            await self.step.stream_token(text)

    async def finish(self, answer: Answer) -> None:
        """End the step with the answer (once: a step that ended stays as it ended)."""
        if self._end():
            self._record(answer)
            await self.step.update()

    async def fail(self, error: BaseException) -> None:
        """End the step as failed, keeping the text that came."""
        if self._end():
            self._record_failure(error)
            await self.step.update()

    def start_sync(self) -> None:
        _run(self.step.send())

    def token_sync(self, text: str) -> None:
        if self._note(text) and not _on_loop_thread():
            run_sync(self.step.stream_token(text))

    def finish_sync(self, answer: Answer) -> None:
        if self._end():
            self._record(answer)
            _run(self.step.update())

    def fail_sync(self, error: BaseException) -> None:
        if self._end():
            self._record_failure(error)
            _run(self.step.update())

    def _end(self) -> bool:
        """Whether the step still runs, which ends it now."""
        ended, self._ended = self._ended, True
        return not ended

    def _note(self, text: str) -> bool:
        if not text:
            return False
        if self._first is None:
            self._first = time.monotonic()
            self.generation.tt_first_token = (self._first - self._began) * 1000
        self._pieces.append(text)
        return True

    def _timing(self) -> None:
        self.generation.duration = time.monotonic() - self._began
        self.step.end = time.time()

    def _record(self, answer: Answer) -> None:
        text = answer.text or "".join(self._pieces)
        generation = self.generation
        generation.model = answer.model or generation.model
        completion: GenerationMessage = {"role": "assistant", "content": text or None}
        if answer.tool_calls:
            completion["tool_calls"] = answer.tool_calls
        generation.message_completion = completion
        generation.input_token_count = answer.input_tokens
        generation.output_token_count = answer.output_tokens
        generation.token_count = answer.total_tokens
        if generation.token_count is None and None not in (
            answer.input_tokens,
            answer.output_tokens,
        ):
            generation.token_count = (answer.input_tokens or 0) + (answer.output_tokens or 0)
        generation.error = answer.error
        self._timing()
        if answer.output_tokens and generation.duration:
            generation.token_throughput = answer.output_tokens / generation.duration
        self.step.output = text or answer.tool_calls or answer.error or ""
        self.step.is_error = answer.error is not None

    def _record_failure(self, error: BaseException) -> None:
        text = "".join(self._pieces)
        self.generation.error = str(error) or type(error).__name__
        if text:
            self.generation.message_completion = {"role": "assistant", "content": text}
        self._timing()
        self.step.is_error = True
        self.step.output = text or self.generation.error


# -- following a stream as the app reads it ------------------------------------------------


def follow(call: LLMCall, items: Iterator[Any], reader: StreamReader) -> Iterator[Any]:
    """The stream's items, unchanged, each noted on the step as the app reads it."""
    try:
        for item in items:
            call.token_sync(reader.read(item))
            yield item
    except GeneratorExit:  # the app stopped reading: what came is the answer
        call.finish_sync(reader.answer())
        _close(items)
        raise
    except BaseException as error:  # an error or a cancellation: the step fails, it goes on
        call.fail_sync(error)
        raise
    call.finish_sync(reader.answer())


async def follow_async(
    call: LLMCall, items: AsyncIterator[Any], reader: StreamReader
) -> AsyncIterator[Any]:
    """``follow`` for an async stream."""
    try:
        async for item in items:
            await call.token(reader.read(item))
            yield item
    except GeneratorExit:  # the app stopped reading: what came is the answer
        await call.finish(reader.answer())
        closing = getattr(items, "aclose", None)
        if closing is not None:
            await closing()
        raise
    except BaseException as error:  # an error or a cancellation: the step fails, it goes on
        await call.fail(error)
        raise
    await call.finish(reader.answer())


def _closing(close: Callable[[], Any], call: LLMCall, reader: StreamReader) -> Callable[[], Any]:
    """A stream's ``close`` that also ends its step, with what came, when the app closes
    the stream before its end (by hand, or leaving its ``with`` block)."""

    @functools.wraps(close)
    def closing() -> Any:
        call.finish_sync(reader.answer())
        return close()

    return closing


def _closing_async(
    close: Callable[[], Awaitable[Any]], call: LLMCall, reader: StreamReader
) -> Callable[[], Awaitable[Any]]:
    """``_closing`` for an async stream."""

    @functools.wraps(close)
    async def closing() -> Any:
        await call.finish(reader.answer())
        return await close()

    return closing


def _close(items: Iterator[Any]) -> None:
    closing = getattr(items, "close", None)
    if closing is not None:
        closing()


# -- patching a client's methods ------------------------------------------------------------


@dataclass(frozen=True)
class Traced:
    """How the calls of one of a client's methods become steps.

    ``begin`` makes the call's ``LLMCall`` from its keyword arguments (and may replace some
    of them, see ``materialize``); ``whole`` reads a whole result; a result that is one
    of ``streams`` is followed through the iterator in its attribute ``stream_attribute``,
    read by a new ``reader()``. ``untraced`` says which calls to leave alone.
    """

    begin: Callable[[dict[str, Any]], LLMCall]
    whole: Callable[[Any], Answer]
    reader: Callable[[], StreamReader]
    streams: tuple[type, ...]
    stream_attribute: str
    untraced: Callable[[dict[str, Any]], bool] = lambda kwargs: False


_ORIGINALS: dict[tuple[type, str], Any] = {}


def patch(owner: type, name: str, wrap: Callable[[Method], Method]) -> None:
    """Replace the method ``owner.name`` with ``wrap(original)``; a second time, nothing."""
    if (owner, name) in _ORIGINALS:
        return
    original = owner.__dict__[name]
    _ORIGINALS[owner, name] = original
    setattr(owner, name, wrap(original))


def unpatch(owner: type, name: str) -> None:
    """Put back the method ``patch`` replaced."""
    original = _ORIGINALS.pop((owner, name), None)
    if original is not None:
        setattr(owner, name, original)


def _begin(how: Traced, kwargs: dict[str, Any]) -> LLMCall | None:
    if how.untraced(kwargs) or not in_chat():
        return None
    try:
        return how.begin(kwargs)
    except Exception:  # a prompt this module cannot read must not stop the app's call
        logger.exception("Could not show this model call as a step; it runs unshown.")
        return None


def traced(how: Traced) -> Callable[[Method], Method]:
    """What ``patch`` needs to make each call of a sync method a step."""

    def wrap(original: Method) -> Method:
        @functools.wraps(original)
        def method(resource: Any, *args: Any, **kwargs: Any) -> Any:
            call = _begin(how, kwargs)
            if call is None:
                return original(resource, *args, **kwargs)
            call.start_sync()
            try:
                result = original(resource, *args, **kwargs)
            except BaseException as error:  # the step fails; the app gets the error as raised
                call.fail_sync(error)
                raise
            if isinstance(result, how.streams):
                reader = how.reader()
                items = getattr(result, how.stream_attribute)
                setattr(result, how.stream_attribute, follow(call, items, reader))
                stream: Any = result
                stream.close = _closing(stream.close, call, reader)
            else:
                call.finish_sync(how.whole(result))
            return result

        return method

    return wrap


def traced_async(how: Traced) -> Callable[[Method], Method]:
    """What ``patch`` needs to make each call of an async method a step."""

    def wrap(original: Method) -> Method:
        @functools.wraps(original)
        async def method(resource: Any, *args: Any, **kwargs: Any) -> Any:
            call = _begin(how, kwargs)
            if call is None:
                return await original(resource, *args, **kwargs)
            await call.start()
            try:
                result = await original(resource, *args, **kwargs)
            except BaseException as error:  # the step fails; the app gets the error as raised
                await call.fail(error)
                raise
            if isinstance(result, how.streams):
                reader = how.reader()
                items = getattr(result, how.stream_attribute)
                setattr(result, how.stream_attribute, follow_async(call, items, reader))
                stream: Any = result
                stream.close = _closing_async(stream.close, call, reader)
            else:
                await call.finish(how.whole(result))
            return result

        return method

    return wrap
