"""A lean load client: raw HTTP/1.1 over asyncio, with its own chunked and SSE decoding.

Each simulated chat does what a browser tab does, over the real HTTP path: ``GET /`` (keeps
the cookie), ``GET /chat/<id>`` (the page, which names the stream's resume point), opens
``GET /chat/<id>/events?after=N`` and keeps it open, then for each reply ``POST``s a message
(``HX-Request: true``, a same-origin ``Origin``) on a second keep-alive connection and reads
the stream until the run ends.

A reply ends at the first unnamed event whose last ``#lc-controls`` update has no "Stop"
button (lightchat's run-ended event; the baseline sends the same marker), after the last
token's ``END_MARK`` was seen. Time to first token is from writing the POST to the first
``tok`` event. In paced runs every token carries its emission time (``workload.py``); the
client takes the receipt time once per socket read and records, for each token, the first
event (of any kind) that shows it, so batching and re-rendering are measured fairly.

The SSE connection is an ``asyncio.Protocol`` that decodes in ``data_received``: no stream
reader, no task per event. The client runs on uvloop when it is installed. Run ``run.py``
to use it; each result carries the client's own CPU time, so a saturated client shows.
"""

from __future__ import annotations

import asyncio
import random
import re
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from workload import END_MARK, MARK, REPLY_TOKENS

HOST = "127.0.0.1"
_DIGITS = re.compile(r"\d+")
_AFTER = re.compile(rb"/events\?after=(\d+)")
_TOKEN = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')
_CONTROLS = 'hx-target="#lc-controls"'
TEXT_EVENTS = ("tok", "t")
"""The events of streamed text: "tok" names the element it goes to, "t" goes on in the last."""


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def new_loop() -> asyncio.AbstractEventLoop:
    """An event loop for the client: uvloop if installed (it is, with uvicorn[standard])."""
    try:
        import uvloop  # optional, like uvicorn's own "auto" loop choice
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(coro: Any) -> Any:
    """Run a coroutine on a fresh client loop."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(coro)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes


class Connection:
    """A keep-alive HTTP/1.1 connection for plain requests (GET a page, POST a message)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self.reader = reader
        self.writer = writer
        self.port = port
        self.host = f"{HOST}:{port}"

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer, port)

    async def _reopen(self) -> None:
        self.writer.close()
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Response:
        """One request; reconnects, as a browser does, if the server closed the idle connection.

        uvicorn closes keep-alive connections after 5 s of silence, which is shorter than a
        paced reply.
        """
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        if self.reader.at_eof():
            await self._reopen()
        self.writer.write(payload)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise
            # Closed while idle, before it read this request: safe to send again.
            await self._reopen()
            self.writer.write(payload)
            head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        found: dict[str, str] = {}
        cookies: list[str] = []
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            found[name] = value.strip()
            if name == "set-cookie":
                cookies.append(value.strip().split(";", 1)[0])
        data = b""
        if found.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            data = b"".join(p[:-2] for p in parts)
        elif "content-length" in found:
            data = await self.reader.readexactly(int(found["content-length"]))
        return Response(status, found, cookies, data)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Reply:
    """What one reply looked like from the client."""

    post_ns: int
    first_tok_ns: int = 0
    done_ns: int = 0
    end_seen: bool = False
    next_token: int = 0  # paced: the next token index to look for
    latencies_ns: list[int] = field(default_factory=list)
    emitted_ns: list[int] = field(default_factory=list)  # paced: each token's emission time
    events: int = 0
    tok_events: int = 0
    payload_bytes: int = 0  # SSE bytes (after chunked decoding)
    raw_bytes: int = 0  # bytes read from the socket (chunk framing included)
    log: list[tuple[str | None, str, int]] = field(default_factory=list)  # when recording


class SSEProtocol(asyncio.Protocol):
    """Reads one SSE response: HTTP head, chunked body, events; hands events to its chat."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head_done = False
        self.buf = bytearray()  # undecoded socket bytes
        self.payload = bytearray()  # decoded body bytes not yet split into events
        self.need_data = 0
        self.need_crlf = 0
        self.eof = False
        self.sep = ""  # the servers' line separator, "\r\n" or "\n", seen in the first event
        self.boundary = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("the stream closed before its head"))
        if not self.closed.done():
            self.closed.set_result(None)
        self.chat.stream_lost()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        chat = self.chat
        if chat.reply_state is not None:
            chat.reply_state.raw_bytes += len(data)
        buf = self.buf
        buf += data
        if not self.head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1").lower()
            del buf[: end + 4]
            self.head_done = True
            if not head.startswith("http/1.1 200") or "transfer-encoding: chunked" not in head:
                self.ready.set_exception(ConnectionError(f"bad stream response: {head!r}"))
                return
            self.ready.set_result(None)
        self._decode_chunks()
        payload = self.payload
        if not self.sep:
            first = payload.find(b"\n")
            if first < 0:
                return
            self.sep = "\r\n" if first and payload[first - 1] == 13 else "\n"
            self.boundary = (self.sep * 2).encode()
        boundary = self.boundary
        step = len(boundary)
        start = 0
        while (end := payload.find(boundary, start)) >= 0:
            chat.on_event(payload[start:end], end + step - start, now, self.sep)
            start = end + step
        if start:
            del payload[:start]

    def _decode_chunks(self) -> None:
        buf = self.buf
        pos = 0
        size_total = len(buf)
        while not self.eof:
            if not self.need_data and not self.need_crlf:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    break
                size = int(bytes(buf[pos:line_end]).split(b";", 1)[0], 16)
                pos = line_end + 2
                if size == 0:
                    self.eof = True
                    break
                self.need_data = size
            if self.need_data:
                take = min(self.need_data, size_total - pos)
                if take <= 0:
                    break
                self.payload += buf[pos : pos + take]
                pos += take
                self.need_data -= take
                if self.need_data:
                    break
                self.need_crlf = 2
            take = min(self.need_crlf, size_total - pos)
            pos += take
            self.need_crlf -= take
            if self.need_crlf:
                break
        del buf[:pos]


class Chat:
    """One simulated browser tab with its chat."""

    def __init__(
        self, port: int, *, paced: bool = False, record: bool = False, stream_port: int = 0
    ) -> None:
        self.port = port
        # The event stream's server: another worker than the one that serves the page and
        # the posts (the workers benchmark); 0: the same.
        self.stream_port = stream_port or port
        self.paced = paced
        self.record = record
        self.conn: Connection | None = None
        self.stream: SSEProtocol | None = None
        self.cookie = ""
        self.path = ""
        self.token = ""  # the page's form token (lightchat); the baseline has none
        self.reply_state: Reply | None = None
        self._done: asyncio.Future[Reply] | None = None
        self.stray_events = 0

    async def open(self, keep_connection: bool = True) -> None:
        """Open the chat as a browser does: ``/``, the page, then its event stream."""
        conn = await Connection.open(self.port)
        first = await conn.request("GET", "/")
        if first.status != 303:
            raise ConnectionError(f"GET / answered {first.status}")
        self.cookie = "; ".join(first.cookies)
        self.path = first.headers["location"]
        page = await conn.request("GET", self.path, {"Cookie": self.cookie})
        if page.status != 200:
            raise ConnectionError(f"GET {self.path} answered {page.status}")
        found = _AFTER.search(page.body)
        after = int(found.group(1)) if found else 0
        token = _TOKEN.search(page.body)
        self.token = token.group(1).decode() if token else ""
        loop = asyncio.get_running_loop()
        _, stream = await loop.create_connection(lambda: SSEProtocol(self), HOST, self.stream_port)
        assert stream.transport is not None
        stream.transport.write(
            (
                f"GET {self.path}/events?after={after} HTTP/1.1\r\n"
                f"Host: {HOST}:{self.stream_port}\r\n"
                f"Cookie: {self.cookie}\r\nAccept: text/event-stream\r\n"
                "Cache-Control: no-cache\r\nHX-Request: true\r\n\r\n"
            ).encode()
        )
        await stream.ready
        self.stream = stream
        if keep_connection:
            self.conn = conn
        else:
            conn.close()

    async def reply(self, content: str = "hello", timeout: float = 120) -> Reply:
        """Send a message and wait until its reply is complete."""
        if self.conn is None:
            raise RuntimeError("open(keep_connection=True) the chat first")
        state = Reply(post_ns=time.monotonic_ns())
        self.reply_state = state
        self._done = asyncio.get_running_loop().create_future()
        body = f"content={content}".encode()
        response = await self.conn.request(
            "POST",
            f"{self.path}/messages",
            {
                "Cookie": self.cookie,
                "HX-Request": "true",
                "Origin": f"http://{HOST}:{self.port}",
                "Content-Type": "application/x-www-form-urlencoded",
                **({"X-CSRF-Token": self.token} if self.token else {}),
            },
            body,
        )
        if response.status != 204:
            raise ConnectionError(f"POST answered {response.status}: {response.body[:200]!r}")
        return await asyncio.wait_for(self._done, timeout)

    async def page(self) -> str:
        """The chat page as it renders now."""
        if self.conn is None:
            raise RuntimeError("open(keep_connection=True) the chat first")
        response = await self.conn.request("GET", self.path, {"Cookie": self.cookie})
        return response.body.decode()

    def on_event(self, block: bytearray, size: int, now: int, sep: str) -> None:
        """One SSE event (its bytes without the blank line that ended it)."""
        state = self.reply_state
        if state is None:
            self.stray_events += 1
            return
        name: str | None = None
        data_lines: list[str] = []
        for line in block.decode().split(sep):
            if line.startswith("data:"):
                data_lines.append(line[6:] if line.startswith("data: ") else line[5:])
            elif line.startswith("event:"):
                name = line[6:].strip()
        if not data_lines:
            return  # a ping (a comment) or an id-only event
        data = "\n".join(data_lines)
        state.events += 1
        state.payload_bytes += size
        if self.record:
            state.log.append((name, data, size))
        if name in TEXT_EVENTS:
            state.tok_events += 1
            if not state.first_tok_ns:
                state.first_tok_ns = now
        if self.paced:
            self._timestamps(state, data, now)
        if not state.end_seen and END_MARK in data:
            state.end_seen = True
        if name is None and state.end_seen:
            at = data.rfind(_CONTROLS)
            if at >= 0 and "lc-stop" not in data[at:]:
                state.done_ns = now
                self.reply_state = None
                if self._done is not None and not self._done.done():
                    self._done.set_result(state)

    def _timestamps(self, state: Reply, data: str, now: int) -> None:
        index = state.next_token
        pos = 0
        while index < REPLY_TOKENS:
            key = f"{MARK}{index}."
            at = data.find(key, pos)
            if at < 0:
                break
            digits = _DIGITS.match(data, at + len(key))
            if digits is None:
                break
            emitted = int(digits.group())
            state.emitted_ns.append(emitted)
            state.latencies_ns.append(now - emitted)
            pos = digits.end()
            index += 1
        state.next_token = index

    def stream_lost(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError("the event stream closed"))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.stream is not None and self.stream.transport is not None:
            self.stream.transport.close()


async def open_chats(
    port: int,
    count: int,
    *,
    paced: bool = False,
    record: bool = False,
    keep: bool = True,
    stream_port: int = 0,
) -> list[Chat]:
    """Open ``count`` chats, at most 50 handshakes at a time (the listen backlog is finite)."""
    gate = asyncio.Semaphore(50)
    chats = [Chat(port, paced=paced, record=record, stream_port=stream_port) for _ in range(count)]

    async def one(chat: Chat) -> None:
        async with gate:
            await chat.open(keep_connection=keep)

    await asyncio.gather(*(one(chat) for chat in chats))
    return chats


@contextmanager
def cpu_meter(server_cpu: Callable[[], float]) -> Iterator[dict[str, float]]:
    """Measures wall time, the server's CPU and this client's CPU over a block."""
    found: dict[str, float] = {}
    wall0, client0, server0 = time.perf_counter(), time.process_time(), server_cpu()
    yield found
    found["wall_s"] = time.perf_counter() - wall0
    found["client_cpu_s"] = time.process_time() - client0
    found["server_cpu_s"] = server_cpu() - server0


class LagMonitor:
    """How late this client's own event loop runs: a 10 ms ticker records its overshoot.

    If the client were the bottleneck, its loop would lag, and every receipt time with it.
    """

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags_ms.append((time.perf_counter() - before - self.period) * 1000)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def deferred_cpu(server_cpu: Callable[[], float], limit_s: float = 60) -> tuple[float, float]:
    """CPU the server spends after the load ends, until it goes idle (no tick for 0.3 s),
    and how long that took (to the end of the last busy 0.3 s interval; 0 if none).

    Work a server defers (lightchat writes history in the background) belongs to the load
    that caused it, so the load benchmarks add it to the server's CPU time.
    """
    began = time.perf_counter()
    start = last = server_cpu()
    busy_until = began
    deadline = began + limit_s
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.3)
        now = server_cpu()
        if now - last < 0.005:  # /proc counts 10 ms ticks: none in this interval
            break
        last, busy_until = now, time.perf_counter()
    return last - start, busy_until - began


@dataclass
class LoadResult:
    """A load run's raw measurements (figures are computed by ``run.py``)."""

    chats: int
    replies: list[Reply]
    failures: int
    wall_s: float
    server_cpu_s: float
    server_deferred_cpu_s: float  # spent after the last reply (e.g. history writes)
    server_deferred_s: float  # how long the server stayed busy after the last reply
    client_cpu_s: float
    client_lag_ms: list[float]
    open_ms: list[float]
    stray_events: int
    failure_reasons: dict[str, int]


async def load(
    port: int,
    server_cpu: Callable[[], float],
    *,
    chats: int,
    replies: int,
    turns: int = 0,
    paced: bool = False,
    stagger_s: float = 0.0,
    record: bool = False,
    timeout: float = 120,
    stream_port: int = 0,
) -> LoadResult:
    """Have ``chats`` users each ask ``replies`` questions, one after the other.

    The first chats are opened before the clock starts. With ``turns``, a user starts a
    new chat (``GET /``, the page, a new stream) after that many replies, inside the
    measured time, as people do; without, each keeps one chat. ``stagger_s`` spreads the
    users' first messages evenly over that many seconds. ``stream_port``: the chats' event
    streams go to that server instead.
    """
    opened = await open_chats(port, chats, paced=paced, record=record, stream_port=stream_port)
    done: list[Reply] = []
    open_ms: list[float] = []  # new chats opened under load: GET /, the page, the stream
    failures = 0
    reasons: Counter[str] = Counter()

    async def converse(chat: Chat, delay: float) -> None:
        nonlocal failures
        if delay:
            await asyncio.sleep(delay)
        for index in range(replies):
            try:
                if turns and index and index % turns == 0:
                    chat.close()
                    chat = Chat(port, paced=paced, record=record, stream_port=stream_port)
                    opened.append(chat)
                    began = time.perf_counter()
                    await chat.open()
                    open_ms.append((time.perf_counter() - began) * 1000)
                done.append(await chat.reply(timeout=timeout))
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                failures += 1
                reasons[f"{type(exc).__name__}: {exc}"[:120]] += 1
                return

    offsets = [stagger_s * i / chats for i in range(chats)]
    random.Random(0).shuffle(offsets)
    lag = LagMonitor()
    lag.start()
    first = list(opened)
    with cpu_meter(server_cpu) as meter:
        await asyncio.gather(*(converse(c, d) for c, d in zip(first, offsets, strict=True)))
    lag.stop()
    for chat in opened:
        chat.close()
    drain_cpu_s, drain_s = await deferred_cpu(server_cpu)
    return LoadResult(
        chats=chats,
        replies=done,
        failures=failures,
        wall_s=meter["wall_s"],
        server_cpu_s=meter["server_cpu_s"],
        server_deferred_cpu_s=drain_cpu_s,
        server_deferred_s=drain_s,
        client_cpu_s=meter["client_cpu_s"],
        client_lag_ms=lag.lags_ms,
        open_ms=open_ms,
        stray_events=sum(chat.stray_events for chat in opened),
        failure_reasons=dict(reasons),
    )
