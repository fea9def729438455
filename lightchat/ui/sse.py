"""Server-sent event framing over sse-starlette.

The events a page's stream carries, each named in one place: HTML updates (no name; htmx
swaps their ``<hx-partial>`` fragments), streamed text (``TEXT_EVENT``, ``tok``: short, as
a paced stream sends one per token), a window message and a call to the framing page
(``WINDOW_EVENT``, ``CALL_EVENT``, in ``lightchat.ui.stream_view``), a reload
(``RELOAD_EVENT``) and the end of the chat (``CLOSED_EVENT``). Every name but the text's
starts with ``lc-``, so none can be mistaken for another script's DOM event.

Concurrency: one response per open page. The generator given to ``event_stream`` waits on
the bus; sse-starlette adds pings (which also detect dead connections), a send timeout so a
stuck client cannot hold memory forever, and ends streams when the server shuts down.

A batch of chunks is encoded into one body write: at thousands of streams, a write per
event would cost more than the events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from sse_starlette import EventSourceResponse, ServerSentEvent

from lightchat.ui.stream_view import TEXT_EVENT, Chunk

PING_SECONDS = 15

CLOSED_EVENT = "lc-closed"
"""The last event of a chat that has ended: the page stops reconnecting (``hx-sse:close``)."""

RELOAD_EVENT = "lc-reload"
"""The page must load itself again (see ``RELOAD``)."""

CLOSING = f"event: {CLOSED_EVENT}\ndata: \n\n".encode()
"""Tells the page the chat has ended, so it stops reconnecting."""

RELOAD = f"event: {RELOAD_EVENT}\ndata: \n\n".encode()
"""Tells the page to load itself again: the point it streams from was compacted away (see
``lightchat.bus.LogCompacted``), so only a fresh page shows the chat as it stands."""


class Encoder:
    """Encodes one stream's chunks as server-sent events.

    Each id is the log position the event brings the page to. A text (``tok``) event leaves
    out its target when it is the one the stream's previous text event named (the page
    remembers it): at a few tokens per event, the target would be most of the bytes.
    """

    def __init__(self) -> None:
        self._last_target = ""

    def encode(self, chunks: Iterable[Chunk]) -> bytes:
        """The chunks as the bytes of server-sent events."""
        parts: list[str] = []
        for chunk in chunks:
            data = chunk.data
            parts.append(f"id: {chunk.seq}\n")
            if chunk.event:
                parts.append(f"event: {chunk.event}\n")
                if chunk.event == TEXT_EVENT:
                    target, _, text = data.partition("\n")
                    if target == self._last_target:
                        data = "\n" + text
                    self._last_target = target
            for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
                parts.append(f"data: {line}\n")
            parts.append("\n")
        return "".join(parts).encode()


def event_stream(events: AsyncIterator[bytes]) -> EventSourceResponse:
    """A streaming response of pre-encoded events."""
    return EventSourceResponse(
        events,
        ping=PING_SECONDS,
        send_timeout=30,
        headers={"Cache-Control": "no-store"},
    )


__all__ = [
    "CLOSED_EVENT",
    "CLOSING",
    "PING_SECONDS",
    "RELOAD",
    "RELOAD_EVENT",
    "Encoder",
    "ServerSentEvent",
    "event_stream",
]
