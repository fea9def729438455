"""A run's timeline: where each of its steps started and how long it took, as a waterfall.

A run is what the app did for one turn of the conversation: the items from a user's message
up to the next one (before the first, what ``on_chat_start`` did). When the chat shows two
or more of a run's steps (``Settings.cot``), the log shows a "Timeline" disclosure after the
run's last item (``_timeline.html``): one row per step, nested as the steps are, each with
its name, its duration and a bar placed on the run's time axis.

``layout`` does the arithmetic, here and not in the template, so it is tested alone: offsets
from the run's first start, widths in percent of the run's length. Clocks are not trusted
blindly: a step that ends before it starts (its times came from two machines) lasts zero
seconds, and a bar always has a visible width.

The stream sends a run's timeline when the run ends (``StreamView``); the page renders the
timelines of the runs that have ended (``log_items``), so a reload shows the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from lightchat.domain.events import MessageData, StepData, StepStatus, StepType
from lightchat.domain.transcript import Item, Transcript

MIN_WIDTH = 0.6
"""The narrowest bar, in percent of the axis: a step of no length still shows."""

MAX_DEPTH = 6
"""Rows indent per nesting level up to this depth (deeper ones indent no further)."""

START_KEY = "start"
"""The key of the run before the first user message (``on_chat_start``'s)."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One step on a run's time axis."""

    step_id: str
    name: str
    type: StepType
    status: StepStatus
    depth: int
    """How many shown steps it is nested in (0: it stands in the conversation)."""
    offset: float
    """Seconds from the run's first start to this step's start."""
    duration: float | None
    """Seconds it took; None while it runs."""
    left: float
    """Where the bar starts, in percent of the axis."""
    width: float
    """How long the bar is, in percent of the axis (at least ``MIN_WIDTH``)."""


@dataclass(frozen=True, slots=True)
class Timeline:
    """The bars of one run, in the order the chat shows its steps (a parent before the steps
    nested in it)."""

    key: str
    """The run's key: its user message's id, or ``START_KEY``."""
    bars: tuple[Bar, ...]
    total: float
    """Seconds from the run's first start to its last end."""

    @property
    def dom_id(self) -> str:
        """The id of the timeline's element in the page."""
        return f"lc-timeline-{self.key}"


@dataclass(slots=True)
class Run:
    """The items of one turn of the conversation, in order."""

    key: str
    steps: list[StepData] = field(default_factory=list)
    """The steps the chat shows, in transcript order."""
    last_root: str | None = None
    """The id of the run's last item that stands in the conversation."""


def layout(
    key: str, steps: list[tuple[StepData, int]], now: float | None = None
) -> Timeline | None:
    """The timeline of a run's shown steps (each with its depth), or None for fewer than
    two steps.

    A step still running ends at ``now`` (None: at its start, so it has no length yet).
    """
    if len(steps) < 2:
        return None
    origin = min(step.started_at for step, _ in steps)
    spans: list[tuple[float, float]] = []
    for step, _ in steps:
        end = step.ended_at
        if end is None:
            end = now if now is not None else step.started_at
        spans.append((step.started_at - origin, max(end, step.started_at) - origin))
    total = max(end for _, end in spans)
    bars: list[Bar] = []
    for (step, depth), (start, end) in zip(steps, spans, strict=True):
        if total > 0:
            left = start / total * 100
            width = max((end - start) / total * 100, MIN_WIDTH)
        else:
            left, width = 0.0, MIN_WIDTH
        left = min(left, 100 - width)
        bars.append(
            Bar(
                step_id=step.id,
                name=step.name,
                type=step.type,
                status=step.status,
                depth=min(depth, MAX_DEPTH),
                offset=start,
                duration=step.duration,
                left=round(left, 2),
                width=round(width, 2),
            )
        )
    return Timeline(key=key, bars=tuple(bars), total=total)


class Shown(Protocol):
    """Which steps the chat shows and where (``lightchat.ui.render.Visibility``)."""

    def shown(self, step: StepData) -> bool: ...

    def anchor(self, transcript: Transcript, step: StepData) -> StepData | None: ...


def runs(transcript: Transcript, visibility: Shown) -> list[Run]:
    """The runs of a chat, in order: a new one starts at each user message."""
    found: list[Run] = []
    current = Run(START_KEY)
    for item in transcript.items.values():
        if isinstance(item, MessageData):
            if item.type == "user_message":
                if current.last_root is not None:
                    found.append(current)
                current = Run(item.id)
            current.last_root = item.id
        elif visibility.shown(item):
            current.steps.append(item)
            if visibility.anchor(transcript, item) is None:
                current.last_root = item.id
    if current.last_root is not None:
        found.append(current)
    return found


def run_timeline(
    transcript: Transcript, visibility: Shown, run: Run, now: float | None = None
) -> Timeline | None:
    """The timeline of one run (None for fewer than two shown steps)."""
    if len(run.steps) < 2:
        return None
    ids = {step.id for step in run.steps}
    children: dict[str | None, list[StepData]] = {}
    for step in run.steps:
        anchor = visibility.anchor(transcript, step)
        parent = anchor.id if anchor is not None and anchor.id in ids else None
        children.setdefault(parent, []).append(step)
    ordered: list[tuple[StepData, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for step in children.get(parent, []):
            ordered.append((step, depth))
            walk(step.id, depth + 1)

    walk(None, 0)
    return layout(run.key, ordered, now)


def finished_timelines(transcript: Transcript, visibility: Shown) -> dict[str, Timeline]:
    """The timelines of the runs that have ended, by the id of the item they follow.

    The last run has not ended while the chat is running.
    """
    found: dict[str, Timeline] = {}
    chat_runs = runs(transcript, visibility)
    for index, run in enumerate(chat_runs):
        if transcript.running and index == len(chat_runs) - 1:
            break
        timeline = run_timeline(transcript, visibility, run)
        if timeline is not None and run.last_root is not None:
            found[run.last_root] = timeline
    return found


def log_items(
    transcript: Transcript, visibility: Shown, roots: list[Item]
) -> list[tuple[Item, Timeline | None]]:
    """The conversation's items, each with the timeline shown after it (if any)."""
    timelines = finished_timelines(transcript, visibility)
    return [(item, timelines.get(item.id)) for item in roots]


def seconds(value: float) -> str:
    """A duration for people: ``0.42 s``, ``12.3 s``, ``2 min 05 s``."""
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"
