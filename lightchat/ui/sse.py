"""Server-sent events: their framing, and the response that streams them.

The events a page's stream carries, each named in one place: HTML updates (no name; htmx
swaps their ``<hx-partial>`` fragments), streamed text (``tok`` when it names the element
it goes into, ``t`` for more text into the same element: short, as a paced stream sends one
per token), a window message and a call to the framing page
(``WINDOW_EVENT``, ``CALL_EVENT``, in ``lightchat.ui.stream_view``), a reload
(``RELOAD_EVENT``) and the end of the chat (``CLOSED_EVENT``). Every name but the text's
starts with ``lc-``, so none can be mistaken for another script's DOM event.

``EventStream`` is the response: what sse-starlette's ``EventSourceResponse`` does for a
stream (keep-alive pings, noticing a client that went away, a send timeout so a stuck client
cannot hold memory forever, an end when the server shuts down, HEAD answered without a
stream), at a fraction of its cost. A page's stream is open for as long as the page, so its
cost per connection is the server's memory per idle chat, and its cost per event is most
of a token's: sse-starlette runs four tasks and a task group per stream and opens a cancel
scope for every send; ``EventStream`` sends from the request's own task and keeps one small
task per stream that waits for the client to go away.

Concurrency: each stream runs in its request's task. Its watcher task cancels that task
when the client disconnects or a send has waited longer than the send timeout; one task per
event loop, running only while streams are open, cancels them all when the server begins to
shut down (uvicorn's exit flag, as sse-starlette's ``AppStatus`` sees it). A stream ended
either way returns normally, so the middleware around it sees a response that ended. The
generator gives the pings: it yields ``PING`` when it has sent nothing for a while.

A batch of chunks is encoded into one body write: at thousands of streams, a write per
event would cost more than the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping

from sse_starlette.sse import AppStatus
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from lightchat.ui.stream_view import TEXT_EVENT, Chunk

logger = logging.getLogger("lightchat")

PING_SECONDS = 15
"""A stream that sent nothing for this long sends ``PING`` (proxies drop silent connections)."""

PING = b": ping\n\n"
"""A comment line: keeps the connection alive, and shows whether the client still reads."""

SEND_TIMEOUT_S = 30.0
"""A send that waits longer than this (the client stopped reading) ends the stream."""

_WATCH_S = 10.0
"""How often a stream's watcher checks for a send that has waited too long."""

_EXIT_POLL_S = 0.5
"""How often the server's exit flag is looked at while streams are open."""

CLOSED_EVENT = "lc-closed"
"""The last event of a chat that has ended: the page stops reconnecting (``hx-sse:close``)."""

RELOAD_EVENT = "lc-reload"
"""The page must load itself again (see ``RELOAD``)."""

CLOSING = f"event: {CLOSED_EVENT}\ndata: \n\n".encode()
"""Tells the page the chat has ended, so it stops reconnecting."""

RELOAD = f"event: {RELOAD_EVENT}\ndata: \n\n".encode()
"""Tells the page to load itself again: the point it streams from was compacted away (see
``lightchat.bus.LogCompacted``), so only a fresh page shows the chat as it stands."""


MORE_TEXT_EVENT = "t"
"""Streamed text for the element the stream's previous text event named (the page remembers
it): at a token per event, naming the element again would be most of the bytes."""


class Encoder:
    """Encodes one stream's chunks as server-sent events.

    Each id is the log position the event brings the page to; an event not ``marked`` has
    none (the page keeps the last). A text event (``TEXT_EVENT``) is sent as
    ``MORE_TEXT_EVENT``, without its target, when the stream's previous one named the same.
    Fields are written without the optional space after their colon.
    """

    def __init__(self) -> None:
        self._last_target = ""

    def encode(self, chunks: Iterable[Chunk]) -> bytes:
        """The chunks as the bytes of server-sent events."""
        parts: list[str] = []
        for chunk in chunks:
            data = chunk.data
            event = chunk.event
            if chunk.marked:
                parts.append(f"id:{chunk.seq}\n")
            if event == TEXT_EVENT:
                target, _, text = data.partition("\n")
                if target == self._last_target:
                    event, data = MORE_TEXT_EVENT, text
                self._last_target = target
            if event:
                parts.append(f"event:{event}\n")
            for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
                # A reader drops one space after the colon: a line that starts with one
                # keeps it behind another.
                parts.append(f"data: {line}\n" if line[:1] == " " else f"data:{line}\n")
            parts.append("\n")
        return "".join(parts).encode()


def server_exiting() -> bool:
    """True once the server was told to stop (uvicorn's exit flag).

    sse-starlette wraps uvicorn's signal handler to set ``AppStatus.should_exit``; when
    uvicorn installed its handler before that wrapping, the flag is read from the server
    that handler belongs to.
    """
    if AppStatus.should_exit:
        return True
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return bool(getattr(server, "should_exit", False))


class _Open:
    """The streams open on one event loop, and the task that ends them when the server
    stops."""

    def __init__(self) -> None:
        self.streams: dict[asyncio.Task[object], EventStream] = {}
        self.watcher: asyncio.Task[None] | None = None

    def add(self, task: asyncio.Task[object], stream: EventStream) -> None:
        self.streams[task] = stream
        if self.watcher is None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())

    def remove(self, task: asyncio.Task[object]) -> None:
        self.streams.pop(task, None)

    async def _watch(self) -> None:
        try:
            while self.streams:
                await asyncio.sleep(_EXIT_POLL_S)
                if server_exiting():
                    for task, stream in list(self.streams.items()):
                        stream.end(task, "exit")
                    return
        finally:
            self.watcher = None


_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}

_OPEN: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Open] = weakref.WeakKeyDictionary()


class EventStream(Response):
    """A response that streams ``events`` (each item: encoded server-sent events) until
    the generator ends, the client goes away, a send waits longer than ``send_timeout``
    or the server stops (see the module docstring)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        send_timeout: float = SEND_TIMEOUT_S,
    ) -> None:
        self.events = events
        self.send_timeout = send_timeout
        self.status_code = 200
        self.background = None
        fields = {
            "Cache-Control": "no-store",
            "Connection": "keep-alive",
            "X-Accel-Buffering": "no",
        }
        self.init_headers({**fields, **(headers or {})})
        self.ended: str | None = None
        """Why the stream was ended from outside: "disconnect", "timeout" or "exit"."""
        self._sending = 0.0  # when the send under way began (loop time); 0: none

    def end(self, task: asyncio.Task[object], why: str) -> None:
        """End the stream running in ``task`` (once; the first reason wins)."""
        if self.ended is None:
            self.ended = why
            task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        opened = _OPEN.get(loop)
        if opened is None:
            opened = _OPEN[loop] = _Open()
        opened.add(task, self)
        watcher = loop.create_task(self._watch(receive, task))
        try:
            async for chunk in self.events:
                self._sending = loop.time()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self._sending = 0.0
            await send(_END)
        except asyncio.CancelledError:
            if self.ended is None or task.uncancel() > 0:
                raise  # cancelled by someone else (the server's own shutdown)
            if self.ended == "exit":
                # The stream ends cleanly, so the page reconnects (to a worker that stays).
                await send(_END)
            elif self.ended == "timeout":
                logger.warning(
                    "An event stream was closed: its client read nothing for %g s",
                    self.send_timeout,
                )
        finally:
            opened.remove(task)
            watcher.cancel()
            with contextlib.suppress(RuntimeError):  # already closed (it raised)
                await self.events.aclose()  # type: ignore[attr-defined]

    async def _watch(self, receive: Receive, task: asyncio.Task[object]) -> None:
        """Wait for the client to go away; every ``_WATCH_S``, check that no send has
        waited longer than the send timeout."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(_WATCH_S):
                    message = await receive()
            except TimeoutError:
                if self._sending and loop.time() - self._sending > self.send_timeout:
                    self.end(task, "timeout")
                    return
                continue
            if message["type"] == "http.disconnect":
                self.end(task, "disconnect")
                return


def event_stream(events: AsyncIterator[bytes]) -> EventStream:
    """A streaming response of pre-encoded events."""
    return EventStream(events)


__all__ = [
    "CLOSED_EVENT",
    "CLOSING",
    "MORE_TEXT_EVENT",
    "PING",
    "PING_SECONDS",
    "RELOAD",
    "RELOAD_EVENT",
    "Encoder",
    "EventStream",
    "event_stream",
    "server_exiting",
]
