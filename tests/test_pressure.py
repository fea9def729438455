"""Token batching that adapts to the event loop's load: a quiet loop sends each token at
once, a busy one gathers them for a window that widens while the load lasts and closes
when it ends (``lightchat.chat.pressure``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from lightchat import LightChat, Message, Settings
from lightchat.chat import pressure
from lightchat.chat.pressure import LoopLoad, for_loop
from lightchat.chat.session import TOKEN_GAP_S
from lightchat.domain.events import Event, MessageData, MessageEvent, TokenEvent, new_id
from tests.helpers import WAIT_S, events_of, new_session, until, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

BUSY = 0.02  # a lag well past BUSY_S
CALM = 0.0001  # a lag well under QUIET_S


async def a_load() -> LoopLoad:
    return LoopLoad(asyncio.get_running_loop())


async def test_a_quiet_loop_calls_for_no_window() -> None:
    load = await a_load()
    assert load.window(0.2) == 0
    for _ in range(10):
        load.note(CALM)
    assert load.window(0.2) == 0


async def test_the_window_widens_while_the_loop_stays_busy_and_closes_after() -> None:
    load = await a_load()
    widths = []
    for _ in range(20):
        load.note(BUSY)
        widths.append(load.window(10.0))
    assert widths[0] > 0
    assert widths == sorted(widths)  # it only widens while the load lasts
    assert widths[-1] > widths[0]
    # ...up to a few times the lag (waiting longer would cost more than it saves)...
    assert widths[-1] == pytest.approx(pressure.SPREAD * BUSY)
    # ...and never past the chat's own limit.
    assert load.window(0.01) == 0.01
    assert load.window(0) == 0
    narrowing = []
    for _ in range(40):
        load.note(CALM)
        narrowing.append(load.window(10.0))
    assert narrowing == sorted(narrowing, reverse=True)
    assert narrowing[-1] == 0


async def test_one_pause_does_not_open_a_window() -> None:
    load = await a_load()
    for lag in [CALM, CALM, 0.25, CALM, CALM, CALM, 0.3, CALM]:
        load.note(lag)
        assert load.window(1.0) == 0


async def test_a_window_holds_between_quiet_and_busy() -> None:
    load = await a_load()
    for _ in range(pressure.SAMPLES):
        load.note(BUSY)
    opened = load.window(1.0)
    assert opened > 0
    between = (pressure.QUIET_S + pressure.BUSY_S) / 2
    for _ in range(pressure.SAMPLES + 3):
        load.note(between)
    assert load.window(1.0) == opened


async def test_a_load_taken_long_ago_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    load = await a_load()
    for _ in range(pressure.SAMPLES):
        load.note(BUSY)
    assert load.window(1.0) > 0
    # Nothing streamed for longer than STALE_S: the next token finds a quiet loop.
    monkeypatch.setattr(pressure, "SAMPLE_S", 0.0)
    monkeypatch.setattr(pressure, "STALE_S", 0.0)
    assert load.window(1.0) == 0


async def test_the_loop_is_probed_while_tokens_stream() -> None:
    load = await a_load()
    load.window(1.0)  # the first look starts a probe
    await until(lambda: load.lag > 0, "the probe to come back")
    assert load.lag < 1.0


async def test_each_loop_has_one_load() -> None:
    loop = asyncio.get_running_loop()
    assert for_loop(loop) is for_loop(loop)


# -- the session's batching ---------------------------------------------------------------------


@asynccontextmanager
async def busy_loop(turn_s: float = 0.006) -> AsyncIterator[LoopLoad]:
    """Keep the running loop busy: a callback that works for ``turn_s`` at every turn of
    the loop, as hundreds of chats would. Yields the loop's load once it calls for a window."""
    loop = asyncio.get_running_loop()
    running = True

    def work() -> None:
        end = time.perf_counter() + turn_s
        while time.perf_counter() < end:  # the load itself: work, not a wait
            pass
        if running:
            loop.call_soon(work)

    loop.call_soon(work)
    load = for_loop(loop)
    try:
        while load.span == 0:  # the window opens once the loop has been busy a while
            load.window(1.0)  # a chat streaming: the load is looked at
            await asyncio.sleep(0)
        yield load
    finally:
        running = False


def streamed_reply() -> MessageData:
    return MessageData(id=new_id(), author="Assistant", type="assistant_message", streaming=True)


def streamed(events: list[Event]) -> str:
    """The reply's text as its first state and token events give it."""
    replies = [
        e for e in events if isinstance(e, MessageEvent) and e.message.type == "assistant_message"
    ]
    if not replies:
        return ""
    first = replies[0]
    tokens = [e.delta for e in events if isinstance(e, TokenEvent) and e.id == first.message.id]
    return first.message.content + "".join(tokens)


async def test_a_token_on_a_quiet_loop_is_published_at_once() -> None:
    app = LightChat()
    session = new_session(app, Settings(token_batch_ms=10_000))
    reply = streamed_reply()
    session.emit_message(reply)
    before = session.bus.last_seq(session.id)
    session.stream(reply.id, "hello")  # no await: nothing else runs in between
    assert session.bus.last_seq(session.id) == before + 1
    events = await events_of(session)
    assert [e.delta for e in events if isinstance(e, TokenEvent)] == ["hello"]


async def test_tokens_faster_than_the_gap_go_together_soon_after() -> None:
    app = LightChat()
    session = new_session(app, Settings(token_batch_ms=10_000))
    reply = streamed_reply()
    session.emit_message(reply)
    session.stream(reply.id, "a")  # at once
    before = session.bus.last_seq(session.id)
    for word in ("b", "c", "d"):  # a model streaming as fast as it can
        session.stream(reply.id, word)
    assert session.bus.last_seq(session.id) == before  # held, not sent
    events = await wait_for_log(
        session.bus, session.id, lambda ev: streamed(ev) == "abcd", timeout=1
    )
    assert [e.delta for e in events if isinstance(e, TokenEvent)] == ["a", "bcd"]


async def test_a_busy_loop_gathers_tokens_into_few_events_in_order() -> None:
    app = LightChat()
    words = [f"w{i} " for i in range(60)]

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        for word in words:
            await reply.stream_token(word)
            await asyncio.sleep(0)  # a model yields between tokens
        await reply.send()

    session = new_session(app, Settings(token_batch_ms=200))
    async with asyncio.timeout(WAIT_S), busy_loop():
        await session.send_user_message("go")
    events = await events_of(session)
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert 1 <= len(tokens) <= len(words) // 2
    assert streamed(events) == "".join(words)
    last = [e for e in events if isinstance(e, MessageEvent)][-1]
    assert not last.message.streaming
    assert last.message.content == "".join(words)
    assert events.index(last) > max(events.index(t) for t in tokens)


async def test_gathered_tokens_are_flushed_when_the_window_ends() -> None:
    app = LightChat()
    gate = asyncio.Event()
    text = "".join(f"t{i} " for i in range(50))

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        for i in range(50):
            await reply.stream_token(f"t{i} ")
        await gate.wait()  # nothing else is published: only the window's end can flush

    session = new_session(app, Settings(token_batch_ms=50))
    async with asyncio.timeout(WAIT_S), busy_loop():
        done = session.send_user_message("go")
        events = await wait_for_log(session.bus, session.id, lambda ev: streamed(ev) == text)
        # The first token showed the message; the others waited for the window together.
        assert len([e for e in events if isinstance(e, TokenEvent)]) == 1
        gate.set()
        await done


async def test_tokens_go_out_at_once_again_when_the_load_ends() -> None:
    app = LightChat()
    session = new_session(app, Settings(token_batch_ms=10_000))
    reply = streamed_reply()
    session.emit_message(reply)
    async with busy_loop() as load:
        before = session.bus.last_seq(session.id)
        session.stream(reply.id, "held")
        assert session.bus.last_seq(session.id) == before  # gathered, not sent
    session.flush_tokens()

    def calm() -> bool:
        load.window(1.0)  # a chat streaming: the load is looked at
        return load.span == 0

    await until(calm, "the window to close")
    before = session.bus.last_seq(session.id)
    session.stream(reply.id, "at once")
    assert session.bus.last_seq(session.id) == before + 1


async def test_token_batch_ms_zero_never_batches() -> None:
    app = LightChat()
    session = new_session(app, Settings(token_batch_ms=0))
    reply = streamed_reply()
    session.emit_message(reply)
    async with busy_loop():
        before = session.bus.last_seq(session.id)
        for word in ("a", "b", "c"):
            session.stream(reply.id, word)
        assert session.bus.last_seq(session.id) == before + 3


async def test_a_loop_that_works_hard_but_keeps_up_sends_paced_tokens_at_once() -> None:
    app = LightChat()
    session = new_session(app, Settings(token_batch_ms=10_000))
    reply = streamed_reply()
    session.emit_message(reply)
    load = for_loop(asyncio.get_running_loop())
    for _ in range(10):  # many chats keep the thread working, yet what is ready runs at once
        load.note(CALM, 0.95)
    assert load.window(10.0) > 0
    assert not load.lagging
    before = session.bus.last_seq(session.id)
    session.stream(reply.id, "a")
    assert session.bus.last_seq(session.id) == before + 1  # sent at once
    session.stream(reply.id, "b")  # right after it, as a model streaming flat out
    assert session.bus.last_seq(session.id) == before + 1  # gathered: batching pays here
    session.flush_tokens()
    await asyncio.sleep(2 * TOKEN_GAP_S)  # the pace itself: slower than back to back
    for _ in range(10):
        load.note(CALM, 0.95)
    assert load.window(10.0) > 0
    before = session.bus.last_seq(session.id)
    session.stream(reply.id, "c")
    assert session.bus.last_seq(session.id) == before + 1  # not kept waiting
    # The same pace on a loop that runs what is ready late: gathered (every token waits).
    for _ in range(10):
        load.note(BUSY)
    assert load.lagging
    await asyncio.sleep(2 * TOKEN_GAP_S)
    session.stream(reply.id, "d")
    assert session.bus.last_seq(session.id) == before + 1
    session.flush_tokens()
    events = await events_of(session)
    assert [e.delta for e in events if isinstance(e, TokenEvent)] == ["a", "b", "c", "d"]
