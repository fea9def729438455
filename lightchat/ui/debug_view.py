"""Whether the page being rendered shows debug details, and how it writes their times.

Debug mode (``Settings.debug``) adds to a chat what only its developer should see: each
step's start and duration, an error's traceback, the "Run details" panel. The endpoint
that renders a chat's page or stream decides whether the one asking may see them
(``lightchat.http.endpoints.debug``) and says so for the rendering with ``debug_view``;
the templates ask ``debug_on()``. Anything rendered elsewhere shows none of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime

DEBUG_VIEW: ContextVar[bool] = ContextVar("lightchat_debug_view", default=False)
"""True while rendering for someone who may see the chat's debug details."""


def debug_on() -> bool:
    """Whether what is being rendered now may show debug details (see ``debug_view``)."""
    return DEBUG_VIEW.get()


@contextlib.contextmanager
def debug_view(on: bool) -> Iterator[None]:
    """Render with debug details (``on``) or without, until the block ends."""
    token = DEBUG_VIEW.set(on)
    try:
        yield
    finally:
        DEBUG_VIEW.reset(token)


def clock(moment: float | None) -> str:
    """A moment (seconds since the epoch) as the server's local time of day, to the
    millisecond (``14:03:07.215``); "" for None."""
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment).strftime("%H:%M:%S.%f")[:-3]


def iso_time(moment: float | None) -> str:
    """A moment as an ISO 8601 date and time with its offset, for ``<time datetime>``."""
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="milliseconds")


def duration(seconds: float | None) -> str:
    """A duration as a developer reads it: ``0.4 ms``, ``850 ms``, ``2.315 s``."""
    if seconds is None:
        return ""
    milliseconds = seconds * 1000
    if milliseconds < 10:
        return f"{milliseconds:.1f} ms"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{seconds:.3f} s"
