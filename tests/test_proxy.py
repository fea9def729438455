"""The round-robin test proxy (tests/proxy.py): turns, streaming, bodies, disconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.helpers import free_port
from tests.proxy import RoundRobinProxy

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]


class Upstream:
    """A raw HTTP server that says its name, echoes the request, or streams on demand."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.requests: list[bytes] = []
        self.go_on = asyncio.Event()  # lets /stream send its second part
        self.closed_by_client = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        if b" /stream " in head:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            writer.write(b"data: first\n\n")
            await writer.drain()
            await self.go_on.wait()
            writer.write(b"data: second\n\n")
            await writer.drain()
        elif b" /forever " in head:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            await writer.drain()
            if not await reader.read(1):  # the proxy closed the connection
                self.closed_by_client.set()
        else:
            body = self.name.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )
            await writer.drain()
        writer.close()


@asynccontextmanager
async def two_upstreams() -> AsyncIterator[tuple[Upstream, Upstream, RoundRobinProxy]]:
    a, b = Upstream("a"), Upstream("b")
    await a.start()
    await b.start()
    proxy = RoundRobinProxy([("127.0.0.1", a.port), ("127.0.0.1", b.port)])
    await proxy.start()
    try:
        yield a, b, proxy
    finally:
        await proxy.aclose()
        await a.aclose()
        await b.aclose()


async def test_requests_take_turns_without_affinity() -> None:
    async with two_upstreams() as (_a, _b, proxy), httpx.AsyncClient(base_url=proxy.url) as client:
        names = [(await client.get("/")).text for _ in range(4)]
    assert names == ["a", "b", "a", "b"]  # the same client, alternating
    assert proxy.counts == [2, 2]


async def test_a_post_arrives_whole_with_the_clients_host() -> None:
    async with two_upstreams() as (a, _b, proxy), httpx.AsyncClient(base_url=proxy.url) as client:
        response = await client.post("/chat/x/messages", data={"content": "héllo"})
    assert response.status_code == 200
    request = a.requests[0]
    assert request.startswith(b"POST /chat/x/messages HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{proxy.port}".encode() in request.lower()
    assert request.endswith(b"content=h%C3%A9llo")
    assert b"connection: close" in request.lower()


async def test_a_stream_is_relayed_as_it_arrives() -> None:
    async with (
        two_upstreams() as (a, _b, proxy),
        httpx.AsyncClient(base_url=proxy.url) as client,
        client.stream("GET", "/stream") as response,
    ):
        lines = response.aiter_lines()
        # The first event arrives while the upstream still holds back the second.
        assert await anext(lines) == "data: first"
        assert not a.go_on.is_set()
        a.go_on.set()
        rest = [line async for line in lines]
    assert "data: second" in rest


async def test_a_client_that_leaves_closes_the_upstream_connection() -> None:
    async with two_upstreams() as (a, _b, proxy):
        async with (
            httpx.AsyncClient(base_url=proxy.url) as client,
            client.stream("GET", "/forever") as response,
        ):
            assert response.status_code == 200
        await asyncio.wait_for(a.closed_by_client.wait(), 5)


async def test_a_refusing_upstream_is_skipped_and_none_is_a_502() -> None:
    live = Upstream("live")
    await live.start()
    proxy = RoundRobinProxy([("127.0.0.1", free_port()), ("127.0.0.1", live.port)])
    await proxy.start()
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            assert [(await client.get("/")).text for _ in range(3)] == ["live"] * 3
    finally:
        await proxy.aclose()
        await live.aclose()
    dead = RoundRobinProxy([("127.0.0.1", free_port())])
    await dead.start()
    try:
        async with httpx.AsyncClient(base_url=dead.url) as client:
            assert (await client.get("/")).status_code == 502
    finally:
        await dead.aclose()
