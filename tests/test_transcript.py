"""The transcript: the fold of a log into the messages and steps it shows."""

from __future__ import annotations

from lightchat.domain.events import (
    Entry,
    Event,
    FavoriteData,
    FavoriteEvent,
    FavoritesEvent,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    StepData,
    StepEvent,
    TokenEvent,
)
from lightchat.domain.transcript import Transcript


def fold(*events: Event) -> Transcript:
    return Transcript.from_entries(Entry(i, e) for i, e in enumerate(events, start=1))


def msg(id_: str, content: str = "", streaming: bool = False, **kw: object) -> MessageEvent:
    data = MessageData(
        id=id_, author="A", type="assistant_message", content=content, streaming=streaming
    )
    for key, value in kw.items():
        setattr(data, key, value)
    return MessageEvent(data)


def step(id_: str, parent: str | None = None, status: str = "running") -> StepEvent:
    return StepEvent(StepData(id=id_, name=id_, parent_id=parent, status=status))  # type: ignore[arg-type]


def test_tokens_append_to_messages_and_step_outputs() -> None:
    t = fold(
        msg("m", "He", streaming=True),
        step("s"),
        TokenEvent("m", "llo"),
        TokenEvent("s", "out"),
        TokenEvent("m", " world"),
        TokenEvent("s", "put"),
        TokenEvent("ghost", "ignored"),
    )
    m = t.items["m"]
    s = t.items["s"]
    assert isinstance(m, MessageData)
    assert isinstance(s, StepData)
    assert m.content == "Hello world"
    assert s.output == "output"
    assert list(t.items) == ["m", "s"]
    assert t.seq == 7


def test_message_event_replaces_in_place_and_keeps_order() -> None:
    t = fold(msg("a", "first"), msg("b", "second"), msg("c", "third"), msg("a", "FIRST"))
    assert [i.id for i in t.roots()] == ["a", "b", "c"]
    a = t.items["a"]
    assert isinstance(a, MessageData)
    assert a.content == "FIRST"


def test_a_replaced_message_drops_streamed_tokens() -> None:
    t = fold(msg("a", "x", streaming=True), TokenEvent("a", "yz"), msg("a", "final"))
    a = t.items["a"]
    assert isinstance(a, MessageData)
    assert a.content == "final"
    assert not a.streaming


def test_folding_does_not_touch_the_events() -> None:
    created = msg("a", "x", streaming=True)
    t = fold(created, TokenEvent("a", "yz"))
    assert created.message.content == "x"
    a = t.items["a"]
    assert isinstance(a, MessageData)
    assert a.content == "xyz"
    assert a is not created.message


def test_remove_removes_nested_steps_at_any_depth() -> None:
    t = fold(
        step("outer"),
        step("inner", parent="outer"),
        step("deepest", parent="inner"),
        step("sibling", parent="outer"),
        step("other"),
        msg("m", "kept"),
        RemoveEvent("outer"),
    )
    assert list(t.items) == ["other", "m"]


def test_remove_a_message_and_an_unknown_id() -> None:
    t = fold(msg("a"), msg("b"), RemoveEvent("a"), RemoveEvent("nothing"))
    assert list(t.items) == ["b"]


def test_nested_children_and_roots() -> None:
    t = fold(
        msg("question"),
        step("plan"),
        step("search", parent="plan"),
        step("rank", parent="search"),
        step("draft", parent="plan"),
        msg("answer", parent_id="plan"),  # a message inside a step still stands in the log
        step("orphan", parent="gone"),  # a parent that is not a step: shown at the top
    )
    assert [i.id for i in t.roots()] == ["question", "plan", "answer", "orphan"]
    assert [c.id for c in t.children("plan")] == ["search", "draft"]
    assert [c.id for c in t.children("search")] == ["rank"]
    assert t.children("rank") == []
    assert sorted(t.descendants("plan")) == ["draft", "rank", "search"]
    assert t.is_nested(t.items["rank"])
    assert not t.is_nested(t.items["answer"])
    assert not t.is_nested(t.items["orphan"])


def test_open_items_are_streaming_messages_and_running_steps() -> None:
    t = fold(
        msg("done-msg", "x"),
        msg("live-msg", "y", streaming=True),
        step("running-step"),
        step("done-step", status="done"),
        step("failed-step", status="failed"),
    )
    assert [i.id for i in t.open_items()] == ["live-msg", "running-step"]
    t.apply(Entry(6, msg("live-msg", "y")))
    t.apply(Entry(7, step("running-step", status="done")))
    assert t.open_items() == []


def test_run_events_set_running() -> None:
    t = fold(RunEvent(running=True))
    assert t.running
    t.apply(Entry(2, RunEvent(running=False)))
    assert not t.running
    assert t.seq == 2


def test_a_favourite_mark_stays_through_updates_and_snapshots() -> None:
    question = msg("q", "Keep me", type="user_message")
    listed = FavoritesEvent([FavoriteData("x", "From the app")])
    t = fold(question, listed, FavoriteEvent("q", favorite=True), msg("q", "Edited"))
    shown = t.items["q"]
    assert isinstance(shown, MessageData)
    # The mark is the user's: an update of the message (which does not carry it) keeps it.
    assert (shown.content, shown.favorite) == ("Edited", True)
    assert t.favorites is None  # the user marked a message: their own list shows again

    t = fold(question, FavoriteEvent("q", favorite=True), listed, FavoriteEvent("ghost", False))
    assert t.favorites is None
    assert t.items["q"].favorite is True  # type: ignore[union-attr]
    t = fold(question, FavoriteEvent("q", favorite=True), listed)
    rebuilt = fold(*t.snapshot_events())
    assert rebuilt.favorites == [FavoriteData("x", "From the app")]
    assert rebuilt.items["q"].favorite is True  # type: ignore[union-attr]
    unmarked = fold(*t.snapshot_events(), FavoriteEvent("q", favorite=False))
    assert unmarked.items["q"].favorite is False  # type: ignore[union-attr]
