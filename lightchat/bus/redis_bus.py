"""RedisBus: the chats' event logs in Redis Streams, shared by every worker of an app.

Layout (every key starts with ``Settings.redis_prefix``, ``lc:`` by default, so several apps
can share one Redis):

- ``lc:log:<session>``: a stream, one entry per event, with the explicit id ``0-<seq>``, so a
  Redis id maps one to one onto the log's sequence number and the SSE event id. The one
  field ``e`` holds the event as JSON (``lightchat.domain.events.event_to_json``).
- ``lc:snap:<session>``: a hash (``seq``, ``kept``, ``events``) once the log was compacted:
  the chat's state at ``seq`` as a list of events, and the first sequence number still in
  the stream. The snapshot is written and the stream trimmed by one Lua script, so a reader
  never sees one without the other.
- ``lc:tail:<session>``: a pub/sub channel (no key): each write batch of a chat is also
  published there, for the workers that stream the chat without owning it.
- ``lc:lists``: a pub/sub channel: "<worker>\n<owner>" when an owner's list of chats
  changed (``announce``, see "Lists of chats" in ``lightchat.bus``); every worker's
  follower hears it and wakes that owner's streams. It is sent by the writer, in order
  with the entries queued before it.

The log and snapshot expire ``Settings.log_ttl_s`` after the last write (every write batch
renews them).

Writing: the worker that owns a chat is the only writer of its log. ``publish`` stays sync
and cheap (the token stream publishes from a timer callback): it appends to a local mirror
(a ``MemoryBus``, so this worker's own streams read memory, not the network) and queues the
Redis write. One writer task drains the queue in order; whatever is queued at once goes in
one pipeline, with one Lua call per chat (``_WRITE``: its entries' ``XADD``, the expiry, and
one ``PUBLISH`` of them all). When Redis cannot be reached the batch stays queued and is sent
again (backing off up to two seconds), so an outage delays entries and loses none while
this process lives; an ``XADD`` answered "id too small" on a retry was written before the
connection broke, and counts as done.

Fencing: with several workers (``owner_id`` set, see ``lightchat.cluster``), every write
first checks the chat's ``lc:owner:<session>`` key in the same script. A worker whose event
loop froze for longer than its heartbeat lives may have had its chats taken over meanwhile;
when it wakes, its late writes are refused instead of landing in the new owner's log, the
chat is dropped here (``on_lost``), and this worker's pages read the log from Redis.

Compaction: when a run ends (``RunEvent(running=False)``) and the mirror holds more than
``Settings.log_compact_after`` raw entries, the mirror is compacted (``MemoryBus.compact``)
and the same snapshot is queued, so Redis gets it after the entries it stands for. The last
quarter of the threshold stays raw, so streams a little behind go on; one further behind
gets ``LogCompacted`` and its page reloads (see ``lightchat.http.routes.chat_events``).

Folding (``fold=True``, see ``lightchat.bus``): when the mirror drops a finished message's
tokens, the same entries are deleted from the stream (``_FOLD``, in order after their
writes), and those still queued are never stored: they are published all the same, so a
follower's sequence stays whole (a follower that reads the stream sees the gaps, as the
owner's mirror does).

Reading a chat this worker does not write: ``read`` is one ``MULTI`` (the snapshot's
``seq``/``kept`` fields and ``XRANGE``). ``wait`` follows the chat: the worker's one pub/sub
connection subscribes to its ``tail`` channel (once, however many pages wait on it; dropped
a while after the last page stops waiting), and keeps the newest entries published there
(``_Tail``). A page that waits takes what is new from them, and parks when nothing is: the
next publication wakes it with the entries already decoded, so a page streaming a chat
owned elsewhere costs no Redis command per event, and the worker's cost per event does not
grow with the number of chats it follows. Redis stays the truth: a page whose point is
older than the entries kept, or that starts following, reads the stream (after the
subscription is confirmed, so nothing published in between is missed); a gap in the
published sequence numbers, a dropped log, or a reconnection clears the kept entries, and
pages read the stream again. A page that waited ``VERIFY_S`` without hearing anything reads
the stream too, which bounds what a silently lost publication could cost.

Throughput (``benchmarks/redis_bus.py``, a shared two-core machine, a local Redis,
hiredis installed): ``publish`` about 360,000 entries/s (sync: mirror and queue); the
writer stores about 125,000 entries/s, twice what the ``XADD`` pipeline it replaced did in
the same run; one ``read`` of a 100,000-entry log takes about 0.7 s. Tokens are batched
per chat when the worker is busy and at most one event per 5 ms otherwise
(``lightchat.chat.session``), so a chat writes at most a couple of hundred entries per
second, not thousands; a finished message's tokens are deleted again (``_FOLD``).

``last_seq`` is sync: for a chat this worker writes it is exact; for any other chat it is
the newest sequence number this worker has seen from Redis (0 if none), which may lag.

Connections: commands go through the worker's one pool (``lightchat.redis_pool``), which
the app shares with the cluster; the follower has one pub/sub connection of its own.

One concept, kept whole: the Lua scripts, the ordered writer, the followers of chats owned
elsewhere and ``RedisBus`` itself share one set of keys, one connection pool and one order
of writes (a write, its publication and its fence are one script call), so they stay in one
module; ``lightchat.bus`` holds the interface and the in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lightchat.bus import Lists, ListWatch, LogCompacted, MemoryBus
from lightchat.domain.events import (
    Entry,
    Event,
    RunEvent,
    TokenEvent,
    event_from_json,
    event_to_json,
)
from lightchat.redis_pool import Pool, connection_pool, dedicated_client

logger = logging.getLogger("lightchat.bus")

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_BATCH_MAX = 5_000
"""The most queued writes sent in one pipeline (bounds one request's size)."""
TAIL_MAX = 512
"""The newest entries kept per followed chat (a page further behind reads the stream)."""
LINGER_S = 30.0
"""How long a chat stays followed after its last page stopped waiting (a page that
reconnects, or waits again after a render, finds it still followed)."""
VERIFY_S = 5.0
"""A page that heard nothing for this long reads the stream instead of trusting the tail."""
_RESET = "-"
"""What ``tail`` publishes when a log is dropped: followers forget what they kept."""
_FENCED = -1

# Every script below that writes a chat's log runs this first (see _SCRIPTS): nothing is
# written, and {-1, ''} returned, when the chat's owner (KEYS[3]) is another worker than
# ARGV[1] ('' = no check).
_FENCE = """
if ARGV[1] ~= '' then
  local owner = redis.call('GET', KEYS[3])
  if owner and owner ~= ARGV[1] then
    return {-1, ''}
  end
end
"""

# One chat's share of a write batch: the owner check (fencing), its entries, the expiry,
# and one publication of them all ("<first seq>\n<json>\n<json>...") for its followers.
# KEYS: log, snap, owner, tail channel. ARGV: owner id ('' = no check), ttl ms, the first
# seq, then seq, json pairs; a negative seq is published but not stored (a token folded
# before it was written). Returns {written, first error or ''}, or {-1, ''} when fenced.
_WRITE = r"""
local texts = {}
local written = 0
local failed = ''
for i = 4, #ARGV, 2 do
  if string.sub(ARGV[i], 1, 1) ~= '-' then
    local ok = redis.pcall('XADD', KEYS[1], '0-' .. ARGV[i], 'e', ARGV[i + 1])
    if type(ok) == 'table' and ok.err then
      if failed == '' and not string.find(ok.err, 'equal or smaller', 1, true) then
        failed = ok.err
      end
    else
      written = written + 1
    end
  end
  texts[#texts + 1] = ARGV[i + 1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', KEYS[4], ARGV[3] .. '\n' .. table.concat(texts, '\n'))
return {written, failed}
"""

# Deletes a finished item's token entries (see "Folding" in lightchat.bus). KEYS: log,
# snap, owner. ARGV: owner id, then the seqs.
_FOLD = """
local ids = {}
for i = 2, #ARGV do
  ids[#ids + 1] = '0-' .. ARGV[i]
  if #ids == 1000 then
    redis.call('XDEL', KEYS[1], unpack(ids))
    ids = {}
  end
end
if #ids > 0 then
  redis.call('XDEL', KEYS[1], unpack(ids))
end
return {1, ''}
"""

# Writes the snapshot and trims the stream in one step, so a reader sees both or neither.
# KEYS: log, snap, owner. ARGV: owner id, seq, kept, events, ttl ms.
_COMPACT = """
redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'kept', ARGV[3], 'events', ARGV[4])
redis.call('XTRIM', KEYS[1], 'MINID', '0-' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, ''}
"""

# Deletes a log and its snapshot and tells the followers. KEYS: log, snap, owner, tail.
_DROP = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', KEYS[4], ARGV[2])
return {1, ''}
"""

_SCRIPTS = {
    "write": _FENCE + _WRITE,
    "compact": _FENCE + _COMPACT,
    "drop": _FENCE + _DROP,
    "fold": _FENCE + _FOLD,
}
_SHAS = {name: hashlib.sha1(text.encode()).hexdigest() for name, text in _SCRIPTS.items()}


@dataclass(slots=True)
class _Add:
    session_id: str
    seq: int
    event: Event
    text: str | None  # the JSON, made at publish time unless the event is immutable
    stored: bool = True  # False: folded before it was written, only published


@dataclass(slots=True)
class _Fold:
    session_id: str
    seqs: list[int]


@dataclass(slots=True)
class _Drop:
    session_id: str


@dataclass(slots=True)
class _Snap:
    session_id: str
    seq: int
    kept: int
    events: str


@dataclass(slots=True)
class _Announce:
    owner: str


_Op = _Add | _Drop | _Snap | _Fold | _Announce


@dataclass(slots=True)
class _Tail:
    """A chat this worker follows (pages wait on it) without writing it.

    ``entries`` are the newest ones published since the subscription was confirmed,
    consecutive, ending at ``last``; empty when nothing can be vouched for (just
    subscribed, or after a gap), in which case pages read the stream.
    """

    ready: asyncio.Future[None]
    entries: deque[Entry] = field(default_factory=lambda: deque(maxlen=TAIL_MAX))
    last: int = 0
    generation: int = 0  # bumped whenever what was kept stops being trustworthy
    heard: float = 0.0  # when the stream was last read or a publication arrived
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    idle_since: float = 0.0

    def take(self, after: int) -> list[Entry] | None:
        """The kept entries past ``after``, or None when they cannot tell (the page's
        point is older than what is kept, or nothing is)."""
        if not self.entries or self.entries[0].seq > after + 1:
            return None
        if after >= self.last:
            return []
        return [entry for entry in self.entries if entry.seq > after]

    def keep(self, entries: list[Entry]) -> None:
        """Add published entries, which follow what is kept unless some were missed."""
        if not entries:
            return
        if self.entries and entries[0].seq > self.last + 1:
            self.entries.clear()  # a gap: the stream has what was missed
        fresh = [entry for entry in entries if entry.seq > self.last] if self.entries else entries
        self.entries.extend(fresh)
        if fresh:
            self.last = fresh[-1].seq

    def forget(self) -> None:
        self.entries.clear()
        self.last = 0
        self.generation += 1

    def wake(self, everyone: bool = False) -> None:
        still = []
        for after, waiter in self.waiters:
            if everyone or after < self.last:
                _resolve(waiter)
            else:
                still.append((after, waiter))
        self.waiters = still


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
    """Event logs in Redis Streams: several workers read them; each chat's owner writes it.

    ``pool``: the worker's connection pool to Redis (``lightchat.redis_pool``), which the
    app shares between the bus and the cluster; without it, the bus makes its own.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "lc:",
        ttl_s: int = 86400,
        compact_after: int = 2000,
        pool: Pool | None = None,
        fold: bool = False,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_ms = ttl_s * 1000
        self.compact_after = compact_after
        self.keep = max(compact_after // 4, 1)
        self.owner_id = ""
        """This worker's id in the cluster: writes to a chat another worker owns now are
        refused (fencing). Empty: no check (one worker)."""
        self.on_lost: Callable[[str], None] | None = None
        """Called with a chat's id when its writes were refused: it is another worker's."""
        self._mirror = MemoryBus(fold=fold)
        self._seen: dict[str, int] = {}
        self._lost: dict[str, int] = {}  # chats taken from this worker: their local seq
        self._closed = False
        # The worker's pool, when the app gives it (shared with the cluster, closed by the
        # app); without it, the bus makes a pool of its own on start and closes it.
        self._pool = pool
        self._redis: aioredis.Redis | None = None
        # Writing.
        self._ops: deque[_Op] = deque()
        self._queued = 0
        self._written = 0
        self._work = asyncio.Event()
        self._flushes: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        # Following chats written elsewhere.
        self._tails: dict[str, _Tail] = {}
        self._pubsub: Any = None
        self._control = f"{prefix}bus:{uuid.uuid4().hex}"
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        # Lists of chats (see lightchat.bus): this worker's streams that watch them.
        self._lists = Lists(self.nudge)
        self._lists_channel = f"{prefix}lists"
        self._lists_heard = False  # subscribed before: a new subscription may have missed some

    # -- keys ---------------------------------------------------------------------------

    def log_key(self, session_id: str) -> str:
        """The stream holding a chat's log."""
        return f"{self.prefix}log:{session_id}"

    def snap_key(self, session_id: str) -> str:
        """The hash holding a compacted log's snapshot."""
        return f"{self.prefix}snap:{session_id}"

    def tail_channel(self, session_id: str) -> str:
        """The pub/sub channel a chat's writes are published on."""
        return f"{self.prefix}tail:{session_id}"

    def _owner_key(self, session_id: str) -> str:
        return f"{self.prefix}owner:{session_id}"  # lightchat.cluster's ``owner:{sid}``

    # -- lifecycle ----------------------------------------------------------------------

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            # A bounded pool that waits for a free connection (see lightchat.redis_pool).
            pool = self._pool if self._pool is not None else connection_pool(self.url)
            self._redis = aioredis.Redis(connection_pool=pool)
        return self._redis

    @property
    def pool(self) -> Pool:
        """The connection pool this bus's commands go through: the worker's one pool,
        shared with the cluster, when the app made the bus."""
        return self._client().connection_pool

    async def start(self) -> None:
        """Connect and start the writer and the follower. An unreachable Redis is logged,
        not fatal: entries queue until it answers (readiness reports it meanwhile)."""
        self._client()
        if await self.ping():
            with contextlib.suppress(RedisError, OSError):  # else loaded on first use
                await self._load_scripts()
        else:
            logger.warning("Redis at %s does not answer; entries wait for it", redacted(self.url))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_forever(), name="lightchat-bus-writer")
        if self._listener is None:
            self._listener = asyncio.create_task(
                self._listen_forever(), name="lightchat-bus-follower"
            )

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
        if self._listener is not None:
            await self._stop_listener()
        self._writer = self._listener = None
        if self._redis is not None:
            client, self._redis = self._redis, None
            # A pool of its own goes with the bus; the app's is closed by the app, after
            # the cluster, which still uses it.
            with contextlib.suppress(RedisError, OSError):
                await client.aclose(close_connection_pool=self._pool is None)

    async def _stop_listener(self) -> None:
        """End the follower task: a word on its control channel makes it return; failing
        that (Redis gone), it is cancelled."""
        assert self._listener is not None
        self._stopping = True
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(2):
                await self._client().publish(self._control, "stop")
        try:
            async with asyncio.timeout(2):
                await asyncio.shield(self._listener)
        except (TimeoutError, RedisError, OSError):
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, RedisError, OSError):
                async with asyncio.timeout(2):
                    await self._listener

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
        for tail in self._tails.values():
            tail.wake(everyone=True)

    # -- writing ------------------------------------------------------------------------

    def publish(self, session_id: str, event: Event) -> Entry:
        if session_id in self._lost:
            # Another worker owns the chat now: what this one still says goes nowhere.
            self._lost[session_id] += 1
            return Entry(self._lost[session_id], event)
        entry, folded = self._mirror.append(session_id, event)
        # Tokens are immutable; other events hold mutable data, so their JSON is made now.
        text = None if isinstance(event, TokenEvent) else event_to_json(event)
        self._queue(_Add(session_id, entry.seq, event, text))
        if folded:
            self._queue(_Fold(session_id, folded))
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
        closed then go on on other workers, which adopt their logs from Redis. A chat
        another worker took over is not this worker's to delete either.
        """
        self._mirror.discard(session_id)
        self._seen.pop(session_id, None)
        if not self._closed and self._lost.pop(session_id, None) is None:
            self._queue(_Drop(session_id))
        tail = self._tails.get(session_id)
        if tail is not None:
            tail.wake(everyone=True)

    def release(self, session_id: str) -> None:
        """Stop writing a chat's log, leaving it in Redis for the worker that takes the
        chat over (a worker handing its chats over as it stops)."""
        self._mirror.release(session_id)

    def announce(self, owner: str) -> None:
        """This worker's streams hear it now; the others' when the writer has sent it."""
        self._lists.heard(owner)
        if not self._closed:
            self._queue(_Announce(owner))

    def watch_lists(self, owner: str, session_id: str, since: float | None = None) -> ListWatch:
        return self._lists.watch(owner, session_id, since)

    def unwatch_lists(self, watch: ListWatch) -> None:
        self._lists.unwatch(watch)

    def nudge(self, session_id: str) -> None:
        """Wake this worker's readers of a chat, with nothing new (see ``Lists``)."""
        self._mirror.nudge(session_id)
        tail = self._tails.get(session_id)
        if tail is not None:
            tail.wake(everyone=True)

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
            except (*_UNREACHABLE, RedisError) as exc:
                logger.warning(
                    "Redis at %s did not take the log writes (%s); %d wait",
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
        """One pipeline: per chat, its entries in one ``_WRITE`` call, and its drops and
        snapshots in order with them. Scripts go by their SHA; when Redis lost them (it
        restarted), they are loaded and the batch is sent again, which changes nothing
        that was written (entries already there are skipped, a publication is told apart
        by its sequence numbers)."""
        results, calls = await self._send(batch)
        if any(isinstance(r, NoScriptError) for r in results):
            await self._load_scripts()
            results, calls = await self._send(batch)
        for sid, result in zip(calls, results, strict=True):
            if isinstance(result, _UNREACHABLE):
                raise result
            if not sid:
                continue  # an announcement's PUBLISH: nothing to check
            if isinstance(result, Exception):
                logger.error("Redis refused a log write: %s", result)
                continue
            status, failed = result
            if int(status) == _FENCED:
                self._lose(sid)
            elif failed:
                # Not a retry of an entry already stored: a bug or a foreign key; say so.
                logger.error("Redis refused a log write: %s", failed)

    async def _send(self, batch: list[_Op]) -> tuple[list[Any], list[str]]:
        """The batch's script calls in one pipeline: their answers, and the chat of each."""
        pipe = self._client().pipeline(transaction=False)
        calls: list[str] = []
        pending: dict[str, list[_Add]] = {}
        fence = self.owner_id

        def call(script: str, sid: str, keys: list[str], args: list[Any]) -> None:
            pipe.evalsha(_SHAS[script], len(keys), *keys, *args)
            calls.append(sid)

        def entries_of(sid: str) -> None:
            adds = pending.pop(sid, None)
            if adds:
                args: list[Any] = [fence, self.ttl_ms, adds[0].seq]
                for op in adds:
                    args.append(op.seq if op.stored else -op.seq)
                    args.append(op.text if op.text is not None else _token_json(op.event))
                call("write", sid, [*self._keys(sid), self.tail_channel(sid)], args)

        for op in batch:
            if isinstance(op, _Announce):
                pipe.publish(self._lists_channel, f"{self._control}\n{op.owner}")
                calls.append("")  # no chat
                continue
            sid = op.session_id
            if sid in self._lost:
                continue
            if isinstance(op, _Add):
                pending.setdefault(sid, []).append(op)
                continue
            if isinstance(op, _Fold):
                # Tokens still waiting in this batch are published, never stored; only
                # those written before are deleted.
                folded = set(op.seqs)
                for add in pending.get(sid, ()):
                    if add.seq in folded:
                        add.stored = False
                        folded.discard(add.seq)
                if folded:
                    entries_of(sid)
                    call("fold", sid, self._keys(sid), [fence, *sorted(folded)])
                continue
            entries_of(sid)
            if isinstance(op, _Drop):
                call("drop", sid, [*self._keys(sid), self.tail_channel(sid)], [fence, _RESET])
            else:
                args = [fence, op.seq, op.kept, op.events, self.ttl_ms]
                call("compact", sid, self._keys(sid), args)
        for sid in list(pending):
            entries_of(sid)
        if not calls:
            return [], []
        return list(await pipe.execute(raise_on_error=False)), calls

    def _keys(self, session_id: str) -> list[str]:
        return [self.log_key(session_id), self.snap_key(session_id), self._owner_key(session_id)]

    async def _load_scripts(self) -> None:
        for text in _SCRIPTS.values():
            await self._client().script_load(text)

    def _lose(self, session_id: str) -> None:
        """Another worker owns the chat now (this one was taken for dead): stop writing
        it, read it from Redis from now on, and let the app end it here."""
        if session_id in self._lost:
            return
        logger.warning("Chat %s was taken over by another worker; it ends here", session_id)
        self._lost[session_id] = self._mirror.last_seq(session_id)
        self._mirror.release(session_id)
        if self.on_lost is not None:
            self.on_lost(session_id)

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
        for attempt in range(2):
            try:
                async with self._client().pipeline(transaction=True) as pipe:
                    pipe.hmget(self.snap_key(session_id), fields)
                    pipe.xrange(self.log_key(session_id), start, end)
                    meta, raw = await pipe.execute()
                break
            except _UNREACHABLE:
                # Once more: after an outage, a pooled connection may be a dead one (the
                # retry gets a fresh one); a second failure means Redis is gone.
                if attempt:
                    raise
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
        tail = self._tails.get(session_id)
        vouched = tail is not None and tail.ready.done() and until is None
        generation = tail.generation if tail is not None else 0
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
        if tail is not None:
            tail.heard = time.monotonic()
            if vouched and tail.generation == generation and not tail.entries and entries:
                # Read while subscribed: whatever comes after these is published to come.
                tail.keep([e for e in entries if e.seq > snap_seq or not snap_seq])
        return entries

    async def adopt(self, session_id: str) -> list[Entry]:
        """Load the log from Redis into the mirror, even over a mirror this worker already
        holds: another worker may have written the chat since (this one was taken for dead
        and took it back), and Redis has the truth once this worker's own writes are in."""
        await self.flush()
        self._lost.pop(session_id, None)
        snap_seq, kept, snapshot, entries = await self._fetch(session_id, 0, None)
        self._mirror.load(session_id, snap_seq, snapshot, entries, kept)
        return await self._mirror.read(session_id)

    async def wait(self, session_id: str, after: int, timeout: float) -> list[Entry]:
        if self._mirror.holds(session_id):
            return await self._mirror.wait(session_id, after, timeout)
        tail = await self._follow(session_id, timeout)
        if tail is None:  # Redis does not answer: reading says so, or finds what is there
            return await self._read_redis(session_id, after, None)
        loop = asyncio.get_running_loop()
        tail.idle_since = loop.time()  # in use (a page may take without ever parking)
        entries = tail.take(after)
        if entries is None:
            entries = await self._read_redis(session_id, after, None)
            if not entries:
                entries = tail.take(after) or []  # published while the read ran
        if entries or self._closed or timeout <= 0:
            return entries
        waiter: asyncio.Future[None] = loop.create_future()
        tail.waiters.append((after, waiter))
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            tail.waiters = [w for w in tail.waiters if w[1] is not waiter]
            if not tail.waiters:
                tail.idle_since = loop.time()
        if self._closed:
            return []
        if self._mirror.holds(session_id):  # adopted meanwhile
            return await self._mirror.read(session_id, after)
        entries = tail.take(after)
        if entries is None or (not entries and time.monotonic() - tail.heard > VERIFY_S):
            entries = await self._read_redis(session_id, after, None)
        return entries

    async def _follow(self, session_id: str, timeout: float) -> _Tail | None:
        """The chat's tail, subscribed to its channel (waits up to ``timeout`` for the
        subscription to be confirmed; None if it is not, Redis being unreachable)."""
        tail = self._tails.get(session_id)
        if tail is None:
            loop = asyncio.get_running_loop()
            tail = self._tails[session_id] = _Tail(loop.create_future(), idle_since=loop.time())
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):  # the listener resubscribes
                    await self._pubsub.subscribe(self.tail_channel(session_id))
        if not tail.ready.done():
            try:
                async with asyncio.timeout(max(timeout, 0.05)):
                    await asyncio.shield(tail.ready)
            except TimeoutError:
                return None
        return tail

    async def _listen_forever(self) -> None:
        """Follow the chats pages wait on: one pub/sub connection for all of them."""
        backoff = 0.05
        prefix = self.tail_channel("")
        while not self._stopping:
            # Its own connection, outside the pool, which errors instead of reconnecting
            # behind our back (a silent reconnection would lose publications unnoticed).
            client = dedicated_client(self.url)
            pubsub: Any = client.pubsub()
            try:
                await pubsub.subscribe(self._control, self._lists_channel)
                # From here a page that starts following subscribes itself; the chats
                # followed so far are subscribed now (no await in between: none is missed).
                self._pubsub = pubsub
                if self._tails:
                    await pubsub.subscribe(*(self.tail_channel(sid) for sid in self._tails))
                backoff = 0.05
                swept = time.monotonic()
                while not self._stopping:
                    # Woken at least every third of LINGER_S, so the sweep keeps to it.
                    message = await pubsub.get_message(timeout=min(1.0, LINGER_S / 3))
                    if message is not None:
                        await self._heard(pubsub, message, prefix)
                    if time.monotonic() - swept > LINGER_S / 3:
                        await self._sweep(pubsub)
                        swept = time.monotonic()
            except _UNREACHABLE:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                self._pubsub = None
                self._unsubscribed()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()

    async def _heard(self, pubsub: Any, message: dict[str, Any], prefix: str) -> None:
        channel: str = message["channel"]
        if channel == self._lists_channel:
            self._heard_lists(message)
            return
        if not channel.startswith(prefix):
            return  # the control channel: only there to wake this loop
        session_id = channel[len(prefix) :]
        tail = self._tails.get(session_id)
        if tail is None:
            return
        kind = message["type"]
        if kind == "subscribe":
            if tail.ready.done():  # subscribed again after a reconnection: a gap may be
                tail.forget()
                tail.wake(everyone=True)
            else:
                tail.ready.set_result(None)
            return
        if kind == "unsubscribe":
            if tail.ready.done():
                # A page followed the chat again while the sweep let it go, and its
                # subscription went first: subscribe once more.
                tail.forget()
                tail.ready = asyncio.get_running_loop().create_future()
                tail.wake(everyone=True)
                await pubsub.subscribe(channel)
            return
        if kind != "message" or not tail.ready.done():
            return
        tail.heard = time.monotonic()
        data: str = message["data"]
        if data == _RESET:
            tail.forget()
            tail.wake(everyone=True)
            return
        first, _, rest = data.partition("\n")
        seq = int(first)
        entries = [Entry(seq + n, event_from_json(text)) for n, text in enumerate(rest.split("\n"))]
        tail.keep(entries)
        self._seen[session_id] = max(self._seen.get(session_id, 0), tail.last)
        tail.wake()

    def _heard_lists(self, message: dict[str, Any]) -> None:
        """A word on the lists channel: an owner's list changed (this worker's own words
        were heard when said), or, subscribed again after a lost connection, any may have."""
        kind = message["type"]
        if kind == "subscribe":
            if self._lists_heard:
                self._lists.everyone()
            self._lists_heard = True
        elif kind == "message":
            sender, _, owner = str(message["data"]).partition("\n")
            if sender != self._control and owner:
                self._lists.heard(owner)

    async def _sweep(self, pubsub: Any) -> None:
        """Stop following chats no page waited on for ``LINGER_S``."""
        now = asyncio.get_running_loop().time()
        idle = [
            sid
            for sid, tail in self._tails.items()
            if not tail.waiters and now - tail.idle_since > LINGER_S
        ]
        for sid in idle:
            del self._tails[sid]
        if idle:
            await pubsub.unsubscribe(*(self.tail_channel(sid) for sid in idle))

    def _unsubscribed(self) -> None:
        """The pub/sub connection is gone: nothing kept can be vouched for; pages read the
        stream, and wait for the subscriptions to be confirmed again."""
        loop = asyncio.get_running_loop()
        for tail in self._tails.values():
            tail.forget()
            if tail.ready.done():
                tail.ready = loop.create_future()
            tail.wake(everyone=True)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
