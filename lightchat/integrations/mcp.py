"""Model Context Protocol servers, connected with the official ``mcp`` SDK (the ``mcp``
extra): ``McpConnector`` opens what a chat asks for, refusing what the configuration does
not allow, and ``call_tool`` calls a tool as a step of the chat.

What a user may connect (``McpConnector.check``, before anything starts):

- a stdio server runs an executable the app named (``mcp_allowed_executables``), by its
  bare name, found on this server's ``PATH``; never through a shell: the command line is
  split into words (``shlex``), the rest passed to the process as a list. Leading
  ``NAME=value`` words set the process's environment, for the names of
  ``mcp_allowed_env`` only; the process gets those and the SDK's few safe variables
  (``PATH``, ``HOME``...), not this server's environment.
- a URL is ``http``/``https``, names a host, carries no credentials; its headers are
  single lines of bounded size. The host's addresses must all be public: loopback,
  private, link-local, multicast, reserved and unspecified addresses (IPv4 and IPv6,
  IPv4 inside IPv6 included) are refused unless ``mcp_allowed_hosts`` names the host or
  the address. The same rule holds for every connection the SDK then makes (a redirect,
  a name that resolves elsewhere the second time): the HTTP client's transport resolves
  the name, checks each address and connects to the address it checked.

The app's own servers (``origin == "app"``, from ``[features.mcp.servers]``) are trusted
like the app's code: no allow-list, no address rule; their commands still run without a
shell.

Limits on every exchange: connecting, initializing and listing the tools take at most
``mcp_timeout_s``, and so does each later request (the session's read timeout); a message
from a server (an HTTP response, an SSE event, a stdio line) larger than ``mcp_max_bytes``
ends the connection, with the reason.

Concurrency: each connection lives in an asyncio task of its own (``_Link.run``), which
enters the transport's and the session's context managers, initializes, lists the tools,
says it is ready, then waits until it is closed or the server goes away, and leaves the
context managers itself (anyio's cancel scopes must be left by the task that entered
them). ``close()`` asks that task to stop and waits for it, a bounded time; a stdio
process is ended in a shielded step (stdin closed, then SIGTERM and SIGKILL to its
process group), so no process outlives its connection.

Exceptions: everything a user should read is an ``McpRefused`` (from
``lightchat.domain.mcp``), whose message names what failed and why, never a header's
value.
"""

# ruff: noqa: E402 - the SDK is imported once ``require`` has named its extra

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from lightchat.integrations import require

require("mcp", "mcp")

import anyio
import httpx2
from mcp import ClientSession, MCPError
from mcp import types as mcp_types
from mcp.client.sse import sse_client
from mcp.client.stdio import get_default_environment
from mcp.client.streamable_http import streamable_http_client
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from lightchat.__about__ import __version__
from lightchat.api.context import context
from lightchat.api.step import Step
from lightchat.config.settings import (
    ENV_NAME,
    Settings,
    comma_list,
    mcp_header_problem,
)
from lightchat.domain.mcp import McpRefused, McpServerSpec, McpTool

logger = logging.getLogger("lightchat")

__all__ = ["McpConnector", "McpLink", "call_tool", "result_text"]

CLOSE_GRACE_S = 2.0
"""How long ``close()`` lets a connection end by itself before cancelling it."""
CLOSE_LIMIT_S = 8.0
"""How long ``close()`` then waits for the cancelled connection (a stdio process is
ended within about 3 s whatever it does)."""
STDIN_GRACE_S = 1.0
"""How long a stdio server has to exit once its input is closed, before SIGTERM."""
TERM_GRACE_S = 1.0
"""How long it has after SIGTERM, before SIGKILL."""
HTTP_READ_S = 300.0
"""How long an HTTP stream may stay silent (a server's event stream idles between
events); each request's own wait is the shorter ``mcp_timeout_s``."""
MAX_URL_CHARS = 2048
MAX_HEADERS = 32
MAX_TOOL_PAGES = 20
"""The most pages of ``tools/list`` read when a server connects."""
REFUSED_HEADERS = frozenset(
    {
        *("host", "content-length", "transfer-encoding", "connection", "upgrade", "te"),
        *("trailer", "keep-alive", "proxy-authorization", "proxy-connection", "expect"),
    }
)
"""Headers a user may not set: they would change how the request itself is framed or
routed, not what the server reads."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# -- what may connect ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _StdioPlan:
    """A stdio server, checked: the process's arguments (the executable resolved first),
    its environment and folder."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    quiet: bool
    """Whether its stderr is dropped (a user's server) rather than shown (the app's)."""


@dataclass(frozen=True, slots=True)
class _UrlPlan:
    """A server reached by URL, checked."""

    url: str
    headers: dict[str, str]


class AddressRule:
    """Which addresses a user's URL may reach: public ones, and the hosts, addresses and
    networks of ``mcp_allowed_hosts``."""

    def __init__(self, allowed: Iterable[str]) -> None:
        names: set[str] = set()
        networks: list[Network] = []
        for entry in allowed:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        self.names: frozenset[str] = frozenset(names)
        self.networks: tuple[Network, ...] = tuple(networks)

    def refusal(self, host: str, address: Address) -> str:
        """Why ``host`` may not be reached at ``address`` ("" if it may)."""
        if host.lower().rstrip(".") in self.names:
            return ""
        for candidate in _embedded(address):
            if any(candidate in network for network in self.networks):
                return ""
        for candidate in _embedded(address):
            kind = _special(candidate)
            if kind:
                article = "an" if kind[0] in "aeiou" else "a"
                return (
                    f"{host} is {candidate}, {article} {kind} address: a URL may reach public "
                    "addresses only, unless the app allows this host (features.mcp.allowed_hosts)"
                )
        return ""


def _embedded(address: Address) -> list[Address]:
    """The IPv4 addresses an address carries (IPv4-mapped, NAT64, 6to4, Teredo), then
    the address itself."""
    found: list[Address] = []
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
    return [*found, address]  # what it carries first: the more telling reason


def _special(address: Address) -> str:
    """What makes an address one a user's URL may not reach ("" for a public one)."""
    for kind, special in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    ):
        if special:
            return kind
    return ""


def _address(text: str) -> Address:
    return ipaddress.ip_address(text.partition("%")[0])  # without an IPv6 zone


def _literal(host: str) -> Address | None:
    try:
        return _address(host)
    except ValueError:
        return None


# -- the HTTP client the SDK is given ----------------------------------------------------------


class _Guard:
    """What the HTTP transport of one connection enforces, and whom it tells when it
    refuses something (the connection, which then ends)."""

    def __init__(
        self, rule: AddressRule | None, max_bytes: int, on_refused: Callable[[str], None]
    ) -> None:
        self.rule = rule
        """None for the app's own servers: no address rule."""
        self.max_bytes = max_bytes
        self.on_refused = on_refused

    def refuse(self, reason: str) -> McpRefusedTransport:
        self.on_refused(reason)
        return McpRefusedTransport(reason)


class McpRefusedTransport(httpx2.TransportError):
    """A request the connection's HTTP transport refused (an address the rule forbids, a
    scheme other than http(s)), or a response larger than allowed."""


class _GuardedTransport(httpx2.AsyncBaseTransport):
    """An HTTP transport that connects only where the rule allows: for each request it
    resolves the host, checks every address, and sends the request to the address it
    checked (the ``Host`` header and TLS's server name stay the host's), so a DNS answer
    that changes between the check and the connection cannot lead elsewhere. Responses
    are read through ``_Limited``."""

    def __init__(self, guard: _Guard, *, trust_env: bool) -> None:
        self._guard = guard
        self._inner = httpx2.AsyncHTTPTransport(trust_env=trust_env)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise self._guard.refuse(f"a request to {url.scheme}: was refused (http(s) only)")
        rule = self._guard.rule
        if rule is not None:
            host = url.host
            port = url.port or (443 if url.scheme == "https" else 80)
            try:
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpx2.ConnectError(f"{host} cannot be resolved ({exc})") from None
            addresses = [_address(str(info[4][0])) for info in found]
            for address in addresses:
                refusal = rule.refusal(host, address)
                if refusal:
                    raise self._guard.refuse(refusal)
            if not addresses:
                raise httpx2.ConnectError(f"{host} has no address")
            request.url = url.copy_with(host=str(addresses[0]))
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        response = await self._inner.handle_async_request(request)
        kind = response.headers.get("content-type", "").lower()
        response.stream = _Limited(
            response.stream, self._guard, events=kind.startswith("text/event-stream")
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Limited(httpx2.AsyncByteStream):
    """A response body that may not bring more than ``max_bytes``: in all, or, for an
    event stream, in any one event (its lines up to the blank line that ends it)."""

    def __init__(self, inner: Any, guard: _Guard, *, events: bool) -> None:
        self._inner = inner
        self._guard = guard
        self._events = events
        self._event = 0  # bytes of the event under way (or of the whole body)
        self._line = 0  # bytes of the line under way
        self._cr = False  # whether the line under way ends with "\r" so far

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            if self._events:
                self._count_lines(chunk)
            else:
                self._event += len(chunk)
            if self._event + self._line > self._guard.max_bytes:
                raise self._guard.refuse(_too_large(self._guard.max_bytes))
            yield chunk

    def _count_lines(self, chunk: bytes) -> None:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            length = self._line + end - start
            cr = chunk[end - 1 : end] == b"\r" if end > start else self._cr
            if length == 0 or (length == 1 and cr):
                self._event = 0  # a blank line: the event is complete
            else:
                self._event += length + 1
                if self._event > self._guard.max_bytes:
                    raise self._guard.refuse(_too_large(self._guard.max_bytes))
            self._line, self._cr, start = 0, False, end + 1
        if start < len(chunk):
            self._line += len(chunk) - start
            self._cr = chunk.endswith(b"\r")

    async def aclose(self) -> None:
        await self._inner.aclose()


def _too_large(limit: int) -> str:
    return (
        f"the server sent a message larger than {limit:,} bytes, the limit "
        "(features.mcp.max_message_bytes)"
    )


def _client_factory(guard: _Guard, *, trust_env: bool) -> Callable[..., httpx2.AsyncClient]:
    """What the SDK's HTTP transports call to make their client: one that sends every
    request through ``_GuardedTransport`` and follows no redirect itself (the SDK follows
    those within the server's origin, each through the same transport)."""

    def make(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers=headers,
            timeout=timeout if timeout is not None else httpx2.Timeout(30.0),
            auth=auth,
            transport=_GuardedTransport(guard, trust_env=trust_env),
            follow_redirects=False,
            trust_env=trust_env,
        )

    return make


# -- stdio -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _stdio(
    plan: _StdioPlan, max_bytes: int, on_refused: Callable[[str], None]
) -> AsyncIterator[tuple[Any, Any]]:
    """The process of a stdio server, as the session's read and write streams: one JSON-RPC
    message per line, each line at most ``max_bytes``. The process starts in a session
    (process group) of its own, without a shell; on the way out it is ended (see
    ``_end_process``)."""
    process = await anyio.open_process(
        list(plan.argv),
        env=plan.env,
        cwd=plan.cwd,
        stderr=subprocess.DEVNULL if plan.quiet else None,
        start_new_session=True,
    )
    try:
        read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

        async def read_lines() -> None:
            assert process.stdout is not None
            buffer = bytearray()
            scanned = 0
            async with read_writer:
                try:
                    async for chunk in process.stdout:
                        buffer += chunk
                        while (end := buffer.find(b"\n", scanned)) >= 0:
                            line = bytes(buffer[:end])
                            del buffer[: end + 1]
                            scanned = 0
                            if len(line) > max_bytes:
                                on_refused(_too_large(max_bytes))
                                return
                            if line.strip():
                                await read_writer.send(_parsed(line))
                        scanned = len(buffer)
                        if scanned > max_bytes:
                            on_refused(_too_large(max_bytes))
                            return
                except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                    return  # the session or the process went away: the stream ends

        async def write_lines() -> None:
            assert process.stdin is not None
            async with write_reader:
                try:
                    async for message in write_reader:
                        data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                        await process.stdin.send(data.encode() + b"\n")
                except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                    await read_writer.aclose()  # it stopped reading: the connection ends

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read_lines)
            tasks.start_soon(write_lines)
            try:
                yield read_stream, write_stream
            finally:
                tasks.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await _end_process(process)


def _parsed(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:  # not JSON-RPC: the session hears of it and goes on
        return exc


async def _end_process(process: anyio.abc.Process) -> None:
    """End a stdio server and whatever it started in its process group: close its input
    (the protocol's way to ask it to exit), wait ``STDIN_GRACE_S``, then SIGTERM the group
    and SIGKILL it after ``TERM_GRACE_S`` (the SDK's ``terminate_posix_process_tree``),
    and collect its exit status, so it leaves no orphan and no zombie."""
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        if process.stdin is not None:
            await process.stdin.aclose()
    await _exited(process, STDIN_GRACE_S)
    if sys.platform == "win32":  # pragma: no cover - no process groups there
        if process.returncode is None:
            process.kill()
    else:
        # Also once the leader exited: children it left in its group go too.
        await terminate_posix_process_tree(process, TERM_GRACE_S)
    if not await _exited(process, TERM_GRACE_S):
        logger.warning("MCP: the stdio server %d did not exit after SIGKILL", process.pid)
        return
    with anyio.move_on_after(TERM_GRACE_S), contextlib.suppress(OSError):
        await process.aclose()


async def _exited(process: anyio.abc.Process, timeout: float) -> bool:
    """Whether the process exited within ``timeout`` (its status read: reaped)."""
    with anyio.move_on_after(timeout):
        # Not process.wait(): on asyncio it also waits for the pipes to close, which a
        # descendant that escaped the group may hold open.
        while process.returncode is None:  # noqa: ASYNC110 - no event says "exited" alone
            await anyio.sleep(0.01)
        return True
    return process.returncode is not None


# -- one connection --------------------------------------------------------------------------


class _Watched:
    """The session's read stream, which notes when it ends (the server went away)."""

    def __init__(self, inner: Any, ended: Callable[[], None]) -> None:
        self._inner = inner
        self._ended = ended

    async def receive(self) -> SessionMessage | Exception:
        try:
            item: SessionMessage | Exception = await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended()
            raise
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _Watched:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class McpLink:
    """One open connection (``lightchat.domain.mcp.McpLink``): the SDK's ``session``, the
    ``tools`` the server listed, and ``close()``. It lives in a task of its own (see the
    module docstring); ``closed`` turns true when it ends, and ``wait_closed()`` says why.
    """

    def __init__(self, spec: McpServerSpec, settings: Settings) -> None:
        self.spec = spec
        self._settings = settings
        self._session: ClientSession | None = None
        self._tools: list[McpTool] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._ended = asyncio.Event()
        self._reason = ""
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()
        """What ``close()`` cancels when the connection does not end by itself: an anyio
        scope, which the shielded end of a stdio process withstands (a native
        ``Task.cancel()`` would interrupt it)."""

    @property
    def session(self) -> ClientSession:
        """The SDK's ``ClientSession``, initialized."""
        if self._session is None:
            raise McpRefused(f"{self.spec.name} is not connected.")
        return self._session

    @property
    def tools(self) -> list[McpTool]:
        """The tools the server listed when it connected."""
        return list(self._tools)

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (closed, or the server went away)."""
        return self._ended.is_set()

    async def wait_closed(self) -> str:
        """Wait until the connection ends; why it ended ("" when ``close()`` ended it)."""
        await self._ended.wait()
        return self._reason

    def _fail(self, reason: str) -> None:
        """End the connection for ``reason`` (the first reason given is the one kept)."""
        if not self._reason and not self._stop.is_set():
            self._reason = f"{self.spec.name}: {reason}."
        self._stop.set()

    def _gone(self) -> None:
        self._fail("the server closed the connection")

    def start(self, plan: _StdioPlan | _UrlPlan) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(plan), name=f"lightchat-mcp-link-{self.spec.name}"
        )

    async def ready(self) -> None:
        """Wait until the server is initialized and its tools listed; ``McpRefused``
        if that fails."""
        await asyncio.shield(self._ready)

    async def _run(self, plan: _StdioPlan | _UrlPlan) -> None:
        try:
            with self._scope:
                async with self._transport(plan) as (read, write):
                    watched = _Watched(read, self._gone)
                    async with ClientSession(
                        watched,
                        write,
                        read_timeout_seconds=float(self._settings.mcp_timeout_s),
                        client_info=mcp_types.Implementation(name="lightchat", version=__version__),
                    ) as session:
                        await session.initialize()
                        self._tools = await _listed_tools(session)
                        self._session = session
                        if not self._ready.done():
                            self._ready.set_result(None)
                        await self._stop.wait()
            if self._scope.cancelled_caught and not self._ready.done():
                self._ready.set_exception(McpRefused(self._reason or f"{self.spec.name}: closed."))
        except asyncio.CancelledError:
            if not self._ready.done():
                self._ready.set_exception(McpRefused(self._reason or f"{self.spec.name}: closed."))
            raise
        # The SDK and the network raise many kinds of errors; each becomes the reason the
        # connection failed, told to the user, and nothing else is disturbed.
        except Exception as exc:
            reason = self._reason or f"{self.spec.name}: {_explained(exc)}."
            self._reason = reason
            if not self._ready.done():
                self._ready.set_exception(McpRefused(reason))
            else:
                logger.info("MCP: %s", reason)
        finally:
            if not self._ready.done():
                self._ready.set_exception(
                    McpRefused(self._reason or f"{self.spec.name}: the connection ended.")
                )
            self._ready.exception()  # retrieved: nobody may be waiting any more
            self._ended.set()

    def _transport(
        self, plan: _StdioPlan | _UrlPlan
    ) -> contextlib.AbstractAsyncContextManager[Any]:
        limit = self._settings.mcp_max_bytes
        if isinstance(plan, _StdioPlan):
            return _stdio(plan, limit, self._fail)
        app = self.spec.origin == "app"
        rule = None if app else AddressRule(comma_list(self._settings.mcp_allowed_hosts))
        make = _client_factory(_Guard(rule, limit, self._fail), trust_env=app)
        timeout = float(self._settings.mcp_timeout_s)
        if self.spec.kind == "sse":
            return sse_client(
                plan.url,
                headers=plan.headers,
                timeout=timeout,
                sse_read_timeout=HTTP_READ_S,
                httpx_client_factory=make,
            )
        return _streamable(plan, make(headers=plan.headers, timeout=_timeout(timeout)), limit)

    async def close(self) -> None:
        """Close the connection (its stdio process ends); idempotent, and bounded in time
        even when the server does not answer."""
        self._stop.set()
        task = self._task
        if task is None or task.done():
            self._ended.set()
            return
        done, _ = await asyncio.wait({task}, timeout=CLOSE_GRACE_S)
        if not done:
            self._scope.cancel()
            done, _ = await asyncio.wait({task}, timeout=CLOSE_LIMIT_S)
            if not done:
                logger.warning("MCP: %s did not close in time", self.spec.name)


def _absolute_path() -> str:
    """This server's ``PATH`` without its relative folders (``.``, empty entries), which
    would find an executable in whatever folder the server runs in."""
    folders = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(folder for folder in folders if os.path.isabs(folder))


def _timeout(seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, read=HTTP_READ_S)


@contextlib.asynccontextmanager
async def _streamable(
    plan: _UrlPlan, client: httpx2.AsyncClient, max_bytes: int
) -> AsyncIterator[tuple[Any, Any]]:
    async with (
        client,
        streamable_http_client(plan.url, http_client=client, max_sse_event_size=max_bytes) as (
            read,
            write,
        ),
    ):
        yield read, write


async def _listed_tools(session: ClientSession) -> list[McpTool]:
    tools: list[McpTool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        listed = await session.list_tools(params=params)
        tools += [
            McpTool(
                name=tool.name,
                description=tool.description or "",
                input_schema=dict(tool.input_schema or {}),
            )
            for tool in listed.tools
        ]
        cursor = listed.next_cursor
        if not cursor:
            break
    return tools


def _explained(exc: BaseException) -> str:
    """What went wrong, for the user: the innermost cause that says something."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = next(
            (e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)),
            exc.exceptions[0],
        )
    if isinstance(exc, McpRefusedTransport | McpRefused):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, MCPError):
        if exc.code == mcp_types.CONNECTION_CLOSED:
            return "the server closed the connection"
        return f"the server answered with an error: {exc.message}"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"the server answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx2.TimeoutException):
        return "the server did not answer in time"
    if isinstance(exc, httpx2.TransportError):
        return f"the server cannot be reached ({exc or type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"the server could not be started ({exc.strerror or exc})"
    logger.warning("MCP: a connection failed", exc_info=exc)
    return f"the connection failed ({type(exc).__name__})"


# -- the connector ---------------------------------------------------------------------------


class McpConnector:
    """Opens MCP connections as ``settings`` allow (``lightchat.domain.mcp.McpConnector``).

    Example::

        connector = McpConnector(settings)
        spec = McpServerSpec("calc", "stdio", command="uvx mcp-calculator")
        connector.check(spec)            # McpRefused if it may not connect
        link = await connector.open(spec)
        result = await link.session.call_tool("add", {"a": 1, "b": 2})
        await link.close()
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, spec: McpServerSpec) -> None:
        """Raise ``McpRefused`` for a server that may not be connected, before anything
        starts. For a user's URL this resolves the host name (a blocking call: async code
        runs it in a thread, as ``open`` does)."""
        self._plan(spec)

    async def open(self, spec: McpServerSpec) -> McpLink:
        """Connect (``check`` first), initialize and list the tools, within
        ``mcp_timeout_s``; ``McpRefused`` with a message for the user when it is refused
        or fails."""
        plan = await asyncio.to_thread(self._plan, spec)
        link = McpLink(spec, self.settings)
        link.start(plan)
        try:
            async with asyncio.timeout(self.settings.mcp_timeout_s):
                await link.ready()
        except TimeoutError:
            await link.close()
            raise McpRefused(
                f"{spec.name}: the server did not answer within {self.settings.mcp_timeout_s} s"
                " (features.mcp.timeout)."
            ) from None
        except BaseException:
            await link.close()
            raise
        return link

    def _plan(self, spec: McpServerSpec) -> _StdioPlan | _UrlPlan:
        settings = self.settings
        if not settings.mcp:
            raise McpRefused("This app does not connect MCP servers ([features.mcp] enabled).")
        if spec.kind == "stdio":
            if spec.origin == "user" and not settings.mcp_stdio:
                raise McpRefused("This app does not start stdio servers.")
            return self._stdio_plan(spec)
        if spec.kind not in ("sse", "streamable-http"):
            raise McpRefused(f"{spec.kind!r} is not a kind of MCP server.")
        if spec.origin == "user":
            on = settings.mcp_sse if spec.kind == "sse" else settings.mcp_streamable_http
            if not on:
                raise McpRefused(f"This app does not connect {spec.kind} servers.")
        return self._url_plan(spec)

    def _stdio_plan(self, spec: McpServerSpec) -> _StdioPlan:
        try:
            words = shlex.split(spec.command or "")
        except ValueError as exc:
            raise McpRefused(f"The command cannot be read ({exc}).") from None
        user = spec.origin == "user"
        allowed_env = set(comma_list(self.settings.mcp_allowed_env))
        env = get_default_environment()
        while words and "=" in words[0] and ENV_NAME.fullmatch(words[0].partition("=")[0]):
            name, _, value = words.pop(0).partition("=")
            if user and name not in allowed_env:
                raise McpRefused(
                    f"The command may not set {name}: this app lets a command set "
                    + (", ".join(sorted(allowed_env)) if allowed_env else "no variable")
                    + " (features.mcp.stdio.allowed_env)."
                )
            env[name] = value
        if not words:
            raise McpRefused(
                "Give the command to run, e.g. npx -y @modelcontextprotocol/server-memory."
            )
        executable, args = words[0], words[1:]
        if any(c in "\x00\r\n" for word in words for c in word) or any(
            "\x00" in value for value in env.values()
        ):
            raise McpRefused("The command may not hold line breaks or NUL characters.")
        if user:
            allowed = comma_list(self.settings.mcp_allowed_executables)
            if "/" in executable or "\\" in executable:
                raise McpRefused(
                    f"{executable!r} is a path: name an allowed executable by itself ("
                    + (", ".join(allowed) if allowed else "this app allows none")
                    + ")."
                )
            if executable not in allowed:
                raise McpRefused(
                    f"{executable!r} may not be started: "
                    + (
                        f"this app allows {', '.join(allowed)}"
                        if allowed
                        else "this app allows no executable"
                    )
                    + " (features.mcp.stdio.allowed_executables)."
                )
        cwd = os.path.abspath(self.settings.app_dir)
        if "/" in executable or "\\" in executable:  # the app's own server, by its path
            candidate = os.path.join(cwd, executable)
            executable_file = os.path.isfile(candidate) and os.access(candidate, os.X_OK)
            found = candidate if executable_file else None
        else:
            found = shutil.which(executable, path=_absolute_path())
        if found is None:
            raise McpRefused(f"{executable!r} is not found on this server (its PATH).")
        return _StdioPlan((found, *args), env, cwd, quiet=user)

    def _url_plan(self, spec: McpServerSpec) -> _UrlPlan:
        url = (spec.url or "").strip()
        if spec.origin == "app":
            return _UrlPlan(url, dict(spec.headers))
        if not url:
            raise McpRefused("Give the server's URL.")
        if len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
            raise McpRefused("The URL is too long or holds spaces or control characters.")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise McpRefused("The URL must start with http:// or https://.")
        if "@" in parts.netloc:
            raise McpRefused("The URL may not carry a user name or password: use a header.")
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise McpRefused("The URL's port is not a number from 1 to 65535.") from None
        if not host:
            raise McpRefused("The URL names no host.")
        headers = dict(spec.headers)
        if len(headers) > MAX_HEADERS:
            raise McpRefused(f"A server takes at most {MAX_HEADERS} headers.")
        for name, value in headers.items():
            problem = mcp_header_problem(name, value)
            if problem:
                raise McpRefused(f"Header refused: {problem}.")
            if name.lower() in REFUSED_HEADERS:
                raise McpRefused(f"Header refused: {name} is set by the connection itself.")
        rule = AddressRule(comma_list(self.settings.mcp_allowed_hosts))
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                raise McpRefused(f"{host} cannot be resolved.") from None
            addresses = [_address(str(info[4][0])) for info in found]
        for address in addresses:
            refusal = rule.refusal(host, address)
            if refusal:
                raise McpRefused(f"The URL's host {refusal}.")
        return _UrlPlan(url, headers)


# -- calling a tool as a step --------------------------------------------------------------


async def call_tool(
    server: str | ClientSession,
    tool: str,
    arguments: Mapping[str, Any] | None = None,
) -> mcp_types.CallToolResult:
    """Call ``tool`` of an MCP server, shown in the chat as a step of type ``tool``: the
    arguments as its input, the result as its output (text joined, anything else
    summarised); the step fails with the error when the tool reports one (the result is
    returned all the same, for the model to read) or the call fails (raised).

    ``server`` is the chat's connection's name (in ``cl.context.session.mcp_sessions``)
    or the SDK's ``ClientSession``::

        result = await call_tool("calculator", "add", {"a": 2, "b": 3})
    """
    session = _session_of(server)
    async with Step(name=tool, type="tool") as step:
        step.input = dict(arguments or {})
        result = await session.call_tool(tool, dict(arguments or {}))
        step.output = result_text(result)
        if result.is_error:
            step.is_error = True
    return result


def _session_of(server: str | ClientSession) -> ClientSession:
    if not isinstance(server, str):
        return server
    sessions: dict[str, tuple[Any, Any]] = context.session.mcp_sessions
    if server not in sessions:
        names = ", ".join(sessions) or "none"
        raise McpRefused(f"This chat has no MCP server named {server!r} (connected: {names}).")
    session: ClientSession = sessions[server][0]
    return session


def result_text(result: mcp_types.CallToolResult) -> str:
    """A tool's result as text: its text parts joined; an image, audio or a resource as a
    short summary (their bytes are not text); the structured result as JSON when there is
    no content. Untrusted: show it escaped, as the chat shows any text."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        elif isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
            kind = "image" if isinstance(block, mcp_types.ImageContent) else "audio"
            size = len(block.data) * 3 // 4
            parts.append(f"[{kind}: {block.mime_type}, about {size:,} bytes]")
        elif isinstance(block, mcp_types.ResourceLink):
            parts.append(f"[resource: {block.uri}]")
        elif isinstance(block, mcp_types.EmbeddedResource):
            inner = block.resource
            if isinstance(inner, mcp_types.TextResourceContents):
                parts.append(inner.text)
            else:
                parts.append(f"[resource: {inner.uri}, {inner.mime_type or 'binary'}]")
        else:
            parts.append(f"[{getattr(block, 'type', 'content')}]")
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content, indent=2, ensure_ascii=False, default=str)
    return "\n".join(parts)
