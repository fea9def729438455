"""``FakeModel``: a scripted stand-in for a language model, so an app's tests need no key.

A script is a list of replies, given in turn (the last one repeats). A reply is text, the
pieces of a token stream, tool calls, an error, or a function of the prompt that returns
one of those; ``ModelReply`` says all of it at once (and a pause per token, or a stream
that breaks off)::

    from lightchat.testing import FakeModel, ModelReply, ToolCall

    model = FakeModel(
        [
            "Hello **there**!",                          # text, streamed word by word
            ModelReply(["Hel", "lo"]),                    # these pieces, as given
            ToolCall("get_weather", {"city": "Paris"}),  # a call of one of the app's tools
            ModelReply(error="Rate limit reached", status=429),
            lambda prompt: f"You said {prompt}",
        ],
        delay=0.01,  # seconds before each token
    )

The model answers in plain Python (``complete``, ``stream``, ``respond``) and, through
``lightchat.testing.ScriptedOpenAI``, in the shapes of OpenAI's API, so an app built on the
``openai`` client is tested with the same script.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeModel", "ModelError", "ModelReply", "Scripted", "ToolCall", "tokenize"]

_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """Split text into word-sized tokens that join back to exactly the text."""
    return _TOKEN.findall(text)


class ModelError(RuntimeError):
    """What a scripted reply with ``error="..."`` raises: the API's refusal, with the HTTP
    ``status`` the API would answer with (in OpenAI's shapes, the client raises its own
    error for that status instead)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call of one of the app's tools, as a model asks for it: the tool's ``name`` and
    its ``arguments`` (a dict, or JSON text as the model wrote it). ``id`` is made up when
    None (``call_1``...)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as JSON text, as an API carries them."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


@dataclass(frozen=True, slots=True)
class ModelReply:
    """One scripted reply, whole.

    ``text``: a string is streamed word by word (``tokenize``); a list is the streamed
    pieces as given. ``tool_calls``: the tools the model calls (with or without text).
    ``error``: the reply fails, with a ``ModelError(error, status)`` for a string, or the
    exception given (in OpenAI's shapes: an API error answered with ``status`` for a
    string, a connection failure for an exception); with ``fail_after=n`` it fails after
    streaming n pieces instead of at once. ``delay``: seconds before each piece (None: the
    model's own). ``usage``: the (input, output) token counts to report (None: words).
    """

    text: str | Sequence[str] = ""
    tool_calls: Sequence[ToolCall] = ()
    error: BaseException | str | None = None
    status: int = 500
    fail_after: int | None = None
    delay: float | None = None
    usage: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.fail_after is not None and self.error is None:
            raise ValueError("fail_after needs an error to fail with.")
        if not isinstance(self.text, str):
            object.__setattr__(self, "text", tuple(self.text))
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @property
    def pieces(self) -> list[str]:
        """The text as it streams."""
        return tokenize(self.text) if isinstance(self.text, str) else list(self.text)

    @property
    def content(self) -> str:
        """The whole text."""
        return "".join(self.pieces)

    def exception(self) -> BaseException | None:
        """What the reply raises, if it fails."""
        if self.error is None or isinstance(self.error, BaseException):
            return self.error
        return ModelError(self.error, self.status)


Scripted = (
    str
    | ModelReply
    | ToolCall
    | Sequence[ToolCall]
    | BaseException
    | type[BaseException]
    | Callable[[str], "str | ModelReply | ToolCall | Sequence[ToolCall] | BaseException"]
)
"""One entry of a script: text, a ``ModelReply``, one or several ``ToolCall``, an exception
(or exception class) to raise, or a function of the prompt that returns one of those."""


def _reply_of(entry: Any) -> ModelReply:
    if isinstance(entry, ModelReply):
        return entry
    if isinstance(entry, str):
        return ModelReply(entry)
    if isinstance(entry, ToolCall):
        return ModelReply(tool_calls=[entry])
    if isinstance(entry, BaseException):
        return ModelReply(error=entry)
    if isinstance(entry, Sequence) and all(isinstance(call, ToolCall) for call in entry):
        return ModelReply(tool_calls=list(entry))
    raise TypeError(
        f"A FakeModel reply is text, a ModelReply, ToolCalls or an exception; not {entry!r}."
    )


class FakeModel:
    """Gives its scripted replies in turn (the last one repeats), token by token.

    ``delay`` is the pause before each token, in seconds (a reply's own ``delay`` wins).
    ``prompts`` records what the model was asked, one prompt per reply given.
    """

    def __init__(
        self, replies: Sequence[Scripted] = ("OK",), delay: float = 0.0, *, name: str = "fake-model"
    ) -> None:
        if not replies:
            raise ValueError("FakeModel needs at least one reply.")
        if isinstance(replies, str):
            raise TypeError("FakeModel takes a list of replies: FakeModel([text]).")
        self.replies = list(replies)
        self.delay = delay
        self.name = name
        """The model's name, as an API answer gives it."""
        self.prompts: list[str] = []

    def next_reply(self, prompt: str) -> ModelReply:
        """The next reply of the script, for ``prompt``, whole: neither raised nor waited
        for (the API shapes built on the model do that their own way)."""
        index = min(len(self.prompts), len(self.replies) - 1)
        self.prompts.append(prompt)
        entry: Any = self.replies[index]
        if isinstance(entry, type) and issubclass(entry, BaseException):
            entry = entry()
        elif callable(entry):
            entry = entry(prompt)
        return _reply_of(entry)

    def pause_of(self, reply: ModelReply) -> float:
        """The pause before each of ``reply``'s tokens."""
        return self.delay if reply.delay is None else reply.delay

    def complete(self, prompt: str) -> str:
        """The next reply's text, whole (it raises if the reply fails)."""
        reply = self.next_reply(prompt)
        _raise_if_failed(reply)
        return reply.content

    async def acomplete(self, prompt: str) -> str:
        """``complete``, after as long as streaming the reply would take."""
        return (await self.respond(prompt)).content

    async def respond(self, prompt: str) -> ModelReply:
        """The next reply, whole, with its tool calls: after as long as streaming it would
        take; it raises if the reply fails (after its first ``fail_after`` pieces' time)."""
        reply = self.next_reply(prompt)
        pieces = reply.pieces if reply.error is None else reply.pieces[: reply.fail_after or 0]
        pause = self.pause_of(reply) * len(pieces)
        if pause:
            await asyncio.sleep(pause)
        _raise_if_failed(reply)
        return reply

    def tokens(self, prompt: str) -> Iterator[str]:
        """The next reply as tokens, without pauses (for sync code)."""
        reply = self.next_reply(prompt)
        for sent, piece in enumerate(reply.pieces):
            _raise_at(reply, sent)
            yield piece
        _raise_if_failed(reply)

    async def stream(self, prompt: str) -> AsyncIterator[str]:
        """The next reply as tokens, each after the pause (``delay``)."""
        reply = self.next_reply(prompt)
        pause = self.pause_of(reply)
        for sent, piece in enumerate(reply.pieces):
            _raise_at(reply, sent)
            if pause:
                await asyncio.sleep(pause)
            yield piece
        _raise_if_failed(reply)


def _raise_at(reply: ModelReply, sent: int) -> None:
    """Fail now if the reply fails before its piece number ``sent`` (counted from 0)."""
    if sent >= (reply.fail_after or 0):
        _raise_if_failed(reply)


def _raise_if_failed(reply: ModelReply) -> None:
    error = reply.exception()
    if error is not None:
        raise error
