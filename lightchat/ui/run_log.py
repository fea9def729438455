"""A chat's log as debug mode shows it (``Settings.debug``): one row per event, in the
"Run details" panel, on its page and in its replay; the log as JSON Lines.

A row says what kind of event it was, which message or step it touched, what it said of
it (``type=tool status=done name="search"``) and when it was published. The token events
that stream into one item one after another fold into one row, which grows as they come:
an answer of a thousand tokens is one line, not a thousand.

``RunLogStream`` is what a page's stream adds to the panel as the log grows: new rows at
its end, and the last row again when more tokens fold into it. Its rows and the page's
are made by the same fold, so a stream that resumes where the page stopped goes on with
the same row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from lightchat.domain.events import (
    AppEvent,
    AudioConnectionEvent,
    AudioEvent,
    ComposerEvent,
    Entry,
    Event,
    FavoriteEvent,
    FavoritesEvent,
    FunctionCallEvent,
    MessageEvent,
    RunEvent,
    SettingsEvent,
    SidebarEvent,
    StepEvent,
    ToastEvent,
    TokenEvent,
    event_to_json,
)
from lightchat.ui.render import Renderer, hx_partial
from lightchat.ui.stream_view import Chunk

ROW_TEMPLATE = "_run_event.html"
"""The partial of one row (an ``<li>`` of the list ``#lc-run-events``)."""

EVENTS_LIST = "lc-run-events"
"""The id of the panel's list of rows, which a stream appends to."""

PREVIEW_CHARS = 60
"""How much of a message's text or a toast a row shows."""

TOKENS = "tokens"
"""The kind of a row of streamed text (token events folded together)."""


@dataclass(slots=True)
class EventRow:
    """One row of "Run details": an event, or a run of token events into one item."""

    first: int
    """The sequence number of its (first) event: the row's id in the page."""
    last: int
    """The sequence number of its last event: the replay's point after it."""
    kind: str
    """``message``, ``step``, ``tokens``, ``remove``, ``run``, ``settings``..."""
    item: str
    """The id of the message or step it touched ("" for none)."""
    label: str
    """What it said of it, as ``key=value`` pairs."""
    at: float | None
    """When its last event was published (None: not known here)."""
    batches: int = 1
    chars: int = 0

    @property
    def summary(self) -> str:
        """``label``, or for streamed text how much of it came in how many events."""
        if self.kind == TOKENS:
            return f"events={self.batches} chars={self.chars}"
        return self.label


def _quoted(text: str, limit: int = PREVIEW_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters, in double quotes."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return json.dumps(flat, ensure_ascii=False)


def _kind_of(event: Event) -> str:
    """``FunctionCallEvent`` -> ``function_call``: the event's class, as a row names it."""
    name = type(event).__name__.removesuffix("Event") or type(event).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def describe(event: Event) -> tuple[str, str, str]:
    """The kind of an event, the item it touched and what it said of it."""
    kind = _kind_of(event)
    if isinstance(event, MessageEvent):
        message = event.message
        parts = [f"type={message.type}", f"author={_quoted(message.author)}"]
        if message.streaming:
            parts.append("streaming")
        if message.ask is not None:
            parts.append(f"ask={message.ask.kind}")
        if message.content:
            parts.append(f"content={_quoted(message.content)}")
        return kind, message.id, " ".join(parts)
    if isinstance(event, StepEvent):
        step = event.step
        label = f"type={step.type} status={step.status} name={_quoted(step.name)}"
        return kind, step.id, label
    if isinstance(event, TokenEvent):
        return TOKENS, event.id, ""
    if isinstance(event, RunEvent):
        return kind, "", f"running={str(event.running).lower()}"
    if isinstance(event, SettingsEvent):
        return kind, "", f"inputs={len(event.widgets)}"
    if isinstance(event, ComposerEvent):
        return kind, "", f"commands={len(event.commands)} modes={len(event.modes)}"
    if isinstance(event, SidebarEvent):
        return kind, "", f"title={_quoted(event.title)} elements={len(event.elements)}"
    if isinstance(event, ToastEvent):
        return kind, "", f"type={event.type} message={_quoted(event.message)}"
    if isinstance(event, AppEvent | FunctionCallEvent):
        return kind, "", f"name={_quoted(event.name)}"
    if isinstance(event, AudioEvent):
        # Its size, never its bytes: base64 holds 3 bytes in 4 characters.
        return kind, "", f"track={_quoted(event.track)} bytes={len(event.data) * 3 // 4}"
    if isinstance(event, AudioConnectionEvent):
        return kind, "", f"state={event.state}"
    if isinstance(event, FavoriteEvent):
        return kind, event.id, f"favorite={str(event.favorite).lower()}"
    if isinstance(event, FavoritesEvent):
        return kind, "", f"count={len(event.favorites)}"
    item = getattr(event, "id", "")  # a remove, or an event this module does not know
    return kind, item if isinstance(item, str) else "", ""


def fold(
    entries: Iterable[Entry], times: Mapping[int, float], rows: list[EventRow] | None = None
) -> list[EventRow]:
    """The rows of ``entries``, after ``rows`` (which the first may extend: the last row
    given grows when the entries go on streaming into its item)."""
    rows = [] if rows is None else rows
    for entry in entries:
        event = entry.event
        at = times.get(entry.seq)
        last = rows[-1] if rows else None
        if isinstance(event, TokenEvent):
            if last is not None and last.kind == TOKENS and last.item == event.id:
                last.last = entry.seq
                last.batches += 1
                last.chars += len(event.delta)
                last.at = at if at is not None else last.at
                continue
            rows.append(
                EventRow(entry.seq, entry.seq, TOKENS, event.id, "", at, 1, len(event.delta))
            )
            continue
        kind, item, label = describe(event)
        rows.append(EventRow(entry.seq, entry.seq, kind, item, label, at))
    return rows


def log_lines(entries: Iterable[Entry], times: Mapping[int, float]) -> Iterable[str]:
    """The log as JSON Lines: one object per event, ``{"seq": 1, "at": 1767225600.123,
    "event": {"kind": "MessageEvent", "message": {...}}}`` (``at``: seconds since the
    epoch, null when not known), each line ending with a newline."""
    for entry in entries:
        try:
            event = event_to_json(entry.event)
        # The memory bus never serializes events, so an app's own data (an app event's,
        # a window message's) may be something JSON cannot hold: the line says what it was.
        except (TypeError, ValueError):
            event = json.dumps({"kind": type(entry.event).__name__, "unserializable": True})
        at = json.dumps(times.get(entry.seq))
        yield f'{{"seq":{entry.seq},"at":{at},"event":{event}}}\n'


class RunLogStream:
    """What a page's stream adds to its "Run details" panel as the chat's log grows."""

    def __init__(
        self,
        renderer: Renderer,
        seen: Iterable[Entry],
        times: Mapping[int, float],
        *,
        chat_url: str,
    ) -> None:
        self.renderer = renderer
        self.times = times
        self.chat_url = chat_url
        rows = fold(seen, times)
        self._last = rows[-1] if rows else None

    def feed(self, entries: list[Entry]) -> list[Chunk]:
        """The updates for new entries: one HTML event, at the last entry's number."""
        if not entries:
            return []
        before = None if self._last is None else replace(self._last)
        rows = fold(entries, self.times, [] if self._last is None else [self._last])
        parts: list[str] = []
        if before is not None and rows[0].last != before.last:  # more tokens folded into it
            parts.append(hx_partial(f"lc-ev-{before.first}", "outerHTML", self._row(rows[0])))
        fresh = rows[1:] if before is not None else rows
        if fresh:
            parts.append(hx_partial(EVENTS_LIST, "beforeend", "".join(map(self._row, fresh))))
        self._last = rows[-1]
        return [Chunk("".join(parts), None, entries[-1].seq)] if parts else []

    def _row(self, row: EventRow) -> str:
        return self.renderer.page(ROW_TEMPLATE, row=row, chat_url=self.chat_url)
