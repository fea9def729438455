"""``EventStream``, the response a page's event stream is: what it sends, and each way it
ends (its generator is done, the client went away, the client stopped reading, the server
is stopping), called as an ASGI server calls it. Pings come from the chat's stream, which
yields one after ``PING_SECONDS`` of silence (against a real server)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import pytest
from sse_starlette.sse import AppStatus

from lightchat import LightChat, Message, Settings
from lightchat.http import routes
from lightchat.ui import sse
from lightchat.ui.sse import PING, EventStream, server_exiting
from tests.helpers import LiveServer, until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

SCOPE = {"type": "http", "method": "GET", "path": "/chat/x/events", "headers": []}


class Client:
    """The ASGI server's side of one request: what the response sent, and a disconnect."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.sent: list[MutableMapping[str, Any]] = []
        self.gone = asyncio.Event()
        self.stuck = stuck  # a client that stopped reading: body sends never return
        self.requested = False

    async def receive(self) -> dict[str, Any]:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.stuck and message["type"] == "http.response.body" and message["body"]:
            await asyncio.Event().wait()
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    @property
    def ended(self) -> bool:
        """The response's last message says there is no more body."""
        last = self.sent[-1]
        return last["type"] == "http.response.body" and not last.get("more_body", False)


class Events:
    """A stream's generator: yields what it is given, and says when it was closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.started = False

    async def __call__(self) -> AsyncIterator[bytes]:
        self.started = True
        try:
            while (item := await self.queue.get()) is not None:
                yield item
        finally:
            self.closed.set()


async def test_it_sends_the_headers_then_each_chunk_then_the_end() -> None:
    client, events = Client(), Events()
    for item in (b"data: one\n\n", b"data: two\n\n", None):
        events.queue.put_nowait(item)
    await EventStream(events()).__call__(SCOPE, client.receive, client.send)
    start = client.sent[0]
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"x-accel-buffering"] == b"no"
    assert client.body == b"data: one\n\ndata: two\n\n"
    assert client.ended
    assert events.closed.is_set()


async def test_head_is_answered_without_a_stream() -> None:
    client, events = Client(), Events()
    await EventStream(events()).__call__({**SCOPE, "method": "HEAD"}, client.receive, client.send)
    assert client.sent[0]["status"] == 200
    assert client.body == b""
    assert client.ended
    assert not events.started


async def test_a_client_that_goes_away_ends_the_stream() -> None:
    client, events = Client(), Events()
    stream = EventStream(events())
    task = asyncio.ensure_future(stream(SCOPE, client.receive, client.send))
    events.queue.put_nowait(b"data: one\n\n")
    await until(lambda: client.body != b"", "the first chunk to go out")
    client.gone.set()
    async with asyncio.timeout(5):
        await task  # it returns: the middleware around it sees a response that ended
    assert stream.ended == "disconnect"
    assert events.closed.is_set()  # the chat's stream ran its clean-up (its page count)
    assert not client.ended  # nobody to tell


async def test_a_client_that_stops_reading_is_let_go(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sse, "_WATCH_S", 0.01)
    client, events = Client(stuck=True), Events()
    stream = EventStream(events(), send_timeout=0.05)
    events.queue.put_nowait(b"data: one\n\n")
    with caplog.at_level(logging.WARNING, "lightchat"):
        async with asyncio.timeout(5):
            await stream(SCOPE, client.receive, client.send)
    assert stream.ended == "timeout"
    assert events.closed.is_set()
    assert "read nothing for 0.05 s" in caplog.text


async def test_the_server_stopping_ends_every_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "_EXIT_POLL_S", 0.01)
    pairs = [(Client(), Events()) for _ in range(3)]
    streams = [EventStream(events()) for _, events in pairs]
    tasks = [
        asyncio.ensure_future(stream(SCOPE, client.receive, client.send))
        for stream, (client, _) in zip(streams, pairs, strict=True)
    ]
    await until(lambda: all(events.started for _, events in pairs), "the streams to open")
    assert not server_exiting()
    monkeypatch.setattr(AppStatus, "should_exit", True)  # what uvicorn's signal handler sets
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    for stream, (client, events) in zip(streams, pairs, strict=True):
        assert stream.ended == "exit"
        assert client.ended  # a clean end: the page reconnects, to a worker that stays
        assert events.closed.is_set()


async def test_a_cancellation_from_elsewhere_goes_on() -> None:
    client, events = Client(), Events()
    task = asyncio.ensure_future(EventStream(events())(SCOPE, client.receive, client.send))
    await until(lambda: events.started, "the stream to open")
    task.cancel()  # the server cancelling its request tasks, past its graceful shutdown
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events.closed.is_set()


# -- pings, from a real server ------------------------------------------------------------


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setattr(routes, "PING_SECONDS", 0.05)
    app = LightChat(settings=Settings(history=False))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Hello").send()

    with LiveServer(app) as server:
        yield server


def test_a_silent_stream_sends_pings(live: LiveServer) -> None:
    with live.browser() as browser:
        url, session = live.new_chat(browser)
        last = live.entries(session)[-1].seq
        lines = []
        with browser.stream("GET", f"{url}/events?after={last}") as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                lines.append(line)
                if lines.count(PING.decode().strip()) == 2:
                    break
        assert all(line.startswith(":") or not line for line in lines)  # nothing but pings
