"""Server-sent event framing over sse-starlette.

Concurrency: one response per open page. The generator given to ``event_stream`` waits on
the bus; sse-starlette adds pings (which also detect dead connections), a send timeout so a
stuck client cannot hold memory forever, and ends streams when the server shuts down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent

from lightchat.render import Chunk

PING_SECONDS = 15

__all__ = ["PING_SECONDS", "ServerSentEvent", "closing_event", "event_stream", "frame"]


def frame(chunk: Chunk) -> ServerSentEvent:
    """One chunk as a server-sent event whose id is the log position it brings the page to."""
    return ServerSentEvent(data=chunk.data, event=chunk.event, id=str(chunk.seq))


def closing_event() -> ServerSentEvent:
    """Tells the page the chat has ended, so it stops reconnecting."""
    return ServerSentEvent(data="", event="closed")


def event_stream(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """A streaming response of ``events``."""
    return EventSourceResponse(
        events,
        ping=PING_SECONDS,
        send_timeout=30,
        headers={"Cache-Control": "no-store"},
    )
