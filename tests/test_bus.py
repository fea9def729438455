"""MemoryBus: each session's ordered log, resumable reads, waits that wake on time."""

from __future__ import annotations

import asyncio

import pytest

from lightchat.bus import MemoryBus
from lightchat.domain.events import Entry, RunEvent, TokenEvent
from tests.helpers import WAIT_S

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


def tok(text: str) -> TokenEvent:
    return TokenEvent("m", text)


def texts(entries: list[Entry]) -> list[str]:
    return [e.event.delta for e in entries if isinstance(e.event, TokenEvent)]


async def test_publish_numbers_each_log_from_one() -> None:
    bus = MemoryBus()
    assert [bus.publish("a", tok(str(i))).seq for i in range(3)] == [1, 2, 3]
    assert bus.publish("b", tok("x")).seq == 1
    assert bus.publish("a", tok("3")).seq == 4
    assert bus.last_seq("a") == 4
    assert bus.last_seq("b") == 1
    assert bus.last_seq("never") == 0


async def test_read_after_and_until() -> None:
    bus = MemoryBus()
    for i in range(1, 6):
        bus.publish("s", tok(str(i)))
    assert texts(await bus.read("s")) == ["1", "2", "3", "4", "5"]
    assert texts(await bus.read("s", after=2)) == ["3", "4", "5"]
    assert texts(await bus.read("s", after=1, until=3)) == ["2", "3"]
    assert texts(await bus.read("s", 0, 0)) == []
    assert texts(await bus.read("s", after=5)) == []
    assert texts(await bus.read("s", after=-3)) == ["1", "2", "3", "4", "5"]
    assert await bus.read("unknown") == []


async def test_replay_from_any_id_returns_exactly_the_missing_entries() -> None:
    bus = MemoryBus()
    for i in range(1, 11):
        bus.publish("s", tok(str(i)))
    for seen in range(11):
        missed = await bus.read("s", after=seen)
        assert [e.seq for e in missed] == list(range(seen + 1, 11))
        assert texts(missed) == [str(i) for i in range(seen + 1, 11)]


async def test_wait_returns_at_once_when_entries_exist() -> None:
    bus = MemoryBus()
    bus.publish("s", tok("1"))
    bus.publish("s", tok("2"))
    async with asyncio.timeout(1):  # would take an hour if it waited
        entries = await bus.wait("s", 0, 3600)
    assert texts(entries) == ["1", "2"]
    async with asyncio.timeout(1):
        assert texts(await bus.wait("s", 1, 3600)) == ["2"]


async def test_wait_waits_for_a_publish() -> None:
    bus = MemoryBus()
    bus.publish("s", tok("old"))
    loop = asyncio.get_running_loop()
    # Runs only once the waiter below is suspended: nothing is there when it starts waiting.
    loop.call_soon(bus.publish, "s", tok("new"))
    async with asyncio.timeout(WAIT_S):
        entries = await bus.wait("s", 1, 3600)
    assert [(e.seq, e.event) for e in entries] == [(2, tok("new"))]


async def test_one_publish_wakes_every_waiter() -> None:
    bus = MemoryBus()
    waiters = [asyncio.create_task(bus.wait("s", 0, 3600)) for _ in range(3)]
    other = asyncio.create_task(bus.wait("other", 0, 0.05))
    await asyncio.sleep(0)  # let them start waiting (one loop turn, not a timed wait)
    bus.publish("s", tok("x"))
    async with asyncio.timeout(WAIT_S):
        results = await asyncio.gather(*waiters)
        assert await other == []
    assert [texts(r) for r in results] == [["x"], ["x"], ["x"]]


async def test_wait_returns_empty_on_timeout() -> None:
    bus = MemoryBus()
    bus.publish("s", tok("1"))
    async with asyncio.timeout(WAIT_S):
        assert await bus.wait("s", 1, 0.01) == []
        assert await bus.wait("fresh", 0, 0.01) == []
    # A timed-out wait leaves the log usable: the next publish is seen.
    bus.publish("s", tok("2"))
    async with asyncio.timeout(1):
        assert texts(await bus.wait("s", 1, 3600)) == ["2"]


async def test_close_wakes_waiters_and_later_waits_return_at_once() -> None:
    bus = MemoryBus()
    bus.publish("s", tok("1"))
    asyncio.get_running_loop().call_soon(bus.close)
    async with asyncio.timeout(WAIT_S):
        assert await bus.wait("s", 1, 3600) == []
    assert bus.closed
    async with asyncio.timeout(1):
        assert await bus.wait("s", 1, 3600) == []
        assert await bus.wait("other", 0, 3600) == []


async def test_discard_forgets_the_log_and_wakes_its_readers() -> None:
    bus = MemoryBus()
    bus.publish("s", tok("1"))
    asyncio.get_running_loop().call_soon(bus.discard, "s")
    async with asyncio.timeout(WAIT_S):
        assert await bus.wait("s", 1, 3600) == []
    assert await bus.read("s") == []
    assert bus.last_seq("s") == 0
    bus.discard("never-existed")


async def test_concurrent_writers_keep_each_log_in_its_writers_order() -> None:
    bus = MemoryBus()
    sessions = [f"session-{n}" for n in range(4)]
    count = 50

    async def writer(session_id: str, run: int) -> None:
        for i in range(count):
            bus.publish(session_id, TokenEvent(f"run-{run}", f"{session_id}:{run}:{i}"))
            if i % 3 == run % 3:
                await asyncio.sleep(0)  # hand the loop to the other writers mid-run

    async def follower(session_id: str, total: int) -> list[Entry]:
        seen: list[Entry] = []
        while len(seen) < total:
            seen.extend(await bus.wait(session_id, len(seen), WAIT_S))
        return seen

    followers = [asyncio.create_task(follower(s, 2 * count)) for s in sessions]
    async with asyncio.timeout(WAIT_S):
        # Two runs per session, all eight interleaved on one loop.
        await asyncio.gather(*(writer(s, run) for s in sessions for run in (1, 2)))
        followed = await asyncio.gather(*followers)

    for session_id, seen in zip(sessions, followed, strict=True):
        log = await bus.read(session_id)
        assert [e.seq for e in log] == list(range(1, 2 * count + 1))
        assert seen == log  # the live reader saw the same entries, once each, in order
        for run in (1, 2):
            mine = [
                e.event.delta
                for e in log
                if isinstance(e.event, TokenEvent) and e.event.id == f"run-{run}"
            ]
            assert mine == [f"{session_id}:{run}:{i}" for i in range(count)]
        # The runs really were interleaved, so the test checks something.
        ids = [e.event.id for e in log if isinstance(e.event, TokenEvent)]
        assert ids != sorted(ids)


async def test_run_events_are_plain_entries() -> None:
    bus = MemoryBus()
    entry = bus.publish("s", RunEvent(running=True))
    assert entry == Entry(1, RunEvent(running=True))
    assert await bus.read("s") == [entry]
