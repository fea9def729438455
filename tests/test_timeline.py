"""A run's timeline: the layout's arithmetic (offsets and widths of nested, running,
zero-length and clock-skewed steps), which runs get one, its partial, the page and the
stream."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lightchat.config.settings import Settings
from lightchat.domain.events import (
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    StepData,
    StepEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.ui.render import Renderer, Visibility
from lightchat.ui.stream_view import Chunk, StreamView
from lightchat.ui.timeline import (
    MAX_DEPTH,
    MIN_WIDTH,
    START_KEY,
    finished_timelines,
    layout,
    run_timeline,
    runs,
    seconds,
)
from tests.helpers import assert_inert

RENDERER = Renderer(Settings(), "test")
FULL = Visibility("full")


def step(id_: str, start: float, end: float | None, **kw: object) -> StepData:
    made = StepData(id=id_, name=id_, started_at=start, ended_at=end)
    made.status = "running" if end is None else "done"
    return replace(made, **kw)  # type: ignore[arg-type]


def user(id_: str) -> MessageEvent:
    return MessageEvent(MessageData(id=id_, author="You", type="user_message", content="q"))


def answer(id_: str) -> MessageEvent:
    return MessageEvent(MessageData(id=id_, author="Bot", type="assistant_message", content="a"))


def transcript_of(*events: Event) -> Transcript:
    return Transcript.from_entries(Entry(i, e) for i, e in enumerate(events, start=1))


# -- layout ----------------------------------------------------------------------------------


def test_one_step_has_no_timeline() -> None:
    assert layout("m1", [(step("a", 10.0, 11.0), 0)]) is None
    assert layout("m1", []) is None


def test_offsets_and_widths_of_nested_steps() -> None:
    timeline = layout(
        "m1",
        [
            (step("plan", 10.0, 12.0), 0),
            (step("search", 10.5, 11.0), 1),
            (step("rank", 11.0, 12.0), 1),
            (step("write", 12.0, 14.0), 0),
        ],
    )
    assert timeline is not None
    assert timeline.total == 4.0
    assert timeline.dom_id == "lc-timeline-m1"
    got = [(b.name, b.depth, b.offset, b.duration, b.left, b.width) for b in timeline.bars]
    assert got == [
        ("plan", 0, 0.0, 2.0, 0.0, 50.0),
        ("search", 1, 0.5, 0.5, 12.5, 12.5),
        ("rank", 1, 1.0, 1.0, 25.0, 25.0),
        ("write", 0, 2.0, 2.0, 50.0, 50.0),
    ]


def test_a_running_step_reaches_now_or_has_no_length() -> None:
    steps = [(step("done", 0.0, 1.0), 0), (step("going", 1.0, None), 0)]
    live = layout("m1", steps, now=3.0)
    assert live is not None
    assert live.total == 3.0
    going = live.bars[1]
    assert (going.status, going.duration, going.left, going.width) == (
        "running",
        None,
        33.33,
        66.67,
    )
    still = layout("m1", steps)  # no clock: it has not lasted yet
    assert still is not None
    assert still.total == 1.0
    assert (still.bars[1].left, still.bars[1].width) == (100 - MIN_WIDTH, MIN_WIDTH)


def test_zero_length_steps_still_show() -> None:
    timeline = layout("m1", [(step("a", 5.0, 5.0), 0), (step("b", 5.0, 5.0), 0)])
    assert timeline is not None
    assert timeline.total == 0.0
    assert [(b.left, b.width) for b in timeline.bars] == [(0.0, MIN_WIDTH), (0.0, MIN_WIDTH)]
    short = layout("m1", [(step("a", 0.0, 100.0), 0), (step("b", 100.0, 100.0), 0)])
    assert short is not None
    assert short.bars[1].width == MIN_WIDTH
    assert short.bars[1].left + short.bars[1].width <= 100


def test_clock_skew_ending_before_starting_is_zero_length() -> None:
    # A step whose end was written by a clock behind its start's; a child that seems to
    # start before its parent (the origin is the earliest start, so no bar starts before 0).
    timeline = layout(
        "m1",
        [(step("parent", 10.0, 12.0), 0), (step("child", 9.0, 8.5), 1)],
    )
    assert timeline is not None
    parent, child = timeline.bars
    assert (child.offset, child.duration, child.width) == (0.0, 0.0, MIN_WIDTH)
    assert parent.offset == 1.0
    assert parent.left == pytest.approx(33.33)
    assert timeline.total == 3.0
    assert all(b.left >= 0 and b.left + b.width <= 100.001 for b in timeline.bars)


def test_deep_nesting_indents_no_further_than_the_limit() -> None:
    steps = [(step(f"s{i}", float(i), float(i + 1)), i) for i in range(MAX_DEPTH + 3)]
    timeline = layout("m1", steps)
    assert timeline is not None
    assert max(b.depth for b in timeline.bars) == MAX_DEPTH


def test_seconds_reads_well() -> None:
    assert seconds(0.0) == "0.00 s"
    assert seconds(1.234) == "1.23 s"
    assert seconds(12.34) == "12.3 s"
    assert seconds(125) == "2 min 05 s"


# -- runs ------------------------------------------------------------------------------------


def chat() -> Transcript:
    return transcript_of(
        StepEvent(step("warmup", 0.0, 0.5)),  # on_chat_start's one step
        answer("welcome"),
        user("m1"),
        StepEvent(step("plan", 10.0, 12.0, type="run")),
        StepEvent(step("search", 10.5, 11.0, type="tool", parent_id="plan")),
        StepEvent(step("rank", 11.0, 12.0, type="tool", parent_id="plan")),
        StepEvent(step("write", 12.0, 14.0, type="llm")),
        answer("a1"),
        user("m2"),
        StepEvent(step("alone", 20.0, 21.0, type="tool")),
        answer("a2"),
    )


def test_runs_split_at_user_messages_and_end_at_their_last_item() -> None:
    found = runs(chat(), FULL)
    assert [(r.key, [s.id for s in r.steps], r.last_root) for r in found] == [
        (START_KEY, ["warmup"], "welcome"),
        ("m1", ["plan", "search", "rank", "write"], "a1"),
        ("m2", ["alone"], "a2"),
    ]


def test_the_timeline_follows_the_order_and_nesting_the_chat_shows() -> None:
    transcript = chat()
    timeline = run_timeline(transcript, FULL, runs(transcript, FULL)[1])
    assert timeline is not None
    assert [(b.name, b.depth) for b in timeline.bars] == [
        ("plan", 0),
        ("search", 1),
        ("rank", 1),
        ("write", 0),
    ]
    # With tool_call only tool steps show: they stand at the top, and two make a timeline.
    tools = Visibility("tool_call")
    shown = run_timeline(transcript, tools, runs(transcript, tools)[1])
    assert shown is not None
    assert [(b.name, b.depth) for b in shown.bars] == [("search", 0), ("rank", 0)]
    assert finished_timelines(transcript, Visibility("hidden")) == {}


def test_only_runs_that_ended_get_a_timeline() -> None:
    transcript = chat()
    assert list(finished_timelines(transcript, FULL)) == ["a1"]
    running = transcript_of(user("m1"), StepEvent(step("a", 0, 1)), StepEvent(step("b", 1, None)))
    running.running = True
    assert finished_timelines(running, FULL) == {}
    running.running = False
    assert list(finished_timelines(running, FULL)) == ["b"]


# -- rendering -------------------------------------------------------------------------------


def test_the_partial_says_each_step_in_words_and_draws_its_bar() -> None:
    transcript = chat()
    timeline = run_timeline(transcript, FULL, runs(transcript, FULL)[1])
    assert timeline is not None
    out = RENDERER.timeline(timeline)
    assert out.startswith('<div id="lc-timeline-m1" class="lc-timeline" data-steps="4">')
    assert "<details>" in out  # closed at first
    assert "Timeline" in out
    assert "4 steps · 4.00 s" in out
    assert out.count('class="lc-timeline-row"') == 4
    assert (
        '<li class="lc-timeline-row" data-depth="1" data-status="done" data-type="tool"'
        ' data-step="search">'
    ) in out
    assert '<span class="lc-timeline-name">search</span>' in out
    assert '<span class="lc-timeline-duration">0.50 s</span>' in out
    assert '<span class="lc-visually-hidden">starts at 0.50 s</span>' in out
    assert '<rect x="12.5%" y="2" width="12.5%"' in out
    assert 'aria-hidden="true"' in out.split("<svg", 1)[1]  # the list says it; the bar draws it


def test_the_partial_escapes_step_names() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    timeline = layout("m1", [(step("a", 0, 1, name=hostile), 0), (step("b", 1, 2), 0)])
    assert timeline is not None
    out = RENDERER.timeline(timeline)
    assert "<img" not in out
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in out
    assert_inert(out)


def test_the_page_shows_a_timeline_after_each_finished_run() -> None:
    html = RENDERER.page("_log_items.html", transcript=chat(), base="", chat_url="/chat/c1")
    assert html.count('class="lc-timeline"') == 1
    after_answer = html.split('id="msg-a1"', 1)[1]
    assert 'id="lc-timeline-m1"' in after_answer
    assert 'id="lc-timeline-m1"' not in html.split('id="msg-a1"', 1)[0]
    assert 'id="lc-timeline-m1"' in after_answer.split('id="msg-m2"', 1)[0]


def test_a_running_step_says_running_without_javascript() -> None:
    out = RENDERER.step(step("crawl", 1000.0, None), Transcript(), "")
    assert 'Using <span class="lc-step-name">crawl</span>' in out
    assert '<time class="lc-step-elapsed"' in out
    assert 'data-lc-started="1000.000">Running</time>' in out
    done = RENDERER.step(step("crawl", 1000.0, 1001.5), Transcript(), "")
    assert 'Used <span class="lc-step-name">crawl</span>' in done
    assert '<span class="lc-step-duration">1.50 s</span>' in done
    assert "lc-step-elapsed" not in done
    failed = RENDERER.step(step("crawl", 1000.0, 1001.0, status="failed"), Transcript(), "")
    assert '<span class="lc-step-name">crawl</span> failed' in failed


# -- the stream ------------------------------------------------------------------------------


def view_of(transcript: Transcript) -> StreamView:
    return StreamView(RENDERER, transcript, base="", chat_url="/chat/c1", interval=0.05)


def partials(chunks: list[Chunk]) -> str:
    return "".join(chunk.data for chunk in chunks)


def test_the_stream_adds_the_timeline_when_the_run_ends() -> None:
    transcript = transcript_of(user("m1"), RunEvent(running=True))
    view = view_of(transcript)
    entries = [
        Entry(3, StepEvent(step("a", 0.0, 1.0))),
        Entry(4, StepEvent(step("b", 1.0, 2.0))),
        Entry(5, answer("a1")),
    ]
    assert "lc-timeline" not in partials(view.feed(entries, now=0.0))
    ended = partials(view.feed([Entry(6, RunEvent(running=False))], now=0.0))
    assert '<hx-partial hx-target="#lc-log" hx-swap="beforeend"><div id="lc-timeline-m1"' in ended
    # The chat going idle again (a name given to the thread) redraws it in place.
    again = partials(view.feed([Entry(7, RunEvent(running=False))], now=0.0))
    assert '<hx-partial hx-target="#lc-timeline-m1" hx-swap="outerMorph">' in again
    # A run with one step adds none.
    more = [
        Entry(8, user("m2")),
        Entry(9, RunEvent(running=True)),
        Entry(10, StepEvent(step("c", 3.0, 4.0))),
        Entry(11, RunEvent(running=False)),
    ]
    assert "lc-timeline" not in partials(view.feed(more, now=0.0))


def test_a_run_that_grew_moves_its_timeline_after_its_new_last_item() -> None:
    transcript = chat()
    view = view_of(transcript)  # the page shows m1's timeline after a1
    grew = [
        Entry(50, RunEvent(running=True)),
        Entry(51, StepEvent(step("late", 30.0, 31.0))),
        Entry(52, answer("a3")),
        Entry(53, RunEvent(running=False)),
    ]
    out = partials(view.feed(grew, now=0.0))
    assert "lc-timeline-m2" in out  # m2's run now has two steps: alone and late
    assert '<hx-partial hx-target="#lc-log" hx-swap="beforeend"><div id="lc-timeline-m2"' in out


def test_an_action_run_moves_the_timeline_after_what_it_added() -> None:
    transcript = transcript_of(
        user("m1"), StepEvent(step("a", 0.0, 1.0)), StepEvent(step("b", 1.0, 2.0)), answer("a1")
    )
    view = view_of(transcript)  # the page shows m1's timeline after a1
    action = [
        Entry(10, RunEvent(running=True)),  # an action's callback: no user message
        Entry(11, StepEvent(step("c", 5.0, 6.0))),
        Entry(12, answer("a2")),
        Entry(13, RunEvent(running=False)),
    ]
    out = partials(view.feed(action, now=0.0))
    assert '<hx-partial hx-target="#lc-timeline-m1" hx-swap="delete">' in out
    moved = out.split('hx-swap="delete">', 1)[1]
    assert '<hx-partial hx-target="#lc-log" hx-swap="beforeend"><div id="lc-timeline-m1"' in moved
    assert 'data-steps="3"' in moved


def test_removing_a_runs_steps_removes_its_timeline() -> None:
    view = view_of(chat())
    removed = [Entry(60, RemoveEvent("plan")), Entry(61, RemoveEvent("write"))]
    out = partials(view.feed(removed, now=0.0))
    assert '<hx-partial hx-target="#lc-timeline-m1" hx-swap="delete">' in out
