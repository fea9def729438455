"""RedisBus: the chats' event logs in Redis Streams, shared by every worker of an app.

Layout (every key starts with ``Settings.redis_prefix``, ``lc:`` by default, so several apps
can share one Redis):

- ``lc:log:<session>``: a stream, one entry per event, with the explicit id ``0-<seq>``, so a
  Redis id maps one to one onto the log's sequence number and the SSE event id. The one
  field ``e`` holds the event as JSON (``lightchat.events.event_to_json``).
- ``lc:snap:<session>``: a hash (``seq``, ``kept``, ``events``) once the log was compacted:
  the chat's state at ``seq`` as a list of events, and the first sequence number still in
  the stream. The snapshot is written and the stream trimmed by one Lua script, so a reader
  never sees one without the other.

Both keys expire ``Settings.log_ttl_s`` after the last write (every write batch renews
them).

Writing: the worker that owns a chat is the only writer of its log. ``publish`` stays sync
and cheap (the token stream publishes from a timer callback): it appends to a local mirror
(a ``MemoryBus``, so this worker's own streams read memory, not the network) and queues the
Redis write. One writer task drains the queue in order, whatever is queued at once in one
pipeline (``XADD`` per entry, one ``PEXPIRE`` per chat and batch). When Redis cannot be
reached the batch stays queued and is sent again (backing off up to two seconds), so an
outage delays entries and loses none while this process lives; an ``XADD`` answered
"id too small" on a retry was written before the connection broke, and counts as done.

Compaction: when a run ends (``RunEvent(running=False)``) and the mirror holds more than
``Settings.log_compact_after`` raw entries, the mirror is compacted (``MemoryBus.compact``)
and the same snapshot is queued, so Redis gets it after the entries it stands for. The last
quarter of the threshold stays raw, so streams a little behind go on; one further behind
gets ``LogCompacted`` and its page reloads (see ``lightchat.routes.chat_events``).

Reading a chat this worker does not write: ``read`` is one ``MULTI`` (the snapshot's
``seq``/``kept`` fields and ``XRANGE``). ``wait`` first reads; when nothing is new, it parks
a future, and one reader task per worker serves every parked waiter with a single blocking
``XREAD`` over all the streams waited on (``COUNT 1``: it only learns that something
arrived; each woken waiter then reads its own range). A waiter that needs a stream the
blocked ``XREAD`` does not cover nudges it through the worker's own control stream
(``lc:wake:<uuid>``, part of every ``XREAD``), so the call returns and is issued again
with the new stream. This costs two Redis connections per worker however many pages are
open, where a blocking ``XREAD`` per waiting page would hold a connection each (thousands
of open pages, thousands of connections, and a pool that must be sized for them); the
extra round trip of a nudge is paid only when a page starts waiting on a stream the reader
does not watch yet. A pub/sub nudge per write batch was the other candidate: it adds a
``PUBLISH`` to every batch of every chat, watched or not, where ``XREAD`` costs nothing
for chats nobody reads elsewhere.

Throughput, measured on a shared two-core machine against a local Redis (hiredis
installed): ``publish`` about 200,000 entries/s (sync: mirror and queue); the writer stores
about 36,000 entries/s (25,000/s with another bus following the same chat from Redis at
once); one ``read`` of a 100,000-entry log takes about 1.2 s. Tokens are batched per chat
(``token_batch_ms``), so a chat writes tens of entries per second, not thousands.

``last_seq`` is sync: for a chat this worker writes it is exact; for any other chat it is
the newest sequence number this worker has read from Redis (0 if none), which may lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lightchat.bus import LogCompacted, MemoryBus
from lightchat.events import Entry, Event, RunEvent, TokenEvent, event_from_json, event_to_json

logger = logging.getLogger("lightchat.bus")

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
POOL_SIZE = 256
"""Connections to Redis one worker opens at most (commands wait for a free one)."""
POOL_WAIT_S = 20
"""How long a command waits for a free connection before Redis counts as unreachable."""
_BLOCK_MS = 10_000
"""The longest one ``XREAD`` blocks; the reader task then issues it again."""
_BATCH_MAX = 5_000
"""The most queued writes sent in one pipeline (bounds one request's size)."""

# Writes the snapshot and trims the stream in one step, so a reader sees both or neither.
_COMPACT = """
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'kept', ARGV[2], 'events', ARGV[3])
redis.call('XTRIM', KEYS[1], 'MINID', '0-' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"""


@dataclass(slots=True)
class _Add:
    session_id: str
    seq: int
    event: Event
    text: str | None  # the JSON, made at publish time unless the event is immutable


@dataclass(slots=True)
class _Drop:
    session_id: str


@dataclass(slots=True)
class _Snap:
    session_id: str
    seq: int
    kept: int
    events: str


_Op = _Add | _Drop | _Snap


def _token_json(event: Event) -> str:
    """``event_to_json`` of a token, without ``asdict``'s deep copy (tokens are most of the
    writes; this is what makes the writer keep up)."""
    assert isinstance(event, TokenEvent)
    return _DUMPS({"kind": "TokenEvent", "id": event.id, "delta": event.delta})


_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def _seq(entry_id: str) -> int:
    return int(entry_id.partition("-")[2])


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=f"{user}{host}{port}").geturl()


class RedisBus:
    """Event logs in Redis Streams: several workers read them; each chat's owner writes it."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "lc:",
        ttl_s: int = 86400,
        compact_after: int = 2000,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_ms = ttl_s * 1000
        self.compact_after = compact_after
        self.keep = max(compact_after // 4, 1)
        self._mirror = MemoryBus()
        self._seen: dict[str, int] = {}
        self._closed = False
        self._redis: aioredis.Redis | None = None
        self._blocking: aioredis.Redis | None = None
        # Writing.
        self._ops: deque[_Op] = deque()
        self._queued = 0
        self._written = 0
        self._work = asyncio.Event()
        self._flushes: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        # Waiting on chats written elsewhere.
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}
        self._watched: dict[str, int] = {}  # what the XREAD in flight covers
        self._nudged = False
        self._control = f"{prefix}wake:{uuid.uuid4().hex}"
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False

    # -- keys ---------------------------------------------------------------------------

    def log_key(self, session_id: str) -> str:
        """The stream holding a chat's log."""
        return f"{self.prefix}log:{session_id}"

    def snap_key(self, session_id: str) -> str:
        """The hash holding a compacted log's snapshot."""
        return f"{self.prefix}snap:{session_id}"

    # -- lifecycle ----------------------------------------------------------------------

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            # A bounded pool that waits for a free connection: a burst of reads (hundreds
            # of pages opening at once) queues instead of failing with "Too many
            # connections".
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                decode_responses=True,
                socket_connect_timeout=5,
                socket_timeout=10,
                max_connections=POOL_SIZE,
                timeout=POOL_WAIT_S,
            )
            self._redis = aioredis.Redis(connection_pool=pool)
        return self._redis

    async def start(self) -> None:
        """Connect and start the writer and reader tasks. An unreachable Redis is logged,
        not fatal: entries queue until it answers (readiness reports it meanwhile)."""
        self._client()
        # XREAD blocks its connection: it gets its own, without a read timeout.
        self._blocking = aioredis.Redis.from_url(
            self.url, decode_responses=True, socket_connect_timeout=5
        )
        if not await self.ping():
            logger.warning("Redis at %s does not answer; entries wait for it", redacted(self.url))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_forever(), name="lightchat-bus-writer")
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="lightchat-bus-reader")

    async def aclose(self, timeout: float = 10.0) -> None:
        """Write out what is queued (up to ``timeout`` seconds), then disconnect."""
        self.close()
        if self._writer is not None and self._ops:
            try:
                async with asyncio.timeout(timeout):
                    await self.flush()
            except TimeoutError:
                logger.error(
                    "Redis at %s took too long: %d log writes were not stored",
                    redacted(self.url),
                    len(self._ops),
                )
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._reader is not None:
            await self._stop_reader()
        self._writer = self._reader = None
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.delete(self._control)
            await self._redis.aclose()
            self._redis = None
        if self._blocking is not None:
            await self._blocking.aclose()
            self._blocking = None

    async def _stop_reader(self) -> None:
        """End the reader task. A blocked ``XREAD`` does not give way to cancellation (the
        client finishes the command first), so the task is nudged to return and see the
        stop; failing that, its connection is dropped under it."""
        assert self._reader is not None
        self._stopping = True
        with contextlib.suppress(RedisError, OSError):
            await self._client().xadd(self._control, {"n": "1"}, maxlen=1, approximate=False)
        try:
            async with asyncio.timeout(2):
                await asyncio.shield(self._reader)
        except (TimeoutError, RedisError, OSError):
            if self._blocking is not None:
                await self._blocking.connection_pool.disconnect()
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, RedisError, OSError):
                async with asyncio.timeout(2):
                    await self._reader

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(5):
                return bool(await self._client().ping())
        except (RedisError, OSError, TimeoutError):
            return False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._mirror.close()
        for sid in list(self._waiters):
            self._wake(sid)

    # -- writing ------------------------------------------------------------------------

    def publish(self, session_id: str, event: Event) -> Entry:
        entry = self._mirror.publish(session_id, event)
        # Tokens are immutable; other events hold mutable data, so their JSON is made now.
        text = None if isinstance(event, TokenEvent) else event_to_json(event)
        self._queue(_Add(session_id, entry.seq, event, text))
        if (
            isinstance(event, RunEvent)
            and not event.running
            and self._mirror.size(session_id) > self.compact_after
        ):
            compacted = self._mirror.compact(session_id, self.keep)
            if compacted is not None:
                snapshot, kept = compacted
                events = json.dumps([event_to_json(e.event) for e in snapshot])
                self._queue(_Snap(session_id, entry.seq, kept, events))
        return entry

    def _queue(self, op: _Op) -> None:
        self._ops.append(op)
        self._queued += 1
        self._work.set()

    def discard(self, session_id: str) -> None:
        """Forget a chat's log, here and in Redis (a chat that ends, or one reopened from
        history, whose log starts again at 1). Only the chat's writer calls it.

        Once the bus is closed (the worker stops) it only forgets the mirror: the chats
        closed then go on on other workers, which adopt their logs from Redis.
        """
        self._mirror.discard(session_id)
        self._seen.pop(session_id, None)
        if not self._closed:
            self._queue(_Drop(session_id))
        self._wake(session_id)

    def release(self, session_id: str) -> None:
        """Stop writing a chat's log, leaving it in Redis for the worker that takes the
        chat over (a worker handing its chats over as it stops)."""
        self._mirror.release(session_id)

    async def flush(self) -> None:
        if self._written >= self._queued:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushes.append((self._queued, future))
        await future

    async def _write_forever(self) -> None:
        backoff = 0.05
        while True:
            if not self._ops:
                self._work.clear()
                await self._work.wait()
                continue
            batch = [self._ops[i] for i in range(min(len(self._ops), _BATCH_MAX))]
            try:
                await self._write(batch)
            except _UNREACHABLE as exc:
                logger.warning(
                    "Redis at %s unreachable (%s); %d log writes wait",
                    redacted(self.url),
                    exc,
                    len(self._ops),
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            for _ in batch:
                self._ops.popleft()
            self._written += len(batch)
            if self._flushes:
                waiting = []
                for target, future in self._flushes:
                    if self._written >= target:
                        if not future.done():
                            future.set_result(None)
                    else:
                        waiting.append((target, future))
                self._flushes = waiting

    async def _write(self, batch: list[_Op]) -> None:
        client = self._client()
        touched: set[str] = set()
        pipe = client.pipeline(transaction=False)
        for op in batch:
            if isinstance(op, _Add):
                text = op.text if op.text is not None else _token_json(op.event)
                pipe.execute_command("XADD", self.log_key(op.session_id), f"0-{op.seq}", "e", text)
                touched.add(op.session_id)
            elif isinstance(op, _Drop):
                pipe.delete(self.log_key(op.session_id), self.snap_key(op.session_id))
                touched.discard(op.session_id)
            else:
                # EVAL (not EVALSHA): the script is small and rare, and never missing.
                pipe.eval(
                    _COMPACT,
                    2,
                    self.log_key(op.session_id),
                    self.snap_key(op.session_id),
                    op.seq,
                    op.kept,
                    op.events,
                    self.ttl_ms,
                )
        for sid in touched:
            pipe.pexpire(self.log_key(sid), self.ttl_ms)
            pipe.pexpire(self.snap_key(sid), self.ttl_ms)
        results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, _UNREACHABLE):
                raise result
            if isinstance(result, ResponseError) and "equal or smaller" not in str(result):
                # Not a retry of an entry already stored: a bug or a foreign key; say so.
                logger.error("Redis refused a log write: %s", result)

    # -- reading ------------------------------------------------------------------------

    def last_seq(self, session_id: str) -> int:
        if self._mirror.holds(session_id):
            return self._mirror.last_seq(session_id)
        return self._seen.get(session_id, 0)

    async def read(self, session_id: str, after: int = 0, until: int | None = None) -> list[Entry]:
        if self._mirror.holds(session_id):
            return await self._mirror.read(session_id, after, until)
        return await self._read_redis(session_id, after, until)

    async def _fetch(
        self, session_id: str, after: int, until: int | None
    ) -> tuple[int, int, list[Entry], list[Entry]]:
        """The snapshot's seq and first kept seq, the snapshot (when reading from 0) and the
        raw entries ``after < seq <= until``, as one consistent view."""
        fields = ["seq", "kept", "events"] if after <= 0 else ["seq", "kept"]
        start = "-" if after <= 0 else f"(0-{after}"
        end = "+" if until is None else f"0-{until}"
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.hmget(self.snap_key(session_id), fields)
            pipe.xrange(self.log_key(session_id), start, end)
            meta, raw = await pipe.execute()
        snap_seq, kept = int(meta[0] or 0), int(meta[1] or 0)
        snapshot: list[Entry] = []
        if after <= 0 and snap_seq and meta[2]:
            snapshot = [Entry(snap_seq, event_from_json(t)) for t in json.loads(meta[2])]
        entries = [Entry(_seq(entry_id), event_from_json(data["e"])) for entry_id, data in raw]
        return snap_seq, kept, snapshot, entries

    async def _read_redis(self, session_id: str, after: int, until: int | None) -> list[Entry]:
        after = max(after, 0)
        if until is not None and until <= after:
            return []
        snap_seq, kept, snapshot, entries = await self._fetch(session_id, after, until)
        if snap_seq:
            if after == 0:
                if until is not None and until < snap_seq:
                    raise LogCompacted(session_id, until, kept)
                entries = snapshot + [e for e in entries if e.seq > snap_seq]
            elif after + 1 < kept:
                raise LogCompacted(session_id, after, kept)
        if entries:
            if len(self._seen) > 10_000 and session_id not in self._seen:
                self._seen.clear()  # a hint only (see last_seq): keep it small
            self._seen[session_id] = max(self._seen.get(session_id, 0), entries[-1].seq)
        return entries

    async def adopt(self, session_id: str) -> list[Entry]:
        """Load the log from Redis into the mirror, even over a mirror this worker already
        holds: another worker may have written the chat since (this one was taken for dead
        and took it back), and Redis has the truth once this worker's own writes are in."""
        await self.flush()
        snap_seq, _, snapshot, entries = await self._fetch(session_id, 0, None)
        self._mirror.load(session_id, snap_seq, snapshot, entries)
        return await self._mirror.read(session_id)

    async def wait(self, session_id: str, after: int, timeout: float) -> list[Entry]:
        if self._mirror.holds(session_id):
            return await self._mirror.wait(session_id, after, timeout)
        entries = await self._read_redis(session_id, after, None)
        if entries or self._closed or timeout <= 0:
            return entries
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        waiters = self._waiters.setdefault(session_id, [])
        waiters.append((after, waiter))
        watched = self._watched.get(session_id)
        if (watched is None or watched > after) and not self._nudged:
            # The XREAD in flight does not cover this stream from here: have it reissued.
            self._nudged = True
            with contextlib.suppress(RedisError, OSError):  # Redis gone: the wait times out
                await self._client().xadd(self._control, {"n": "1"}, maxlen=1, approximate=False)
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            left = self._waiters.get(session_id)
            if left is not None:
                left[:] = [w for w in left if w[1] is not waiter]
                if not left:
                    del self._waiters[session_id]
        if self._closed:
            return []
        if self._mirror.holds(session_id):  # adopted meanwhile
            return await self._mirror.read(session_id, after)
        return await self._read_redis(session_id, after, None)

    def _wake(self, session_id: str) -> None:
        for _, waiter in self._waiters.pop(session_id, []):
            _resolve(waiter)

    async def _read_forever(self) -> None:
        assert self._blocking is not None
        control_id = "0-0"
        backoff = 0.05
        while not self._stopping:
            cursors = {sid: min(a for a, _ in ws) for sid, ws in self._waiters.items() if ws}
            streams: dict[Any, Any] = {self._control: control_id}
            streams.update({self.log_key(sid): f"0-{after}" for sid, after in cursors.items()})
            self._watched = cursors
            self._nudged = False
            try:
                reply: Any = await self._blocking.xread(streams, count=1, block=_BLOCK_MS)
            except _UNREACHABLE:
                # Waiters time out as usual and read again (which tells them Redis is gone).
                self._watched = {}
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            log_prefix = self.log_key("")
            for key, items in reply or ():
                if key == self._control:
                    control_id = items[-1][0]
                elif key.startswith(log_prefix):
                    self._wake(key[len(log_prefix) :])


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
