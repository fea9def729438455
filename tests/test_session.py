"""ChatSession and Chats: serialized runs, stop, the error boundary, token batching, ends."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from lightchat import LightChat, Message, Settings, Step, context
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.domain.events import Event, MessageData, MessageEvent, RunEvent, TokenEvent
from lightchat.errors import SessionClosedError
from tests.helpers import (
    WAIT_S,
    contents,
    events_of,
    messages_in,
    new_session,
    steps_in,
    wait_for_log,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


def run_flags(events: list[Event]) -> list[bool]:
    return [e.running for e in events if isinstance(e, RunEvent)]


async def test_on_chat_start_runs_before_the_first_message() -> None:
    app = LightChat()
    calls: list[str] = []
    received: list[Message] = []

    @app.on_chat_start
    async def start() -> None:
        calls.append("start")
        await Message(content="Welcome").send()

    @app.on_message
    async def main(message: Message) -> None:
        calls.append(f"message:{message.content}")
        received.append(message)
        await Message(content=f"You said {message.content}").send()

    session = new_session(app)
    started = session.start()
    answered = session.send_user_message("hi")
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(started, answered)

    assert calls == ["start", "message:hi"]
    events = await events_of(session)
    # The user's message shows at once; the answers come in the order the callbacks ran.
    assert contents(events, "user_message") == ["hi"]
    assert contents(events) == ["Welcome", "You said hi"]
    assert run_flags(events) == [True, False]
    assert events[-1] == RunEvent(running=False)
    (message,) = received
    assert isinstance(message, Message)
    assert message.type == "user_message"
    assert message.author == "You"
    user = messages_in(events)[0]
    assert message.id == user.id


async def test_messages_sent_during_a_run_queue_and_keep_their_order() -> None:
    app = LightChat()
    entered = asyncio.Event()
    gate = asyncio.Event()
    active = 0
    most_active = 0
    order: list[str] = []

    @app.on_message
    async def main(message: Message) -> None:
        nonlocal active, most_active
        active += 1
        most_active = max(most_active, active)
        order.append(message.content)
        if message.content == "first":
            entered.set()
            await gate.wait()
        await asyncio.sleep(0)  # let another run sneak in, if the session allowed it
        await Message(content=f"answer to {message.content}").send()
        active -= 1

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        runs = [session.send_user_message("first")]
        await entered.wait()
        runs += [session.send_user_message(text) for text in ("second", "third", "fourth")]

        # Every message shows at once; none of the queued ones has run yet.
        events = await events_of(session)
        assert contents(events, "user_message") == ["first", "second", "third", "fourth"]
        assert contents(events) == []
        assert not any(run.done() for run in runs)
        assert session.running

        gate.set()
        await asyncio.gather(*runs)

    assert order == ["first", "second", "third", "fourth"]
    assert most_active == 1
    events = await events_of(session)
    assert contents(events) == [f"answer to {t}" for t in ("first", "second", "third", "fourth")]
    assert run_flags(events) == [True, False]
    assert not session.running


async def test_a_raising_callback_shows_an_error_and_the_chat_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "bad":
            raise ValueError("boom <b>here</b>")
        await Message(content=f"fine: {message.content}").send()

    session = new_session(app)
    with caplog.at_level(logging.ERROR, logger="lightchat"):
        async with asyncio.timeout(WAIT_S):
            await session.send_user_message("bad")
            await session.send_user_message("good")

    events = await events_of(session)
    errors = [m for m in messages_in(events) if m.type == "error"]
    assert len(errors) == 1
    assert errors[0].content == "ValueError: boom <b>here</b>"
    assert "Traceback" not in errors[0].content
    assert contents(events) == ["fine: good"]
    assert run_flags(events) == [True, False, True, False]
    # The traceback goes to the log, not to the chat.
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_an_exception_without_text_shows_its_type() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        raise KeyError()

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("x")
    assert contents(await events_of(session), "error") == ["KeyError"]


async def test_stop_keeps_what_was_shown_fails_open_steps_and_calls_on_stop() -> None:
    app = LightChat()
    reached = asyncio.Event()
    stops: list[str] = []

    @app.on_message
    async def main(message: Message) -> None:
        if message.content != "go":
            await Message(content=f"later: {message.content}").send()
            return
        reply = Message(content="")
        await reply.stream_token("Hello")
        await reply.stream_token(" wor")
        await Step(name="manual", type="tool").send()  # shown running, never ended by the app
        async with Step(name="waiting"):
            reached.set()
            await asyncio.Event().wait()  # until stopped

    @app.on_stop
    async def stopped() -> None:
        stops.append(context.session.id)
        await Message(content="Stopped.").send()

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        done = session.send_user_message("go")
        await reached.wait()
        assert await session.stop() is True
        await done

    assert stops == [session.id]
    events = await events_of(session)
    reply = next(m for m in messages_in(events) if m.type == "assistant_message")
    last_reply = [m for m in messages_in(events) if m.id == reply.id][-1]
    assert last_reply.streaming is False
    assert last_reply.content == "Hello wor"
    shown = session.transcript.items[reply.id]
    assert isinstance(shown, MessageData)
    assert shown.content == "Hello wor"
    assert not shown.streaming
    final_steps = {s.name: s for s in steps_in(events)}
    assert set(final_steps) == {"manual", "waiting"}
    for step in final_steps.values():
        assert step.status == "failed"
        assert step.ended_at is not None
    assert session.transcript.open_items() == []
    assert "Stopped." in contents(events)
    assert not session.running

    # Nothing runs now: stop is a no-op, and the chat still answers.
    assert await session.stop() is False
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("again")
    assert contents(await events_of(session))[-1] == "later: again"
    assert stops == [session.id]


async def test_stop_lets_queued_messages_run() -> None:
    app = LightChat()
    reached = asyncio.Event()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "slow":
            reached.set()
            await asyncio.Event().wait()
        await Message(content=f"answer {message.content}").send()

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        slow = session.send_user_message("slow")
        queued = session.send_user_message("next")
        await reached.wait()
        await session.stop()
        await asyncio.gather(slow, queued)
    assert contents(await events_of(session)) == ["answer next"]


async def test_on_stop_finishes_before_the_next_queued_run_starts() -> None:
    app = LightChat()
    reached = asyncio.Event()
    order: list[str] = []

    @app.on_message
    async def main(message: Message) -> None:
        order.append(f"start {message.content}")
        if message.content == "slow":
            reached.set()
            await asyncio.Event().wait()
        await asyncio.sleep(0)
        order.append(f"end {message.content}")

    @app.on_stop
    async def stopped() -> None:
        order.append("on_stop start")
        await asyncio.sleep(0)  # a turn of the loop in which another run could slip in
        await Message(content="Stopped.").send()
        order.append("on_stop end")

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        slow = session.send_user_message("slow")
        queued = session.send_user_message("next")
        await reached.wait()
        first, second = await asyncio.gather(session.stop(), session.stop())  # a double click
        assert (first, second) == (True, False)
        await asyncio.gather(slow, queued)
    assert order == ["start slow", "on_stop start", "on_stop end", "start next", "end next"]
    events = await events_of(session)
    assert contents(events)[-1] == "Stopped."
    assert run_flags(events) == [True, False]


async def test_other_events_flush_gathered_tokens_first() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        a = Message(content="")
        await a.stream_token("a1")
        await a.stream_token("a2")
        await a.stream_token("a3")
        await Message(content="B").send()
        await a.stream_token("a4")
        await a.send()

    session = new_session(app, Settings(token_batch_ms=10_000))
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("go")
    events = await events_of(session)
    shown = [
        e.delta if isinstance(e, TokenEvent) else e.message.content
        for e in events
        if isinstance(e, TokenEvent) or (isinstance(e, MessageEvent) and e.message.author != "You")
    ]
    assert shown == ["a1", "a2", "a3", "B", "a4", "a1a2a3a4"]


async def test_sync_callbacks_run_in_a_worker_thread_with_the_chat_context() -> None:
    app = LightChat()
    seen: list[tuple[int, str]] = []

    @app.on_message
    def main(message: Message) -> None:
        seen.append((threading.get_ident(), context.session.id))

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("x")
    ((thread, session_id),) = seen
    assert thread != threading.get_ident()
    assert session_id == session.id


async def test_close_runs_on_chat_end_once_and_refuses_input() -> None:
    app = LightChat()
    ended: list[str] = []
    reached = asyncio.Event()

    @app.on_message
    async def main(message: Message) -> None:
        reached.set()
        await asyncio.Event().wait()

    @app.on_chat_end
    async def end() -> None:
        ended.append(context.session.id)

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        running = session.send_user_message("busy")
        queued = session.send_user_message("queued")
        await reached.wait()
        await session.close()
        await asyncio.gather(running, queued)  # nobody waits forever on a closed chat
        await session.close()

    assert ended == [session.id]
    assert session.closed
    assert not session.running
    assert await session.bus.read(session.id) == []
    with pytest.raises(SessionClosedError, match="open a new chat"):
        session.send_user_message("hello?")


async def test_errors_in_on_stop_and_on_chat_end_do_not_break_the_chat() -> None:
    app = LightChat()
    reached = asyncio.Event()

    @app.on_message
    async def main(message: Message) -> None:
        reached.set()
        await asyncio.Event().wait()

    @app.on_stop
    async def stopped() -> None:
        raise RuntimeError("on_stop broke")

    @app.on_chat_end
    def end() -> None:
        raise RuntimeError("on_chat_end broke")

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        session.send_user_message("x")
        await reached.wait()
        assert await session.stop()
        assert contents(await events_of(session), "error") == ["RuntimeError: on_stop broke"]
        await session.close()
    assert session.closed


async def test_sessions_on_one_bus_keep_their_own_order() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        for i in range(20):
            await reply.stream_token(f"{message.content}-{i};")
            await Message(content=f"{message.content}#{i}").send()
            await asyncio.sleep(0)
        await reply.send()

    bus = MemoryBus()
    settings = Settings(token_batch_ms=5)
    sessions = [new_session(app, settings, bus=bus, owner=f"o{n}") for n in range(4)]
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(
            *(s.send_user_message(f"s{n}r{r}") for n, s in enumerate(sessions) for r in range(2))
        )
    for n, session in enumerate(sessions):
        events = await events_of(session)
        numbered = [c for c in contents(events) if "#" in c]
        expected = [f"s{n}r{r}#{i}" for r in range(2) for i in range(20)]
        assert numbered == expected
        replies = [c for c in contents(events) if c.endswith(";")]
        assert replies == ["".join(f"s{n}r{r}-{i};" for i in range(20)) for r in range(2)]
        entries = await bus.read(session.id)
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))


async def test_chats_get_refuses_another_owner() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        pass

    chats = Chats(app, MemoryBus(), Settings(), message_factory=Message.from_data)
    mine = chats.create("alice")
    assert chats.get(mine.id, "alice") is mine
    assert chats.get(mine.id, "bob") is None
    assert chats.get("no-such-chat", "alice") is None
    assert len(chats) == 1
    await mine.close()
    assert chats.get(mine.id, "alice") is None
    await chats.close_all()


async def test_chats_create_runs_on_chat_start() -> None:
    app = LightChat()

    @app.on_chat_start
    async def start() -> None:
        await Message(content="hello").send()

    chats = Chats(app, MemoryBus(), Settings(), message_factory=Message.from_data)
    session = chats.create("alice")
    events = await wait_for_log(chats.bus, session.id, lambda ev: RunEvent(False) in ev)
    assert contents(events) == ["hello"]
    await chats.close_all()


async def test_reap_ends_idle_chats_only() -> None:
    app = LightChat()
    ended: list[str] = []
    reached = asyncio.Event()

    @app.on_message
    async def main(message: Message) -> None:
        reached.set()
        await asyncio.Event().wait()

    @app.on_chat_end
    async def end() -> None:
        ended.append(context.session.owner)

    chats = Chats(app, MemoryBus(), Settings(session_idle_timeout_s=60))
    long_ago = time.monotonic() - 3600
    idle = chats.create("idle")
    recent = chats.create("recent")
    watched = chats.create("watched")
    busy = chats.create("busy")
    async with asyncio.timeout(WAIT_S):
        busy.send_user_message("work")
        await reached.wait()
    for session in (idle, watched, busy):
        session.last_active = long_ago
    watched.connections = 1

    async with asyncio.timeout(WAIT_S):
        assert await chats.reap() == 1
    assert ended == ["idle"]
    assert idle.closed
    assert chats.get(idle.id, "idle") is None
    for session in (recent, watched, busy):
        assert chats.get(session.id, session.owner) is session
    assert len(chats) == 3

    async with asyncio.timeout(WAIT_S):
        await chats.close_all()
    assert sorted(ended) == ["busy", "idle", "recent", "watched"]
    assert len(chats) == 0
