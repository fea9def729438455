"""Folding: once a message or step has a full state in its chat's log, its token events
before that state are dropped (the state carries the whole text), in memory and in Redis.
The log keeps its sequence numbers, so a page resumes from any id it was given, one inside
the folded tokens included, and a ``Transcript`` of what is left is the same chat.

The Redis cases run against the real Redis at 127.0.0.1:6379 (``LIGHTCHAT_TEST_REDIS_URL``
overrides it) under a key prefix of their own, and are skipped without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest

from lightchat import LightChat, Message, Settings
from lightchat.bus import Bus, MemoryBus
from lightchat.domain.events import (
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    StepData,
    StepEvent,
    TokenEvent,
)
from lightchat.domain.transcript import Transcript
from tests.helpers import REDIS_URL, LiveServer, page_seq, sse_field

redis_asyncio = pytest.importorskip("redis.asyncio")
from lightchat.bus.redis_bus import RedisBus, redacted  # noqa: E402 - needs redis, checked above

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

CHAT = "chat-1"


def message(content: str, *, streaming: bool) -> MessageData:
    return MessageData(
        id="m1", author="Assistant", type="assistant_message", content=content, streaming=streaming
    )


def step(output: str, *, running: bool) -> StepData:
    return StepData(
        id="s1", name="search", type="tool", output=output, status="running" if running else "done"
    )


# A reply as a chat publishes it: a step streams, the message starts and streams with
# the step's tokens interleaved, the message is sent, then the step ends.
REPLY: list[Event] = [
    StepEvent(step("", running=True)),
    TokenEvent("s1", "look"),
    MessageEvent(message("Hel", streaming=True)),
    TokenEvent("m1", "lo"),
    TokenEvent("s1", "ing"),
    TokenEvent("m1", " the"),
    TokenEvent("m1", "re"),
    MessageEvent(message("Hello there", streaming=False)),
    StepEvent(step("looking", running=False)),
]
SENT = 8  # the seq of the message's final state
ENDED = 9  # the seq of the step's


def shown(entries: list[Entry]) -> dict[str, str]:
    """Each item's text as a transcript of ``entries`` shows it."""
    items = Transcript.from_entries(entries).items
    return {
        key: item.content if isinstance(item, MessageData) else item.output
        for key, item in items.items()
    }


@contextlib.asynccontextmanager
async def redis_pair() -> AsyncIterator[tuple[RedisBus, RedisBus, Any]]:
    """A writer and a reader RedisBus (two workers) under a fresh prefix, and a raw client."""
    client = redis_asyncio.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async with asyncio.timeout(2):
            await client.ping()
    except Exception as exc:  # any failure to reach it means: no Redis here
        await client.aclose()
        pytest.skip(f"Redis at {redacted(REDIS_URL)} is unreachable ({exc!r})")
    prefix = f"lctest:{uuid.uuid4().hex[:12]}:"
    writer = RedisBus(REDIS_URL, prefix=prefix, fold=True)
    reader = RedisBus(REDIS_URL, prefix=prefix, fold=True)
    await writer.start()
    await reader.start()
    try:
        yield writer, reader, client
    finally:
        await writer.aclose()
        await reader.aclose()
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus]]:
    """The bus that writes a chat's log and one that reads it (the same one in memory)."""
    if request.param == "memory":
        bus = MemoryBus(fold=True)
        yield bus, bus
        return
    async with redis_pair() as (writer, reader, _):
        yield writer, reader


async def publish(bus: Bus, events: list[Event]) -> None:
    for event in events:
        bus.publish(CHAT, event)
    await bus.flush()


async def test_a_finished_message_keeps_its_final_state_not_its_tokens(
    buses: tuple[Bus, Bus],
) -> None:
    writer, reader = buses
    await publish(writer, REPLY)
    entries = await reader.read(CHAT)
    tokens = [e.event for e in entries if isinstance(e.event, TokenEvent)]
    assert tokens == []  # the message's and, once it ended, the step's
    assert [e.seq for e in entries] == [1, 3, SENT, ENDED]  # the numbers stay
    assert writer.last_seq(CHAT) == ENDED
    unfolded = [Entry(seq, event) for seq, event in enumerate(REPLY, 1)]
    assert shown(entries) == shown(unfolded) == {"s1": "looking", "m1": "Hello there"}


async def test_a_message_still_streaming_keeps_its_tokens(buses: tuple[Bus, Bus]) -> None:
    writer, reader = buses
    await publish(writer, REPLY[:7])  # up to the last token: nothing is final yet
    entries = await reader.read(CHAT)
    assert [e.seq for e in entries] == list(range(1, 8))
    assert shown(entries) == {"s1": "looking", "m1": "Hello there"}


async def test_a_resume_from_inside_the_folded_tokens_gets_the_whole_text(
    buses: tuple[Bus, Bus],
) -> None:
    writer, reader = buses
    await publish(writer, REPLY)
    for seen in range(ENDED + 1):
        # A page at ``seen`` (its view is the log up to there), then what comes after.
        before = await reader.read(CHAT, 0, seen)
        after = await reader.read(CHAT, seen)
        assert all(e.seq > seen for e in after)
        assert shown(before + after) == {"s1": "looking", "m1": "Hello there"}, seen


async def test_a_removed_item_takes_its_tokens_with_it() -> None:
    bus = MemoryBus(fold=True)
    await publish(bus, [*REPLY[:4], RemoveEvent("m1")])
    events = [e.event for e in await bus.read(CHAT)]
    assert events == [REPLY[0], REPLY[1], REPLY[2], RemoveEvent("m1")]


async def test_a_bus_without_folding_keeps_every_token() -> None:
    bus = MemoryBus()
    await publish(bus, REPLY)
    assert [e.event for e in await bus.read(CHAT)] == REPLY


async def test_a_reader_woken_by_tokens_folded_since_reads_the_final_state() -> None:
    bus = MemoryBus(fold=True)
    await publish(bus, REPLY[:3])
    reader = asyncio.ensure_future(bus.wait(CHAT, 3, timeout=5))
    await asyncio.sleep(0)  # the reader parks on the log
    for event in REPLY[3:8]:  # tokens wake it; the final state folds them before it runs
        bus.publish(CHAT, event)
    entries = await reader
    assert [e.seq for e in entries] == [5, SENT]  # the step's token, the message's state
    assert entries[-1].event == REPLY[SENT - 1]


async def test_a_long_chat_log_grows_with_its_messages_not_their_tokens() -> None:
    bus = MemoryBus(fold=True)
    for turn in range(50):
        start = replace(message("", streaming=True), id=f"m{turn}")
        bus.publish(CHAT, MessageEvent(start))
        for index in range(100):
            bus.publish(CHAT, TokenEvent(start.id, f" t{index}"))
        bus.publish(CHAT, MessageEvent(replace(start, content="done", streaming=False)))
    assert bus.size(CHAT) == 100  # two states per message; 5,000 tokens gone
    assert bus.last_seq(CHAT) == 50 * 102


async def test_redis_deletes_folded_tokens_and_never_stores_those_not_yet_written() -> None:
    async with redis_pair() as (writer, reader, client):
        await publish(writer, REPLY[:7])  # the tokens are stored...
        stored = await client.xrange(writer.log_key(CHAT))
        assert len(stored) == 7
        await publish(writer, REPLY[7:])  # ...then deleted once the states are final
        stored = await client.xrange(writer.log_key(CHAT))
        assert [entry_id for entry_id, _ in stored] == ["0-1", "0-3", f"0-{SENT}", f"0-{ENDED}"]
        # Tokens folded before the writer took them are published to followers, not stored.
        other = "chat-2"
        for event in REPLY:
            writer.publish(other, event)
        await writer.flush()
        stored = await client.xrange(writer.log_key(other))
        assert len(stored) == 4
        # Another worker reads the chat and takes it over, gaps and all.
        assert [e.seq for e in await reader.read(other)] == [1, 3, SENT, ENDED]
        adopted = await reader.adopt(other)
        assert shown(adopted) == {"s1": "looking", "m1": "Hello there"}
        assert reader.publish(other, TokenEvent("m1", "!")).seq == ENDED + 1


async def test_redis_follower_resumes_from_inside_the_folded_tokens() -> None:
    async with redis_pair() as (writer, reader, _):
        await publish(writer, REPLY[:5])
        seen = await reader.wait(CHAT, 4, timeout=1)  # following the chat from seq 4
        assert [e.seq for e in seen] == [5]
        follow = asyncio.ensure_future(reader.wait(CHAT, 5, timeout=5))
        await publish(writer, REPLY[5:])
        entries = await follow
        rest = await reader.read(CHAT, entries[-1].seq)
        everything = await reader.read(CHAT, 0, 5) + entries + rest
        assert shown(everything) == {"s1": "looking", "m1": "Hello there"}


# -- pages --------------------------------------------------------------------------------------


def make_app(**settings: Any) -> LightChat:
    app = LightChat(settings=Settings(history=False, render_interval_ms=20, **settings))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Hello").send()

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        for index in range(30):
            await reply.stream_token(f" word{index}")
            await asyncio.sleep(0)
        await reply.send()

    return app


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer(make_app()) as server:
        yield server


def events_after(browser: Any, url: str, seen: int, last: int) -> str:
    """The data of the events a page resuming after ``seen`` gets, up to event ``last``."""
    data: list[str] = []
    at_last = False
    with browser.stream("GET", f"{url}/events", headers={"Last-Event-ID": str(seen)}) as response:
        for line in response.iter_lines():
            field, value = sse_field(line)
            if field == "data":
                data.append(value)
            elif (field, value) == ("id", str(last)):
                at_last = True
            elif line == "" and at_last:
                break
    return "\n".join(data)


def test_a_page_that_resumes_inside_a_folded_answer_shows_all_of_it(live: LiveServer) -> None:
    with live.browser() as browser:
        url, session = live.new_chat(browser)
        start = page_seq(browser, url)
        assert browser.post(f"{url}/messages", data={"content": "go"}).status_code == 303
        entries = live.entries(session)
        assert not [e for e in entries if isinstance(e.event, TokenEvent)]
        sent = [
            e.seq
            for e in entries
            if isinstance(e.event, MessageEvent)
            and e.event.message.type == "assistant_message"
            and not e.event.message.streaming
        ][-1]
        text = " ".join(f"word{index}" for index in range(30))
        # A page that saw the answer start, its stream cut anywhere in the tokens: the next
        # event it reads is the answer's final state, with all of its text.
        for seen in range(start, sent):
            assert f"<p>{text}</p>" in events_after(browser, url, seen, entries[-1].seq), seen


def test_debug_mode_keeps_every_token() -> None:
    app = make_app(debug=True)
    with LiveServer(app) as server, server.browser() as browser:
        url, session = server.new_chat(browser)
        assert browser.post(f"{url}/messages", data={"content": "go"}).status_code == 303
        entries = server.entries(session)
    tokens = [e.event for e in entries if isinstance(e.event, TokenEvent)]
    assert "".join(t.delta for t in tokens).strip().endswith("word29")
