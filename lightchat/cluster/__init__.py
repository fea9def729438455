"""The cluster: which worker owns which chat, when several workers share one Redis.

A chat's ``user_session`` holds live Python objects, so its callbacks run in one worker
at a time: the chat's owner. Every worker here has an id and a heartbeat key that lives
``Settings.worker_ttl_s`` and is refreshed every third of that; a worker whose heartbeat
key is gone is dead. The keys, under a prefix (``lc:`` by default):

- ``worker:{wid}``: the heartbeat (its value: ``host:pid``, where the worker runs);
- ``owner:{sid}``: the id of the worker that owns the chat. It is set when the chat is
  created and changed only by :meth:`Cluster.claim`, a Lua script that takes the chat
  only when its owner's heartbeat is gone (or it has none), so two workers racing for a
  dead owner's chat cannot both win. The bus checks it with every write to the chat's log,
  so a worker taken for dead that wakes up cannot write there (``lightchat.bus.redis_bus``);
- ``chat:{sid}``: the chat's metadata (a hash: ``owner``, the key of the user or browser
  it belongs to; ``client_type``), with which any worker authorises a stream of a chat it
  does not own;
- ``seen:{sid}``: set by streams on other workers, so the owner does not end a chat that
  a page still shows (:meth:`Cluster.seen`);
- ``workers``: the set of worker ids that beat (a dead one's id is dropped when a worker
  looks for another to hand a chat to: :meth:`Cluster.successor`);
- ``draining:{wid}``: set (and kept alive by the heartbeat) while the worker shuts down,
  so no chat is handed to it;
- ``inbox:{wid}``: requests forwarded to this worker (see
  ``lightchat.http.middleware.forwarding``). The inbox consumer runs each one through the
  worker's own ASGI app, with ``scope["lightchat.forwarded"] = True`` (set here, never
  from a header, so a forwarded request is not forwarded again), and pushes its answer,
  tagged with the request's id, onto ``reply:{wid}`` of the worker that sent it;
- ``reply:{wid}``: the answers to the requests this worker forwarded. One task per worker
  reads it and hands each answer to the request waiting for it, so a thousand requests
  waiting for their answers hold one Redis connection, not a thousand. The list expires
  soon after its last answer, so a dead worker's answers do not stay;
- ``{kind}:{name}``: a hash of text blobs that other parts keep for every worker to find
  (:meth:`Cluster.blobs`, :meth:`Cluster.put_blob`, :meth:`Cluster.drop_blob`), such as
  ``mcp:{owner}``, the MCP servers a user remembers without history
  (``lightchat.chat.mcp_memory``, which seals them first: the cluster stores what it is
  given as it is). Each read or write keeps it ``Settings.log_ttl_s`` longer.

Ownership, metadata and seen marks expire (``Settings.log_ttl_s``, a day by default), so
Redis keeps nothing about a chat nobody uses.

The public surface other parts use:

- ``await cluster.start(app)`` / ``await cluster.aclose()``: from the app's lifespan.
  ``aclose`` deletes the heartbeat, so other workers take this one's chats over at once.
- ``await cluster.release(session_ids)``: graceful shutdown: give up ownership of these
  chats (only those this worker still owns), so the next request for each is taken by
  another worker, which reopens it from the event log and the database. Returns how many
  were released.
- ``await cluster.register(sid, owner=..., client_type=...)``: a chat made here.
- ``await cluster.route(sid)``: ``(owner wid or None, alive)``.
- ``await cluster.begin_draining()``: this worker shuts down: it claims no more chats,
  and ``successor`` never names it.
- ``await cluster.successor()``: another live worker that is not shutting down (to hand a
  chat to), or None.
- ``await cluster.blobs(kind, name)``, ``put_blob(kind, name, field, value)``,
  ``drop_blob(kind, name, field)``: a hash of blobs under the cluster's prefix.
- ``await cluster.forward(wid, request, timeout)``: a request run by another worker (see
  ``lightchat.http.middleware.forwarding``); ``await cluster.finish_under_way(timeout)``
  lets those under way (both ways) end before ``aclose``.

Every Redis failure is raised as :class:`ClusterUnavailable`, which the endpoints answer
with a 503 that says so: a command that waited too long for a connection of the worker's
pool, or for Redis's answer, too.

Connections: the cluster's commands go through the worker's one connection pool
(``lightchat.redis_pool``), which the app shares with the bus.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message

from lightchat.config.settings import Settings
from lightchat.errors import ClusterUnavailable, OwnerGone
from lightchat.redis_pool import Pool, connection_pool

logger = logging.getLogger("lightchat")

FORWARDED = "lightchat.forwarded"
"""The ASGI scope key of a request forwarded to this worker by another one."""

__all__ = ["FORWARDED", "Cluster", "ClusterUnavailable", "OwnerGone", "Reply"]

# Takes the chat when it has no owner, or its owner's heartbeat is gone (or it is ours).
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if current and redis.call('EXISTS', ARGV[2] .. current) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""

# The chat's owner, and whether its heartbeat is there, in one round trip.
_ROUTE = """
local current = redis.call('GET', KEYS[1])
if not current then
  return {'', 0}
end
return {current, redis.call('EXISTS', ARGV[1] .. current)}
"""

# The workers that beat and do not shut down, other than ARGV[1] (the one asking); the ids
# of workers whose heartbeat is gone leave the set on the way.
_SUCCESSORS = """
local found = {}
for _, wid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[2] .. wid) == 0 then
    redis.call('SREM', KEYS[1], wid)
  elseif wid ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. wid) == 0 then
    table.insert(found, wid)
  end
end
return found
"""

# Drops the ownership of the chats still owned by ARGV[1].
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


@dataclass(slots=True)
class Reply:
    """A forwarded request's answer, as the owner gave it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(slots=True)
class _Inbox:
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    """The forwarded requests being served here."""
    waiting: dict[str, asyncio.Future[Reply]] = field(default_factory=dict)
    """The requests this worker forwarded, by id, each waiting for its answer."""


class Cluster:
    """This worker's place among the workers sharing one Redis (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        url: str,
        *,
        prefix: str = "lc:",
        pool: Pool | None = None,
    ) -> None:
        self.settings = settings
        self.wid = uuid.uuid4().hex
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        """What the heartbeat key holds: where this worker runs (for operators)."""
        self.prefix = prefix
        self.ttl_ms = max(int(settings.worker_ttl_s * 1000), 300)
        self.keep_ms = max(settings.log_ttl_s * 1000, self.ttl_ms)
        # A bounded pool that waits for a free connection (see lightchat.redis_pool): the
        # app's, shared with the bus, or one of this cluster's own. The blocking pops of
        # the inbox and of the replies take one each while they wait.
        self._owns_pool = pool is None
        self.pool: Pool = connection_pool(url) if pool is None else pool
        """The connection pool of this cluster's commands: the worker's one pool, shared
        with the bus, when the app made the cluster."""
        self.redis: aioredis.Redis = aioredis.Redis(connection_pool=self.pool)
        self._claim = self.redis.register_script(_CLAIM)
        self._route = self.redis.register_script(_ROUTE)
        self._release = self.redis.register_script(_RELEASE)
        self._successors = self.redis.register_script(_SUCCESSORS)
        self.workers_key = f"{prefix}workers"
        """The set of the workers' ids (see the module docstring)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox = _Inbox()
        self.draining = False
        """Set when this worker shuts down (``begin_draining``): it claims no more chats
        (they go elsewhere), and no chat is handed to it."""

    def key(self, kind: str, name: str) -> str:
        """A key of this cluster's (``lc:owner:{sid}``...)."""
        return f"{self.prefix}{kind}:{name}"

    # -- life ----------------------------------------------------------------------------

    async def start(self, app: ASGIApp) -> None:
        """Beat, and serve requests forwarded to this worker through ``app``. An
        unreachable Redis is logged, not fatal: the heartbeat and the inbox retry."""
        try:
            await self._beat()
        except ClusterUnavailable as exc:
            logger.warning("Redis does not answer; this worker joins when it does: %s", exc)
        self._tasks = [
            asyncio.create_task(self._heartbeat(), name="lightchat-heartbeat"),
            asyncio.create_task(self._consume(app), name="lightchat-inbox"),
            asyncio.create_task(self._listen(), name="lightchat-replies"),
        ]

    async def aclose(self) -> None:
        """Stop beating and consuming; the heartbeat goes, so others may take over now."""
        tasks, self._tasks = self._tasks, []
        await _cancel([*tasks, *self._inbox.tasks])
        with contextlib.suppress(RedisError, OSError):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.key("worker", self.wid), self.key("draining", self.wid))
                pipe.srem(self.workers_key, self.wid)
                await pipe.execute()
        # A pool of its own goes with the cluster; the app's is closed by the app.
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose(close_connection_pool=self._owns_pool)

    async def finish_under_way(self, timeout: float) -> None:
        """Let the requests under way finish, for up to ``timeout`` seconds: those
        forwarded here, and those this worker forwarded (a chat it handed over as it shuts
        down: the request went on to the chat's next worker). The end of a graceful
        shutdown waits for them before ``aclose``, which would cut them off."""
        under_way: list[asyncio.Future[Any]] = [
            *self._inbox.tasks,
            *self._inbox.waiting.values(),
        ]
        if under_way:
            await asyncio.wait(under_way, timeout=timeout)

    async def begin_draining(self) -> None:
        """This worker shuts down: it claims no more chats, and other workers hand it none
        (its ``draining:{wid}`` mark, kept by the heartbeat until it stops)."""
        self.draining = True
        with contextlib.suppress(ClusterUnavailable):  # the next beat sets the mark
            await self._beat()

    async def _beat(self) -> None:
        workers = self.workers_key
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self.key("worker", self.wid), self.name, px=self.ttl_ms)
                if self.draining:
                    pipe.set(self.key("draining", self.wid), b"1", px=self.ttl_ms)
                pipe.sadd(workers, self.wid)
                pipe.pexpire(workers, self.keep_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self._beat()
            except ClusterUnavailable as exc:  # Redis comes back, or other workers take over
                logger.warning("Could not refresh this worker's heartbeat: %s", exc)

    # -- ownership -----------------------------------------------------------------------

    async def register(self, session_id: str, *, owner: str, client_type: str) -> None:
        """A chat made here: this worker owns it, and ``owner`` (a user's or a browser's
        key) may see it."""
        meta = self.key("chat", session_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self.key("owner", session_id), self.wid, px=self.keep_ms)
                pipe.hset(meta, mapping={"owner": owner, "client_type": client_type})
                pipe.pexpire(meta, self.keep_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc

    async def metadata(self, session_id: str) -> dict[str, str] | None:
        """The chat's metadata (``owner``, ``client_type``), or None for a chat the cluster
        does not know."""
        try:
            raw = await self.redis.hgetall(self.key("chat", session_id))
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        if not raw:
            return None
        return {_text(k): _text(v) for k, v in raw.items()}

    async def route(self, session_id: str) -> tuple[str | None, bool]:
        """The id of the chat's owner (None: no worker owns it) and whether it is alive."""
        try:
            owner, alive = await self._route(
                keys=[self.key("owner", session_id)], args=[self.key("worker", "")]
            )
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return (_text(owner) or None), bool(alive)

    async def claim(self, session_id: str) -> bool:
        """Own the chat if no live worker does (True also if this one does already).

        A worker shutting down (``draining``) claims nothing new: False, so the request
        goes to (or waits for) a worker that stays."""
        if self.draining:
            owner, _ = await self.route(session_id)
            return owner == self.wid
        try:
            won = await self._claim(
                keys=[self.key("owner", session_id)],
                args=[self.wid, self.key("worker", ""), self.keep_ms],
            )
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return bool(won)

    async def release(self, session_ids: Iterable[str]) -> int:
        """Give up the chats this worker still owns among ``session_ids`` (graceful
        shutdown); returns how many it gave up. Chats another worker took are left alone."""
        keys = [self.key("owner", sid) for sid in session_ids]
        if not keys:
            return 0
        try:
            return int(await self._release(keys=keys, args=[self.wid]))
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc

    async def successor(self) -> str | None:
        """The id of a live worker, other than this one, that does not shut down (one at
        random, so the chats of a worker that stops spread over the others), or None."""
        try:
            found = await self._successors(
                keys=[self.workers_key],
                args=[self.wid, self.key("worker", ""), self.key("draining", "")],
            )
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return _text(random.choice(found)) if found else None

    async def mark_seen(self, session_id: str, for_s: float) -> None:
        """A page shows the chat here (a stream on a worker that does not own it)."""
        with contextlib.suppress(RedisError, OSError):  # a missed mark costs nothing now
            await self.redis.set(self.key("seen", session_id), self.wid, px=int(for_s * 1000))

    async def seen(self, session_ids: list[str]) -> set[str]:
        """Those of ``session_ids`` that a page on another worker showed lately."""
        if not session_ids:
            return set()
        try:
            found = await self.redis.mget([self.key("seen", sid) for sid in session_ids])
        except (RedisError, OSError):
            return set(session_ids)  # cannot tell: keep them all for now
        return {sid for sid, mark in zip(session_ids, found, strict=True) if mark is not None}

    # -- blobs ---------------------------------------------------------------------------

    async def blobs(self, kind: str, name: str) -> dict[str, str]:
        """The blobs (text: Redis's replies are decoded) kept under ``{kind}:{name}``
        (``put_blob``), by field; reading them keeps them ``log_ttl_s`` longer."""
        key = self.key(kind, name)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(key)
                pipe.pexpire(key, self.keep_ms)
                found, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return {_text(field): _text(value) for field, value in found.items()}

    async def put_blob(self, kind: str, name: str, field: str, value: str) -> None:
        """Keep ``value`` as ``field`` of ``{kind}:{name}`` (replacing the one there), for
        ``log_ttl_s`` after its last use. It is stored as given: seal what is secret."""
        key = self.key(kind, name)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, field, value)
                pipe.pexpire(key, self.keep_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc

    async def drop_blob(self, kind: str, name: str, field: str) -> None:
        """Drop ``field`` of ``{kind}:{name}`` (nothing happens when there is none)."""
        try:
            await self.redis.hdel(self.key(kind, name), field)
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc

    # -- forwarding ----------------------------------------------------------------------

    async def forward(self, owner: str, request: dict[str, Any], timeout: float) -> Reply:
        """Send a request (see ``lightchat.http.middleware.forwarding``) to ``owner``'s inbox
        and wait for its answer, checking the owner's heartbeat meanwhile.

        The answer comes back on this worker's ``reply:{wid}`` list, which one task reads
        for every request (``_listen``): waiting holds no Redis connection.

        Raises ``OwnerGone`` when the owner stops before answering (or does not answer
        within ``timeout`` seconds), ``ClusterUnavailable`` when Redis does not answer.
        """
        rid = uuid.uuid4().hex
        message = json.dumps({**request, "rid": rid, "reply_to": self.wid}, separators=(",", ":"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        poll = max(min(self.ttl_ms / 3000, 1.0), 0.1)
        answer: asyncio.Future[Reply] = loop.create_future()
        self._inbox.waiting[rid] = answer
        try:
            await self.redis.rpush(self.key("inbox", owner), message)
            while True:
                await asyncio.wait([answer], timeout=poll)
                if answer.done():
                    return answer.result()
                alive = await self.redis.exists(self.key("worker", owner))
                if not alive or loop.time() > deadline:
                    raise OwnerGone(owner)
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        finally:
            # A reply that comes later finds nobody waiting, and is dropped.
            self._inbox.waiting.pop(rid, None)
            answer.cancel()  # (when it did not come) so that nobody waits for it

    async def _popped(self, key: str, what: str) -> AsyncIterator[Any]:
        """The JSON messages pushed onto the list ``key``, as they come, for ever (Redis
        failing is logged, as failing to read ``what``, and tried again)."""
        while True:
            try:
                got = await self.redis.blpop([key], timeout=1)
            except (RedisError, OSError) as exc:
                logger.warning("Could not read %s: %s", what, exc)
                await asyncio.sleep(self.ttl_ms / 3000)
                continue
            if got is not None:
                yield json.loads(got[1])

    async def _listen(self) -> None:
        """Hand each answer on ``reply:{wid}`` to the forwarded request waiting for it."""
        key = self.key("reply", self.wid)
        async for data in self._popped(key, "the answers to forwarded requests"):
            answer = self._inbox.waiting.pop(data["rid"], None)
            if answer is not None and not answer.done():
                answer.set_result(_reply(data))

    async def _consume(self, app: ASGIApp) -> None:
        async for request in self._popped(self.key("inbox", self.wid), "this worker's inbox"):
            task = asyncio.create_task(self._serve(app, request))
            self._inbox.tasks.add(task)
            task.add_done_callback(self._inbox.tasks.discard)

    async def _serve(self, app: ASGIApp, request: dict[str, Any]) -> None:
        """Run one forwarded request through ``app`` and reply with its answer."""
        body = base64.b64decode(request["body"])
        done = asyncio.Event()
        sent = False
        status = 500
        headers: list[list[str]] = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers.extend(
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in message["headers"]
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request["method"],
            "scheme": request["scheme"],
            "path": request["path"],
            "raw_path": request["path"].encode(),
            "root_path": request["root_path"],
            "query_string": request["query"].encode("latin-1"),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request["headers"]],
            "client": tuple(request["client"]) if request.get("client") else None,
            "server": tuple(request["server"]) if request.get("server") else None,
            FORWARDED: True,
        }
        try:
            await app(scope, receive, send)
        except Exception as exc:  # the owner's own failure: answered, never lost
            logger.error("A forwarded request failed", exc_info=exc)
            status, headers, chunks = 500, [], [b"The chat's server failed to answer."]
        finally:
            done.set()
        reply = {
            "rid": request["rid"],
            "status": status,
            "headers": headers,
            "body": base64.b64encode(b"".join(chunks)).decode(),
        }
        # A worker of an older release, which sends no reply_to, waits on reply:{rid}.
        key = self.key("reply", request.get("reply_to") or request["rid"])
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, json.dumps(reply, separators=(",", ":")))
                pipe.pexpire(key, 60_000)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("Could not answer a forwarded request: %s", exc)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until they end. Cancelled again while one goes on: the
    Redis client can take a cancellation that comes as a blocking pop times out for that
    timeout, and pop again."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)


def _reply(data: dict[str, Any]) -> Reply:
    """A forwarded request's answer, from its JSON on a reply list."""
    return Reply(
        int(data["status"]),
        [(k.encode("latin-1"), v.encode("latin-1")) for k, v in data["headers"]],
        base64.b64decode(data["body"]),
    )


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
