"""The bus contract, kept by MemoryBus and by RedisBus (two instances standing for two
workers: one writes a chat's log, the other reads it from Redis), plus what only RedisBus
does: expiry, compaction, adoption, surviving a Redis outage.

Runs against the real Redis at 127.0.0.1:6379 (``LIGHTCHAT_TEST_REDIS_URL`` overrides it);
each test writes under its own key prefix and deletes it afterwards. Without a reachable
Redis the RedisBus cases are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lightchat import LightChat, Message, Settings
from lightchat.bus import Bus, LogCompacted, MemoryBus
from lightchat.domain.events import (
    ActionData,
    AskData,
    CommandData,
    ComposerEvent,
    ElementData,
    Entry,
    Event,
    MessageData,
    MessageEvent,
    Mode,
    ModeOption,
    RemoveEvent,
    RunEvent,
    SettingsEvent,
    SidebarEvent,
    StepData,
    StepEvent,
    TokenEvent,
    WidgetData,
    WindowEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.sse import RELOAD
from tests.helpers import REDIS_URL, ROOT, WAIT_S, LiveServer, page_seq, until

redis_asyncio = pytest.importorskip("redis.asyncio")
from lightchat.bus.redis_bus import RedisBus, redacted  # noqa: E402 - needs redis, checked above

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def _redis_or_skip() -> Any:
    client = redis_asyncio.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async with asyncio.timeout(2):
            await client.ping()
    except Exception as exc:  # any failure to reach it means: no Redis here
        await client.aclose()
        pytest.skip(f"Redis at {redacted(REDIS_URL)} is unreachable ({exc!r})")
    return client


@contextlib.asynccontextmanager
async def scratch() -> AsyncIterator[Any]:
    """A raw client, and a fresh key prefix whose keys are deleted afterwards."""
    client = await _redis_or_skip()
    client.test_prefix = f"lctest:{uuid.uuid4().hex[:12]}:"
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{client.test_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    async with scratch() as client:
        yield client


@dataclass
class Pair:
    """A writer bus and a reader bus: the same object for MemoryBus, two for RedisBus."""

    writer: Bus
    reader: Bus
    flush: Callable[[], Any]


async def redis_bus(redis: Any, **kwargs: Any) -> RedisBus:
    bus = RedisBus(REDIS_URL, prefix=redis.test_prefix, **kwargs)
    await bus.start()
    return bus


@pytest.fixture(params=["memory", "redis"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    if request.param == "memory":
        bus = MemoryBus()
        yield Pair(bus, bus, bus.flush)
        return
    async with scratch() as redis:
        writer, reader = await redis_bus(redis), await redis_bus(redis)
        yield Pair(writer, reader, writer.flush)
        await writer.aclose()
        await reader.aclose()


def parked(bus: Bus, session_id: str) -> int:
    """How many readers wait on the chat's log now, parked until a publish wakes them.

    Nothing announces that a reader has parked, so tests look (with ``until``): a
    ``MemoryBus`` keeps its waiters with each log; a ``RedisBus``, with the chats it
    follows from other workers, once subscribed (and in its mirror for those it writes).
    """
    if isinstance(bus, RedisBus):
        if bus._mirror.holds(session_id):
            return parked(bus._mirror, session_id)
        tail = bus._tails.get(session_id)
        return 0 if tail is None else len(tail.waiters)
    assert isinstance(bus, MemoryBus)
    log = bus._logs.get(session_id)
    return 0 if log is None else len(log.waiters)


@contextlib.contextmanager
def logged(name: str, text: str) -> Iterator[asyncio.Event]:
    """An event set once the logger ``name`` (or one below it) logs a record whose message
    holds ``text``; log in the thread of the event loop that waits on it."""
    seen = asyncio.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if text in record.getMessage():
                seen.set()

    handler = Handler(logging.WARNING)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def tok(text: str, item: str = "m") -> TokenEvent:
    return TokenEvent(item, text)


def texts(entries: list[Entry]) -> list[str]:
    return [e.event.delta for e in entries if isinstance(e.event, TokenEvent)]


# -- the contract, on both buses ----------------------------------------------------------


async def test_order_and_read_ranges(pair: Pair) -> None:
    assert [pair.writer.publish("s", tok(str(i))).seq for i in range(1, 6)] == [1, 2, 3, 4, 5]
    assert pair.writer.publish("t", tok("x")).seq == 1
    await pair.flush()
    read = pair.reader.read
    assert texts(await read("s")) == ["1", "2", "3", "4", "5"]
    assert [e.seq for e in await read("s")] == [1, 2, 3, 4, 5]
    assert texts(await read("s", after=2)) == ["3", "4", "5"]
    assert texts(await read("s", after=1, until=3)) == ["2", "3"]
    assert await read("s", 0, 0) == []
    assert await read("s", after=5) == []
    assert texts(await read("s", after=-3)) == ["1", "2", "3", "4", "5"]
    assert texts(await read("t")) == ["x"]
    assert await read("unknown") == []
    assert pair.reader.last_seq("s") == 5  # RedisBus: the newest entry this worker read
    # Every kind of event comes back as it went in.
    rich = rich_events()
    for event in rich:
        pair.writer.publish("rich", event)
    await pair.flush()
    assert [e.event for e in await read("rich")] == rich


async def test_wait_wakes_on_publish_and_times_out(pair: Pair) -> None:
    pair.writer.publish("s", tok("old"))
    await pair.flush()
    async with asyncio.timeout(WAIT_S):
        assert texts(await pair.reader.wait("s", 0, 3600)) == ["old"]  # at once
        waiters = [asyncio.create_task(pair.reader.wait("s", 1, 3600)) for _ in range(3)]
        other = asyncio.create_task(pair.reader.wait("other", 0, 3600))
        # They are parked: a publish now must wake them.
        await until(
            lambda: parked(pair.reader, "s") == 3 and parked(pair.reader, "other") == 1,
            "the readers to park",
        )
        assert not any(w.done() for w in waiters)
        pair.writer.publish("s", tok("new"))
        results = await asyncio.gather(*waiters)
        assert [texts(r) for r in results] == [["new"]] * 3
        assert [e.seq for e in results[0]] == [2]
        assert not other.done()
        other.cancel()
        # A wait with nothing new returns empty once its time is up, and the log stays usable.
        assert await pair.reader.wait("s", 2, 0.05) == []
        assert await pair.reader.wait("fresh", 0, 0.05) == []
        pair.writer.publish("s", tok("again"))
        assert texts(await pair.reader.wait("s", 2, 3600)) == ["again"]


async def test_discard_forgets_the_log(pair: Pair) -> None:
    pair.writer.publish("s", tok("1"))
    pair.writer.publish("s", tok("2"))
    await pair.flush()
    assert len(await pair.reader.read("s")) == 2
    loop = asyncio.get_running_loop()
    loop.call_soon(pair.writer.discard, "s")
    async with asyncio.timeout(WAIT_S):
        assert await pair.writer.wait("s", 2, 3600) == []  # its writer's readers return
    await pair.flush()
    assert await pair.reader.read("s") == []
    assert pair.writer.last_seq("s") == 0
    # A log started again (a chat reopened from history) numbers from 1.
    assert pair.writer.publish("s", tok("again")).seq == 1
    await pair.flush()
    assert [(e.seq, e.event) for e in await pair.reader.read("s")] == [(1, tok("again"))]
    pair.writer.discard("never-existed")


async def test_close_wakes_readers(pair: Pair) -> None:
    pair.writer.publish("s", tok("1"))
    await pair.flush()
    waiting = asyncio.create_task(pair.reader.wait("s", 1, 3600))
    await until(lambda: parked(pair.reader, "s") == 1, "the reader to park")
    pair.reader.close()
    async with asyncio.timeout(WAIT_S):
        assert await waiting == []
        assert await pair.reader.wait("s", 1, 3600) == []  # later waits return at once
    assert pair.reader.closed


async def test_a_publish_storm_arrives_in_order(pair: Pair) -> None:
    count = 10_000
    follower = asyncio.create_task(follow(pair.reader, "s", count))
    for i in range(count):  # sync code: no await between publishes
        pair.writer.publish("s", tok(str(i)))
    async with asyncio.timeout(WAIT_S * 3):
        seen = await follower
    assert [e.seq for e in seen] == list(range(1, count + 1))
    assert texts(seen) == [str(i) for i in range(count)]


async def follow(bus: Bus, session_id: str, total: int, after: int = 0) -> list[Entry]:
    seen: list[Entry] = []
    while len(seen) < total:
        seen.extend(await bus.wait(session_id, after + len(seen), WAIT_S))
    return seen


# -- two workers ----------------------------------------------------------------------


async def test_adopt_continues_the_log_another_worker_wrote(redis: Any) -> None:
    a, b = await redis_bus(redis), await redis_bus(redis)
    try:
        follower = asyncio.create_task(follow(b, "chat", 200))
        for i in range(200):
            a.publish("chat", tok(str(i)))
            if i % 50 == 0:
                await a.flush()  # some are written on the way
        async with asyncio.timeout(WAIT_S):
            seen = await follower
        assert [e.seq for e in seen] == list(range(1, 201))
        await a.flush()
        a.release("chat")  # worker A hands the chat over (or dies): B writes from now on

        log = await b.adopt("chat")
        assert [e.seq for e in log] == list(range(1, 201))
        assert b.publish("chat", tok("from B")).seq == 201
        assert b.last_seq("chat") == 201
        await b.flush()
        # A reads it from Redis now, like any worker that does not write it.
        after = await a.read("chat", 199)
        assert [(e.seq, e.event) for e in after] == [(200, tok("199")), (201, tok("from B"))]
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_stopping_worker_leaves_its_logs_for_the_next(redis: Any) -> None:
    a, b = await redis_bus(redis), await redis_bus(redis)
    try:
        a.publish("chat", tok("kept"))
        await a.aclose()  # close, then its chats close (discard): the log stays in Redis
        a.discard("chat")
        assert texts(await b.adopt("chat")) == ["kept"]
    finally:
        await b.aclose()


async def test_every_write_renews_the_expiry(redis: Any) -> None:
    bus = await redis_bus(redis, ttl_s=120)
    try:
        bus.publish("s", tok("1"))
        await bus.flush()
        ttl = await redis.pttl(bus.log_key("s"))
        assert 110_000 < ttl <= 120_000
        await redis.pexpire(bus.log_key("s"), 5_000)
        bus.publish("s", tok("2"))
        await bus.flush()
        assert await redis.pttl(bus.log_key("s")) > 110_000
    finally:
        await bus.aclose()


async def test_keys_carry_the_prefix(redis: Any) -> None:
    bus = await redis_bus(redis)
    try:
        bus.publish("s", tok("1"))
        await bus.flush()
        assert await redis.exists(f"{redis.test_prefix}log:s") == 1
        assert await redis.xrange(f"{redis.test_prefix}log:s") == [
            ("0-1", {"e": '{"kind":"TokenEvent","id":"m","delta":"1"}'})
        ]
    finally:
        await bus.aclose()


# -- compaction -----------------------------------------------------------------------


def rich_events() -> list[Event]:
    """A chat with every kind of state: messages with elements, actions and a question,
    nested steps, a removed message and a removed step (with its child), the composer's
    commands and modes, a side panel, a settings form, streamed tokens."""
    image = ElementData("el1", "image", "chart", url="https://example.com/a.png")
    note = ElementData("el2", "text", "note", content="**bold**", display="side")
    return [
        RunEvent(running=True),
        ComposerEvent(
            [CommandData("search", "Search the web", button=True)],
            [Mode("model", "Model", [ModeOption("a", "A"), ModeOption("b", "B", default=True)])],
        ),
        MessageEvent(MessageData("u1", "You", "user_message", "hello", modes={"model": "b"})),
        MessageEvent(MessageData("a1", "Bot", "assistant_message", streaming=True)),
        TokenEvent("a1", "Hel"),
        TokenEvent("a1", "lo!"),
        MessageEvent(
            MessageData(
                "a1",
                "Bot",
                "assistant_message",
                "Hello!",
                elements=[image],
                actions=[ActionData("act1", "more", "More", {"n": 1})],
            )
        ),
        StepEvent(StepData("s1", "plan", "run")),
        StepEvent(StepData("s2", "search", "tool", parent_id="s1", input="q")),
        TokenEvent("s2", "found"),
        StepEvent(StepData("s3", "inner", "llm", parent_id="s2")),
        StepEvent(StepData("s2", "search", "tool", "s1", "q", "found it", "done", ended_at=2e9)),
        StepEvent(StepData("gone", "temp", "tool")),
        StepEvent(StepData("gone-child", "temp2", "tool", parent_id="gone")),
        RemoveEvent("gone"),
        MessageEvent(MessageData("tmp", "Bot", "assistant_message", "temporary")),
        RemoveEvent("tmp"),
        SidebarEvent("Sources", [note]),
        SettingsEvent([WidgetData("temp", "slider", "Temperature", 0.5, min=0, max=1)]),
        WindowEvent({"hello": "parent"}),
        MessageEvent(
            MessageData("q1", "Bot", "assistant_message", "Your name?", ask=AskData("text"))
        ),
        RunEvent(running=False),
    ]


def same_state(a: Transcript, b: Transcript) -> None:
    assert list(a.items.items()) == list(b.items.items())
    assert (a.commands, a.modes, a.sidebar, a.settings, a.running, a.seq) == (
        b.commands,
        b.modes,
        b.sidebar,
        b.settings,
        b.running,
        b.seq,
    )


def test_a_snapshot_rebuilds_the_transcript() -> None:
    entries = [Entry(i, e) for i, e in enumerate(rich_events(), 1)]
    original = Transcript.from_entries(entries)
    assert "gone" not in original.items
    assert "gone-child" not in original.items
    snapshot = original.snapshot_events()
    assert not any(isinstance(e, TokenEvent | RemoveEvent | WindowEvent) for e in snapshot)
    assert len(snapshot) == len(original.items) + 3  # items, composer, settings, side panel
    rebuilt = Transcript.from_entries(Entry(len(entries), e) for e in snapshot)
    same_state(rebuilt, original)
    assert rebuilt.children("s1") == original.children("s1")
    assert rebuilt.asking is not None
    assert rebuilt.asking.id == "q1"
    # A run still going is part of the state too.
    running = Transcript.from_entries(entries[:5])
    again = Transcript.from_entries(Entry(5, e) for e in running.snapshot_events())
    same_state(again, running)


async def test_memory_compaction_keeps_a_tail_and_refuses_older_points() -> None:
    bus = MemoryBus()
    events = rich_events()
    for event in events:
        bus.publish("s", event)
    for i in range(100):
        bus.publish("s", tok(f"{i} ", "a1"))
    last = bus.last_seq("s")
    before = Transcript.from_entries(await bus.read("s"))
    compacted = bus.compact("s", keep=10)
    assert compacted is not None
    snapshot, kept = compacted
    assert kept == last - 9
    assert all(e.seq == last for e in snapshot)
    same_state(Transcript.from_entries(await bus.read("s")), before)
    assert [e.seq for e in await bus.read("s", kept - 1)] == list(range(kept, last + 1))
    with pytest.raises(LogCompacted):
        await bus.read("s", kept - 2)
    with pytest.raises(LogCompacted):
        await bus.read("s", 0, last - 1)  # a view up to a point now inside the snapshot
    with pytest.raises(LogCompacted):
        await bus.wait("s", 3, 3600)
    assert bus.publish("s", tok("next", "a1")).seq == last + 1
    assert texts(await bus.wait("s", last, 3600)) == ["next"]


async def test_redis_compacts_a_long_chat_when_its_run_ends(redis: Any) -> None:
    threshold = 400
    a = await redis_bus(redis, compact_after=threshold)
    b = await redis_bus(redis, compact_after=threshold)
    try:
        events = rich_events()
        for event in events[:-1]:
            a.publish("chat", event)
        for i in range(20_000):
            a.publish("chat", tok(f"{i} ", "a1"))
        await a.flush()
        assert await redis.xlen(a.log_key("chat")) > 20_000  # nothing trimmed mid-run
        expected = Transcript.from_entries(await a.read("chat"))
        expected.running = False
        end = a.publish("chat", RunEvent(running=False))
        expected.seq = end.seq
        await a.flush()

        assert await redis.xlen(a.log_key("chat")) <= threshold  # memory stays bounded
        snap = await redis.hgetall(a.snap_key("chat"))
        assert int(snap["seq"]) == end.seq
        assert await redis.pttl(a.snap_key("chat")) > 0
        # The writer's mirror and the other worker's Redis read rebuild the same chat.
        same_state(Transcript.from_entries(await a.read("chat")), expected)
        same_state(Transcript.from_entries(await b.read("chat")), expected)
        kept = int(snap["kept"])
        # A stream a little behind goes on; one from before the kept tail must reload.
        tail = await b.read("chat", end.seq - 5)
        assert [e.seq for e in tail] == list(range(end.seq - 4, end.seq + 1))
        with pytest.raises(LogCompacted) as raised:
            await b.read("chat", 10)
        assert raised.value.kept == kept
        with pytest.raises(LogCompacted):
            await b.wait("chat", kept - 2, 3600)
        with pytest.raises(LogCompacted):
            await a.wait("chat", kept - 2, 3600)
        # Adopting a compacted log keeps the same view and goes on from it.
        await a.aclose()
        a.release("chat")
        adopted = await b.adopt("chat")
        same_state(Transcript.from_entries(adopted), expected)
        assert b.publish("chat", tok("more", "a1")).seq == end.seq + 1
    finally:
        await a.aclose()
        await b.aclose()


# -- outages --------------------------------------------------------------------------


class Proxy:
    """A TCP relay to Redis that can be cut (every connection dropped, new ones refused)
    and restored on the same port: an outage seen from the bus."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_redis_outage_during_publishing_loses_nothing(redis: Any) -> None:
    proxy = Proxy("127.0.0.1", 6379)
    await proxy.up()
    writer = RedisBus(f"redis://127.0.0.1:{proxy.port}/0", prefix=redis.test_prefix)
    reader = await redis_bus(redis)
    await writer.start()
    try:
        for i in range(100):
            writer.publish("s", tok(str(i)))
        await writer.flush()
        await proxy.down()
        with logged("lightchat.bus", "did not take the log writes") as failed:
            for i in range(100, 300):  # Redis is gone: publishing goes on, sync and in order
                writer.publish("s", tok(str(i)))
            async with asyncio.timeout(WAIT_S):
                await failed.wait()  # the writer tried, failed, and keeps the entries queued
        assert writer.last_seq("s") == 300
        assert not await writer.ping()
        await proxy.up()
        async with asyncio.timeout(WAIT_S):
            await writer.flush()
        assert await writer.ping()
        seen = await reader.read("s")
        assert [e.seq for e in seen] == list(range(1, 301))
        assert texts(seen) == [str(i) for i in range(300)]
    finally:
        await writer.aclose(timeout=1)
        await reader.aclose()
        if proxy.server is not None and proxy.server.is_serving():
            await proxy.down()


def test_redacted_hides_the_password() -> None:
    assert redacted("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert redacted("redis://user:s3cret@db/1") == "redis://user:***@db/1"
    assert redacted("redis://db:6379") == "redis://db:6379"


# -- a page behind a compaction -------------------------------------------------------


def test_a_stream_from_a_compacted_point_tells_the_page_to_reload() -> None:
    bus = MemoryBus()
    app = LightChat(settings=Settings(history=False), bus=bus)

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Welcome").send()

    with LiveServer(app) as live, live.browser() as client:
        url, session = live.new_chat(client)
        before = page_seq(client, url)

        async def grow_and_compact() -> int:
            message = MessageData("long", "Assistant", "assistant_message", streaming=True)
            bus.publish(session.id, MessageEvent(message))
            for i in range(50):
                bus.publish(session.id, TokenEvent("long", f"part{i} "))
            bus.publish(session.id, RunEvent(running=False))
            assert bus.compact(session.id, keep=5) is not None
            return bus.last_seq(session.id)

        last = live.call(grow_and_compact())
        # The page's point is gone: the stream says "reload" and ends.
        response = client.get(f"{url}/events?after={before}")
        assert response.status_code == 200
        assert response.text.startswith("event: lc-reload\n")
        response = client.get(f"{url}/events", headers={"Last-Event-ID": "2"})
        assert response.text.startswith("event: lc-reload\n")
        # The reloaded page shows the chat as it stands and streams from its end.
        page = client.get(url).text
        assert "Welcome" in page
        assert "part49" in page
        assert page_seq(client, url) == last


def test_the_page_script_reloads_on_the_reload_event() -> None:
    script = ROOT / "lightchat" / "static" / "lightchat.js"
    assert RELOAD.startswith(b"event: lc-reload\n")
    assert 'addEventListener("lc-reload", function () { location.reload(); })' in (
        script.read_text()
    )


# -- settings and wiring --------------------------------------------------------------


def test_redis_settings_come_from_the_environment_and_are_checked() -> None:
    env = {
        "LIGHTCHAT_REDIS_URL": "redis://:pw@cache:6379/2",
        "LIGHTCHAT_REDIS_PREFIX": "bot1:",
        "LIGHTCHAT_LOG_TTL_S": "600",
        "LIGHTCHAT_LOG_COMPACT_AFTER": "500",
    }
    settings = Settings.from_env(env)
    assert (settings.redis_url, settings.redis_prefix) == ("redis://:pw@cache:6379/2", "bot1:")
    assert (settings.log_ttl_s, settings.log_compact_after) == (600, 500)
    defaults = Settings.from_env({})
    assert (defaults.redis_url, defaults.redis_prefix) == ("", "lc:")
    assert (defaults.log_ttl_s, defaults.log_compact_after) == (86400, 2000)
    for bad in (
        {"LIGHTCHAT_REDIS_URL": "http://cache:6379"},
        {"LIGHTCHAT_REDIS_URL": "cache:6379"},
        {"LIGHTCHAT_REDIS_PREFIX": "my app:"},
        {"LIGHTCHAT_LOG_TTL_S": "0"},
        {"LIGHTCHAT_LOG_COMPACT_AFTER": "5"},
    ):
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(bad)
        assert "LIGHTCHAT_" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"LIGHTCHAT_REDIS_URL": "http://:secret@cache"})
    assert "secret" not in str(raised.value)


def test_the_app_uses_redis_when_a_url_is_set() -> None:
    assert isinstance(
        LightChat(settings=Settings(history=False)).build().state.services.bus, MemoryBus
    )

    async def prefix() -> str:
        client = await _redis_or_skip()
        await client.aclose()
        return f"lctest:{uuid.uuid4().hex[:12]}:"

    keys = asyncio.run(prefix())
    app = LightChat(settings=Settings(history=False, redis_url=REDIS_URL, redis_prefix=keys))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Welcome from Redis").send()

    bus = app.build().state.services.bus
    assert isinstance(bus, RedisBus)
    assert bus.prefix == keys
    # Its end stops the server: the lifespan's end writes out the log and disconnects.
    with LiveServer(app) as live, live.browser() as client:
        url, session = live.new_chat(client)
        assert "Welcome from Redis" in client.get(url).text

    async def stored() -> list[Entry]:
        async with scratch() as redis:
            redis.test_prefix = keys  # so the scratch cleanup removes this app's keys
            other = await redis_bus(redis)
            try:
                return await other.read(session.id)
            finally:
                await other.aclose()

    entries = asyncio.run(stored())
    assert any(
        isinstance(e.event, MessageEvent) and e.event.message.content == "Welcome from Redis"
        for e in entries
    )


async def test_one_reader_serves_many_waiting_pages(redis: Any) -> None:
    """Pages waiting on many chats at once (each from its own point) are all woken through
    the worker's one pub/sub connection, including pages that start waiting later."""
    writer, reader = await redis_bus(redis), await redis_bus(redis)
    try:
        chats = [f"chat{n}" for n in range(40)]
        for sid in chats:
            writer.publish(sid, tok("first"))
        await writer.flush()
        early = {sid: asyncio.create_task(reader.wait(sid, 1, 3600)) for sid in chats[:20]}
        # The reader now blocks on those twenty.
        await until(lambda: all(parked(reader, sid) for sid in early), "the early pages")
        late = {sid: asyncio.create_task(reader.wait(sid, 1, 3600)) for sid in chats[20:]}
        await until(lambda: all(parked(reader, sid) for sid in late), "the late pages")
        assert not any(t.done() for t in [*early.values(), *late.values()])
        for sid in reversed(chats):
            writer.publish(sid, tok(f"second {sid}"))
        async with asyncio.timeout(WAIT_S):
            for sid, task in {**early, **late}.items():
                assert [(e.seq, e.event) for e in await task] == [(2, tok(f"second {sid}"))]
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_adopting_again_takes_what_another_worker_wrote_since(redis: Any) -> None:
    a, b = await redis_bus(redis), await redis_bus(redis)
    try:
        a.publish("chat", tok("a1"))
        await a.flush()
        await b.adopt("chat")  # A was taken for dead; B goes on
        b.publish("chat", tok("b2"))
        await b.flush()
        # A claims it back (B died in turn): its old mirror must not win.
        assert texts(await a.adopt("chat")) == ["a1", "b2"]
        assert a.publish("chat", tok("a3")).seq == 3
        await a.flush()
        assert texts(await b.read("chat", 0)) == ["a1", "b2"]  # B's mirror: stale, as expected
        b.release("chat")
        assert texts(await b.read("chat", 0)) == ["a1", "b2", "a3"]
    finally:
        await a.aclose()
        await b.aclose()


# -- following chats written elsewhere -------------------------------------------------


def counting_reads(bus: RedisBus) -> list[str]:
    """Record every read of the stream ``bus`` makes (its chat ids)."""
    reads: list[str] = []
    fetch = bus._fetch

    async def counted(session_id: str, after: int, until: int | None) -> Any:
        reads.append(session_id)
        return await fetch(session_id, after, until)

    bus._fetch = counted  # type: ignore[method-assign]
    return reads


async def test_a_page_following_a_chat_from_another_worker_reads_redis_once(
    redis: Any,
) -> None:
    """The events reach a page on a worker that does not own the chat through the
    publication that goes with each write: the stream is read when the page starts
    following, not once per event."""
    writer, reader = await redis_bus(redis), await redis_bus(redis)
    reads = counting_reads(reader)
    try:
        writer.publish("chat", tok("t0"))
        await writer.flush()
        page = asyncio.create_task(follow(reader, "chat", 200))

        async def speak() -> None:
            for n in range(1, 200):
                writer.publish("chat", tok(f"t{n}"))
                if n % 3 == 0:
                    await writer.flush()  # several write batches, several waits

        await speak()
        async with asyncio.timeout(WAIT_S):
            got = await page
        assert [e.seq for e in got] == list(range(1, 201))
        assert texts(got) == [f"t{n}" for n in range(200)]
        assert len(reads) <= 2
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_following_many_chats_reads_each_once(redis: Any) -> None:
    """A worker following 150 chats (pages on each) gets every event of every chat,
    in order, and reads each stream only when its page starts following."""
    writer, reader = await redis_bus(redis), await redis_bus(redis)
    reads = counting_reads(reader)
    chats = [f"chat{n}" for n in range(150)]
    try:
        pages = [asyncio.create_task(follow(reader, sid, 20)) for sid in chats]
        await until(lambda: all(parked(reader, sid) for sid in chats), "every page to follow")
        for round_ in range(20):
            for sid in chats:
                writer.publish(sid, tok(f"{sid}-{round_}"))
            await writer.flush()  # one write batch a round
        async with asyncio.timeout(WAIT_S):
            results = await asyncio.gather(*pages)
        for sid, got in zip(chats, results, strict=True):
            assert texts(got) == [f"{sid}-{r}" for r in range(20)]
        assert len(reads) <= len(chats) + 10  # a few more when a page's first read raced
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_a_follower_that_lost_its_connection_reads_what_it_missed(redis: Any) -> None:
    """Publications sent while the follower's connection is cut are not lost: it reads the
    stream when it is back, and follows again."""
    proxy = Proxy("127.0.0.1", 6379)
    await proxy.up()
    writer = await redis_bus(redis)
    reader = RedisBus(f"redis://127.0.0.1:{proxy.port}/0", prefix=redis.test_prefix)
    await reader.start()
    try:
        writer.publish("chat", tok("before"))
        await writer.flush()
        assert texts(await reader.wait("chat", 0, 5)) == ["before"]
        await proxy.down()
        for n in range(5):
            writer.publish("chat", tok(f"missed {n}"))
        await writer.flush()
        await proxy.up()
        async with asyncio.timeout(WAIT_S):
            got = await follow(reader, "chat", 5, after=1)
            assert texts(got) == [f"missed {n}" for n in range(5)]
            page = asyncio.create_task(follow(reader, "chat", 1, after=6))
            # It parks once it is subscribed again.
            await until(lambda: parked(reader, "chat") == 1, "the page to follow again")
            writer.publish("chat", tok("after"))
            assert texts(await page) == ["after"]
    finally:
        await reader.aclose(timeout=1)
        await writer.aclose()
        if proxy.server is not None and proxy.server.is_serving():
            await proxy.down()


async def test_a_dropped_log_wakes_its_followers(redis: Any) -> None:
    writer, reader = await redis_bus(redis), await redis_bus(redis)
    try:
        writer.publish("chat", tok("one"))
        await writer.flush()
        assert texts(await reader.wait("chat", 0, 5)) == ["one"]
        page = asyncio.create_task(reader.wait("chat", 1, 3600))
        await until(lambda: parked(reader, "chat") == 1, "the page to park")
        writer.discard("chat")
        async with asyncio.timeout(WAIT_S):
            assert await page == []
        assert await reader.read("chat") == []
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_chats_nobody_follows_any_more_are_unsubscribed(
    redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lightchat.bus.redis_bus.LINGER_S", 0.2)
    writer, reader = await redis_bus(redis), await redis_bus(redis)
    try:
        writer.publish("chat", tok("one"))
        await writer.flush()
        await reader.wait("chat", 0, 5)
        assert await reader.wait("chat", 1, 0.05) == []
        channel = reader.tail_channel("chat")
        assert (await redis.pubsub_numsub(channel))[0][1] == 1
        async with asyncio.timeout(WAIT_S):
            # Redis announces no unsubscription to others: look every 50 ms.
            while (await redis.pubsub_numsub(channel))[0][1]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        writer.publish("chat", tok("two"))  # followed again from where the page is
        assert texts(await reader.wait("chat", 1, 5)) == ["two"]
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_scripts_lost_by_redis_are_loaded_again(redis: Any) -> None:
    writer = await redis_bus(redis)
    try:
        writer.publish("chat", tok("one"))
        await writer.flush()
        await redis.script_flush()  # as after a Redis restart
        writer.publish("chat", tok("two"))
        async with asyncio.timeout(WAIT_S):
            await writer.flush()
        assert texts(await writer.read("chat")) == ["one", "two"]
        writer.release("chat")
        assert texts(await writer.read("chat")) == ["one", "two"]
    finally:
        await writer.aclose()


# -- fencing ---------------------------------------------------------------------------


async def test_writes_to_a_chat_another_worker_took_over_are_refused(redis: Any) -> None:
    """A worker taken for dead (its loop froze past its heartbeat) wakes to find its chat
    claimed by another: its late writes never reach the new owner's log, and it is told
    so once, to end the chat on its side."""
    a, b = await redis_bus(redis), await redis_bus(redis)
    a.owner_id, b.owner_id = "worker-a", "worker-b"
    lost: list[str] = []
    a.on_lost = lost.append
    owner_key = f"{redis.test_prefix}owner:chat"
    try:
        await redis.set(owner_key, "worker-a")
        a.publish("chat", tok("a1"))
        a.publish("chat", tok("a2"))
        await a.flush()
        await redis.set(owner_key, "worker-b")  # B claimed the chat meanwhile
        await b.adopt("chat")
        b.publish("chat", tok("b3"))
        await b.flush()
        a.publish("chat", tok("late a3"))  # A wakes up and goes on
        await a.flush()
        assert lost == ["chat"]
        a.publish("chat", tok("later a4"))  # nothing more is sent for it
        await a.flush()
        assert lost == ["chat"]
        assert texts(await b.read("chat")) == ["a1", "a2", "b3"]
        b.release("chat")
        assert texts(await b.read("chat")) == ["a1", "a2", "b3"]
        assert texts(await a.read("chat")) == ["a1", "a2", "b3"]  # A reads Redis now
        a.discard("chat")  # A ending its side does not delete B's log
        await a.flush()
        assert texts(await b.read("chat")) == ["a1", "a2", "b3"]
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_worker_that_claims_a_chat_back_writes_it_again(redis: Any) -> None:
    a = await redis_bus(redis)
    a.owner_id = "worker-a"
    a.on_lost = lambda sid: None
    owner_key = f"{redis.test_prefix}owner:chat"
    try:
        await redis.set(owner_key, "worker-b")
        a.publish("chat", tok("refused"))
        await a.flush()
        assert await a.read("chat") == []
        await redis.set(owner_key, "worker-a")
        await a.adopt("chat")
        a.publish("chat", tok("mine again"))
        await a.flush()
        a.release("chat")
        assert texts(await a.read("chat")) == ["mine again"]
    finally:
        await a.aclose()
