"""One connection pool to Redis per worker (``lightchat.redis_pool``), against a real Redis.

The bus and the cluster of one app share it; the worker's connections stay within the
pool's size (and the bus's one subscriber) however many commands run at once; a burst
waits for a free connection, and a command that waits too long is Redis unavailable.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from lightchat import LightChat, Settings
from lightchat.bus.redis_bus import RedisBus
from lightchat.cluster import Cluster, ClusterUnavailable
from lightchat.domain.events import MessageData, MessageEvent
from lightchat.redis_pool import POOL_SIZE, POOL_WAIT_S, connection_pool
from tests.helpers import REDIS_URL, WAIT_S

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30), pytest.mark.services]

SECRET = "redis-pool-test-secret-" + "x" * 24


def app_on_redis(prefix: str, url: str = REDIS_URL) -> LightChat:
    app = LightChat(
        Settings(
            name="Pool",
            secret=SECRET,
            redis_url=url,
            redis_prefix=prefix,
            worker_ttl_s=1,
            history=False,
            shutdown_grace_s=0,
        )
    )
    app.on_message(lambda message: None)
    return app


def parts(app: LightChat) -> tuple[RedisBus, Cluster]:
    services = app.build().state.services
    assert isinstance(services.bus, RedisBus)
    assert isinstance(services.cluster, Cluster)
    return services.bus, services.cluster


async def named(name: str) -> list[dict[str, Any]]:
    """The connections to Redis named ``name`` (CLIENT LIST)."""
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return [c for c in await client.client_list() if c.get("name") == name]
    finally:
        await client.aclose()


def test_the_pool_is_made_from_one_set_of_constants() -> None:
    pool = connection_pool(REDIS_URL)
    assert isinstance(pool, aioredis.BlockingConnectionPool)
    assert pool.max_connections == POOL_SIZE
    assert pool.timeout == POOL_WAIT_S
    assert pool.connection_kwargs["decode_responses"] is True


async def test_the_bus_and_the_cluster_of_one_app_share_one_pool(prefix: str) -> None:
    one, other = app_on_redis(prefix), app_on_redis(prefix)
    bus, cluster = parts(one)
    assert bus.pool is cluster.pool
    assert bus.pool is cluster.redis.connection_pool
    assert parts(other)[0].pool is not bus.pool  # one per worker, not per process


async def test_a_bus_or_a_cluster_made_alone_has_a_pool_of_its_own(prefix: str) -> None:
    bus = RedisBus(REDIS_URL, prefix=prefix)
    cluster = Cluster(Settings(worker_ttl_s=1), REDIS_URL, prefix=prefix)
    try:
        assert bus.pool is not cluster.pool
        assert isinstance(bus.pool, aioredis.BlockingConnectionPool)
        assert isinstance(cluster.pool, aioredis.BlockingConnectionPool)
    finally:
        await bus.aclose()
        await cluster.aclose()


async def test_one_worker_holds_at_most_its_pool_and_one_subscriber(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 3
    monkeypatch.setattr("lightchat.redis_pool.POOL_SIZE", size)
    session_ids = [uuid.uuid4().hex for _ in range(40)]
    writer = RedisBus(REDIS_URL, prefix=prefix)  # another worker, which wrote the chats
    await writer.start()
    for sid in session_ids:
        writer.publish(sid, MessageEvent(MessageData(f"m-{sid}", "Bot", "assistant_message")))
    await writer.aclose()
    name = f"{prefix}worker"
    app = app_on_redis(prefix, f"{REDIS_URL}?client_name={name}")
    bus, cluster = parts(app)
    assert bus.pool.max_connections == size
    await app.start()
    try:
        for sid in session_ids:
            await cluster.register(sid, owner="someone", client_type="webapp")
        # A burst: every chat's owner and log (read from Redis: this worker did not write
        # them), asked at once by the cluster and the bus; the commands wait for one of
        # the few connections instead of failing.
        async with asyncio.timeout(WAIT_S * 2):
            routes, logs = await asyncio.gather(
                asyncio.gather(*(cluster.route(sid) for sid in session_ids)),
                asyncio.gather(*(bus.read(sid) for sid in session_ids)),
            )
            connections = await named(name)
        assert all(owner == cluster.wid and alive for owner, alive in routes)
        assert all(len(log) == 1 for log in logs)
        # The pool (commands, the cluster's blocking pops) and the bus's subscriber.
        subscribers = [c for c in connections if int(c.get("sub", 0)) > 0]
        assert len(subscribers) <= 1
        assert 1 <= len(connections) - len(subscribers) <= size
    finally:
        await app.stop()
    # Stopped: the app closed the pool; the connections are gone once Redis sees them go.
    async with asyncio.timeout(WAIT_S):
        while await named(name):  # noqa: ASYNC110 (Redis's client list has no event)
            await asyncio.sleep(0.02)


async def test_an_app_started_again_reconnects_through_its_pool(prefix: str) -> None:
    app = app_on_redis(prefix)
    _, cluster = parts(app)
    sid = uuid.uuid4().hex
    for _ in range(2):
        await app.start()
        try:
            await cluster.register(sid, owner="someone", client_type="webapp")
            assert await cluster.route(sid) == (cluster.wid, True)
        finally:
            await app.stop()


async def test_a_command_that_waits_too_long_for_a_connection_is_redis_unavailable(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lightchat.redis_pool.POOL_SIZE", 1)
    monkeypatch.setattr("lightchat.redis_pool.POOL_WAIT_S", 0.2)
    cluster = Cluster(Settings(worker_ttl_s=1), REDIS_URL, prefix=prefix)
    try:
        held = await cluster.pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py
        try:
            with pytest.raises(ClusterUnavailable):
                await cluster.route("abc")
        finally:
            await cluster.pool.release(held)
        async with asyncio.timeout(WAIT_S):
            assert await cluster.route("abc") == (None, False)
    finally:
        await cluster.aclose()
