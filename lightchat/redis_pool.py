"""One connection pool to Redis per worker, shared by the event bus and the cluster.

A worker with a Redis URL sends its commands through one pool: the bus
(``lightchat.bus.redis_bus``) and the cluster (``lightchat.cluster``) both take their
connections from it, so a worker opens at most ``POOL_SIZE`` connections for commands,
however many pages and chats it serves. The app makes the pool (``lightchat.app``), gives
it to both, and closes it when both are closed; a bus or a cluster made on its own (as in
tests and benchmarks) makes its own pool with the same function, and closes it.

The pool blocks: a burst of commands (hundreds of pages opening at once) waits for a free
connection instead of failing with "Too many connections"; a command that waited
``POOL_WAIT_S`` fails as an unreachable Redis does (the cluster raises
``ClusterUnavailable``, the bus sends its writes again).

What does not go through the pool:

- the bus's subscriber (``RedisBus._listen_forever``), one connection per worker, made by
  ``dedicated_client``: while subscribed, a pub/sub connection runs nothing else, so it
  would hold a pooled connection for the worker's whole life; and it must fail instead of
  reconnecting behind the bus's back (a silent reconnection would lose publications
  unnoticed), so it is made without retries, which a pooled connection keeps.

The cluster's two blocking pops (its inbox, and the answers to the requests it forwarded)
do go through the pool: they take a connection each for at most a second at a time
(``BLPOP`` with a one-second timeout), so a worker holds at most ``POOL_SIZE + 1``
connections to Redis.

Replies are decoded (``decode_responses``): everything lightchat keeps in Redis is text
(JSON, ids; bodies as base64).

Concurrency: the pool belongs to one event loop's tasks (redis-py's asyncio pool). Closing
it disconnects its connections; it can be used again afterwards (a connection reconnects
when taken), which an app started again after a stop relies on.
"""

from __future__ import annotations

import contextlib

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "POOL_SIZE",
    "POOL_WAIT_S",
    "READ_TIMEOUT_S",
    "Pool",
    "close_pool",
    "connection_pool",
    "dedicated_client",
]

Pool = aioredis.ConnectionPool
"""A pool of connections to Redis (what ``connection_pool`` makes: a blocking one)."""

POOL_SIZE = 256
"""Connections to Redis one worker opens at most (commands wait for a free one)."""
POOL_WAIT_S = 20
"""How long a command waits for a free connection before Redis counts as unreachable."""
CONNECT_TIMEOUT_S = 5
"""How long opening a connection to Redis may take."""
READ_TIMEOUT_S = 10
"""How long one command may wait for Redis's answer (longer than any blocking read's own
timeout, which is one second)."""


def connection_pool(url: str) -> aioredis.BlockingConnectionPool:
    """The pool of connections to the Redis at ``url`` one worker uses for its commands.

    >>> pool = connection_pool("redis://127.0.0.1:6379/0")
    >>> pool.max_connections == POOL_SIZE
    True
    """
    return aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=READ_TIMEOUT_S,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_S,
    )


async def close_pool(pool: Pool) -> None:
    """Disconnect the pool's connections, once nothing uses them (a connection that fails
    to close is let go: the worker stops anyway)."""
    with contextlib.suppress(RedisError, OSError):
        await pool.aclose()


def dedicated_client(url: str) -> aioredis.Redis:
    """A client with a connection of its own, outside the pool, that fails instead of
    reconnecting (no retries): for a pub/sub subscriber, which must notice a lost
    connection. No read timeout: a subscriber waits for publications as long as it
    takes."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
