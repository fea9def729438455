"""A small round-robin HTTP reverse proxy, for tests and benchmarks of several workers.

It stands where a load balancer would, with none of the affinity a sticky balancer adds:
each request goes to the next upstream in turn, whatever the browser or the chat. What it
does and does not do:

- one request per client connection (it answers with ``Connection: close``), so every
  request, a page, a post or an event stream, is placed anew;
- request bodies with ``Content-Length`` (what browsers and htmx send); the ``Host``
  header is passed as the client sent it, so the app's same-origin checks see the proxy's
  address, as behind a real load balancer that keeps it;
- the response is relayed as it arrives, byte for byte, never buffered: server-sent events
  stream through;
- when the client goes away (a page closes its stream), the upstream connection is closed
  too, so the worker sees the disconnect;
- an upstream that refuses the connection gets the next one tried (as nginx's
  ``proxy_next_upstream error``); when none answers, a 502;
- with a ``prefix`` (``/chat``), it serves the app under that path, as nginx's
  ``location /chat/ { proxy_pass http://upstream/; }``: the prefix is taken off the path
  before the request goes on, and a path outside it gets a 404 from the proxy itself.

Run it by hand: ``python -m tests.proxy 8080 127.0.0.1:8001 127.0.0.1:8002``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Iterator

HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade"}
MAX_HEAD = 64 * 1024


class RoundRobinProxy:
    """Listens on ``host:port`` (0: a free port) and spreads requests over ``upstreams``."""

    def __init__(
        self,
        upstreams: list[tuple[str, int]],
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
    ) -> None:
        if not upstreams:
            raise ValueError("Give the proxy at least one upstream (host, port).")
        self.upstreams = upstreams
        self.prefix = prefix.rstrip("/").encode()
        self.host = host
        self.port = port
        self.counts = [0] * len(upstreams)
        """How many requests each upstream got."""
        self._next = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening and end the connections still open (streams)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            if self.prefix:
                request = _strip_prefix(request, self.prefix)
                if request is None:
                    writer.write(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    await writer.drain()
                    return
            upstream = await self._connect()
            if upstream is None:
                writer.write(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
            up_reader, up_writer = upstream
            try:
                up_writer.write(request)
                await up_writer.drain()
                await _relay(up_reader, writer, reader)
            finally:
                up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # either side went away: nothing more to relay
        except asyncio.CancelledError:
            # The proxy is closing. A handler that ends cancelled would leave its client's
            # socket open (asyncio's stream server closes it only for a handler that
            # returned or raised), to be found unclosed later, in some other test.
            pass
        finally:
            writer.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.upstreams)):
            index = self._next % len(self.upstreams)
            self._next += 1
            try:
                connection = await asyncio.open_connection(*self.upstreams[index])
            except OSError:
                continue  # refused (a stopped worker): the next one
            self.counts[index] += 1
            return connection
        return None


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The client's request, rewritten to close the upstream connection after it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # closed without a request
    if len(head) > MAX_HEAD:
        return None
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in HOP_BY_HOP:
            continue
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        kept.append(line)
    kept.append(b"Connection: close")
    body = await reader.readexactly(length) if length else b""
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def _strip_prefix(request: bytes, prefix: bytes) -> bytes | None:
    """The request with ``prefix`` taken off its path; None for a path outside it."""
    line, _, rest = request.partition(b"\r\n")
    method, target, version = line.split(b" ", 2)
    if target == prefix:
        target = b"/"
    elif target.startswith(prefix + b"/") or target.startswith(prefix + b"?"):
        target = target[len(prefix) :]
        if target.startswith(b"?"):
            target = b"/" + target
    else:
        return None
    return b" ".join((method, target, version)) + b"\r\n" + rest


async def _relay(
    upstream: asyncio.StreamReader, client: asyncio.StreamWriter, client_in: asyncio.StreamReader
) -> None:
    """Copy the upstream's answer to the client as it arrives, until either side closes."""

    async def pump() -> None:
        while chunk := await upstream.read(65536):
            client.write(chunk)
            await client.drain()

    async def client_gone() -> None:
        while await client_in.read(65536):
            pass  # a client sends nothing more after its request; EOF means it left

    tasks = [asyncio.create_task(pump()), asyncio.create_task(client_gone())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def proxy_in_thread(
    upstreams: list[tuple[str, int]], prefix: str = ""
) -> Iterator[RoundRobinProxy]:
    """The proxy on a loop of its own in a background thread (for sync tests, Playwright)."""
    loop = asyncio.new_event_loop()
    proxy = RoundRobinProxy(upstreams, prefix=prefix)
    thread = threading.Thread(target=loop.run_forever, name="round-robin-proxy", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(timeout=5)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def main(argv: list[str]) -> None:
    """``python -m tests.proxy PORT HOST:PORT [HOST:PORT ...]``"""
    if len(argv) < 2:
        sys.exit("usage: python -m tests.proxy PORT HOST:PORT [HOST:PORT ...]")
    upstreams = [(part.rpartition(":")[0], int(part.rpartition(":")[2])) for part in argv[1:]]

    async def run() -> None:
        proxy = RoundRobinProxy(upstreams, port=int(argv[0]))
        await proxy.start()
        print(f"Round robin on {proxy.url} over {', '.join(argv[1:])}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])
