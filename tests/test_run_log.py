"""A chat's log as debug mode shows it (``lightchat.ui.run_log``): rows, streamed text
folded into one row, what a stream adds to "Run details", and the log as JSON Lines; and
what a session notes for it, in debug mode only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightchat import Settings
from lightchat.config.registry import Registry
from lightchat.domain.events import (
    AppEvent,
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    StepData,
    StepEvent,
    ToastEvent,
    TokenEvent,
)
from lightchat.domain.user import User, is_admin
from lightchat.ui.debug_view import clock, debug_on, debug_view, duration
from lightchat.ui.render import Renderer
from lightchat.ui.run_log import EVENTS_LIST, RunLogStream, fold, log_lines
from tests.helpers import idle, new_session, wait_for_log

pytestmark = pytest.mark.timeout(30)

MESSAGE = MessageData(id="m1", author="Assistant", type="assistant_message", content="Hi")
STEP = StepData(id="s1", name="search <web>", type="tool", status="done")


def entries(*events: Event) -> list[Entry]:
    """The events as a log, numbered from 1."""
    return [Entry(seq, event) for seq, event in enumerate(events, start=1)]


def test_rows_say_what_each_event_did_and_when() -> None:
    log = entries(
        RunEvent(running=True),
        StepEvent(STEP),
        MessageEvent(MESSAGE),
        ToastEvent("Saved", "success"),
        RemoveEvent("m1"),
        RunEvent(running=False),
    )
    rows = fold(log, {1: 100.0, 2: 100.5})
    assert [row.kind for row in rows] == ["run", "step", "message", "toast", "remove", "run"]
    assert [row.item for row in rows] == ["", "s1", "m1", "", "m1", ""]
    assert rows[0].summary == "running=true"
    assert rows[1].summary == 'type=tool status=done name="search <web>"'
    assert rows[2].summary == 'type=assistant_message author="Assistant" content="Hi"'
    assert rows[3].summary == 'type=success message="Saved"'
    assert [row.at for row in rows[:3]] == [100.0, 100.5, None]


def test_streamed_text_into_one_item_is_one_row() -> None:
    log = entries(
        MessageEvent(MESSAGE),
        TokenEvent("m1", "a"),
        TokenEvent("m1", "bc"),
        TokenEvent("s1", "x"),
        TokenEvent("m1", "d"),
    )
    rows = fold(log, {3: 7.0})
    assert [(row.kind, row.item, row.first, row.last) for row in rows] == [
        ("message", "m1", 1, 1),
        ("tokens", "m1", 2, 3),
        ("tokens", "s1", 4, 4),
        ("tokens", "m1", 5, 5),
    ]
    assert rows[1].summary == "events=2 chars=3"
    assert rows[1].at == 7.0


def test_a_stream_grows_its_last_row_and_adds_new_ones(tmp_path: Path) -> None:
    renderer = Renderer(Settings(app_dir=str(tmp_path)), "test")
    log = entries(MessageEvent(MESSAGE), TokenEvent("m1", "a"), TokenEvent("m1", "b"))
    stream = RunLogStream(renderer, log[:2], {}, chat_url="/chat/c1")
    (grown,) = stream.feed(log[2:])
    assert grown.seq == 3
    assert grown.data.startswith('<hx-partial hx-target="#lc-ev-2" hx-swap="outerHTML">')
    assert "events=2 chars=2" in grown.data
    assert EVENTS_LIST not in grown.data  # nothing new
    (added,) = stream.feed([Entry(4, StepEvent(STEP))])
    assert f'hx-target="#{EVENTS_LIST}" hx-swap="beforeend"' in added.data
    assert 'id="lc-ev-4"' in added.data
    assert "search &lt;web&gt;" in added.data  # escaped
    assert 'href="/chat/c1/debug/replay?at=4"' in added.data
    assert stream.feed([]) == []


def test_the_log_as_json_lines() -> None:
    class Opaque:
        """Something JSON cannot hold, as an app's own event may carry in memory."""

    log = entries(MessageEvent(MESSAGE), AppEvent("ping", Opaque()))
    lines = [json.loads(line) for line in log_lines(log, {1: 12.5})]
    assert lines[0]["seq"] == 1
    assert lines[0]["at"] == 12.5
    assert lines[0]["event"]["message"]["content"] == "Hi"
    assert lines[1] == {"seq": 2, "at": None, "event": {"kind": "AppEvent", "unserializable": True}}


def test_debug_view_is_off_unless_said_for_a_rendering() -> None:
    assert not debug_on()
    with debug_view(True):
        assert debug_on()
    assert not debug_on()
    assert clock(None) == ""
    assert len(clock(0.0)) == len("00:00:00.000")
    assert [duration(s) for s in (0.0004, 0.25, 2.5)] == ["0.4 ms", "250 ms", "2.500 s"]


def test_an_admin_is_a_user_whose_role_is_admin() -> None:
    assert is_admin(User("root", metadata={"role": "admin"}))
    assert is_admin(User("root", metadata={"role": " Admin "}))
    assert not is_admin(User("bob", metadata={"role": "member"}))
    assert not is_admin(User("bob", metadata={"roles": ["admin"]}))
    assert not is_admin(User("bob"))
    assert not is_admin(None)


def test_debug_mode_is_a_setting_from_the_environment() -> None:
    assert not Settings().debug
    assert Settings.from_env({"LIGHTCHAT_DEBUG": "1"}).debug
    assert not Settings.from_env({"LIGHTCHAT_DEBUG": "0"}).debug


@pytest.mark.anyio
@pytest.mark.parametrize("debug", [True, False])
async def test_a_session_notes_times_and_tracebacks_in_debug_mode_only(debug: bool) -> None:
    registry = Registry()

    @registry.on_message
    async def fail(message: object) -> None:
        raise KeyError("missing")

    session = new_session(registry, Settings(debug=debug))
    session.send_user_message("hi")
    await wait_for_log(session.bus, session.id, idle)
    logged = await session.bus.read(session.id)
    errors = [
        e.event.message
        for e in logged
        if isinstance(e.event, MessageEvent) and e.event.message.type == "error"
    ]
    assert [error.content for error in errors] == ["KeyError: 'missing'"]
    if debug:
        assert sorted(session.event_times) == [entry.seq for entry in logged]
        traceback = errors[0].traceback or ""
        assert traceback.startswith("Traceback (most recent call last)")
        assert "in fail" in traceback
        assert traceback.endswith("KeyError: 'missing'\n")
    else:
        assert session.event_times == {}
        assert errors[0].traceback is None
    await session.close()
