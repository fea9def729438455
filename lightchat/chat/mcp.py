"""A chat's MCP connections: the Model Context Protocol servers whose tools its app uses.

Each ``ChatSession`` has one ``McpConnections`` (``session.mcp``). It connects the servers
the app declared (``Settings.mcp_servers``) and those the user added and the chat
remembers for them (``lightchat.chat.mcp_memory``) in the background when the chat starts,
is reopened or is taken over (``begin``); the user adds and removes more in the "MCP
servers" dialog (``connect``, ``disconnect``). The app sees them as Chainlit shows them:
``@on_mcp_connect(connection, session)`` once a server is connected,
``@on_mcp_disconnect(name, session)`` when it goes, and ``session.mcp_sessions``.

The SDK is never imported here: connections are opened by the app's ``McpConnector``
(``lightchat.integrations.mcp``, through ``lightchat.domain.mcp``), which refuses what
the configuration does not allow. This module adds the chat's own rules: names unique in
the chat, a bounded number of servers, and stdio (a command run on the server) only for
a signed-in user unless the app allows it to anonymous users (``mcp_stdio_anonymous``).

Order: the app's hooks run in the chat's turn, as its other callbacks do (so
``cl.user_session`` and ``cl.Message(...).send()`` work in them): ``on_mcp_connect`` goes
before the messages waiting their turn, right after the chat's start (``on_chat_start``
or ``on_chat_resume``), and a message's ``on_message`` first waits, up to
``mcp_timeout_s``, for the connections still being made: so what the app's
``on_mcp_connect`` keeps (the server's tools, say) is there for the message. On
"Disconnect", ``on_mcp_disconnect`` runs in the chat's turn too, with the connection still
open, which then closes.

Failures: a server the user adds that is refused or fails is answered at once (the dialog
shows why) and nothing is kept. One connected in the background that fails is listed as
failed, with why, and the chat says so; nothing else breaks. An error in the app's hook is
shown in the chat, as any callback's, and the connection stays.

The end: when the chat ends (``ChatSession.close``: it expired, the server stops, or it is
handed over to another worker, which connects them again), every connection ends:
``on_mcp_disconnect`` runs for each, then each closes (a stdio server's process ends).

Concurrency: everything here runs on the chat's event loop. Each connection is opened in
a task of its own (so a page that goes away while a server connects leaves nothing half
open); the connector keeps each open connection in a task of its own as well.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import unicodedata
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from lightchat.chat.mcp_memory import McpMemory, Unreadable
from lightchat.domain.events import MessageData, MessageEvent, new_id
from lightchat.domain.mcp import (
    McpConnector,
    McpKind,
    McpLink,
    McpOrigin,
    McpRefused,
    McpServerSpec,
    McpTool,
)

if TYPE_CHECKING:
    from lightchat.chat.session import ChatSession

logger = logging.getLogger("lightchat")

MAX_NAME_CHARS = 64
"""The longest name a server may have in a chat."""

MAX_SERVERS = 20
"""The most servers one chat connects (each stdio server is a process on the server)."""

CLOSE_WAIT_S = 10.0
"""How long the end of a chat waits for one connection to close."""

CONNECT_GRACE_S = 5.0
"""How much longer than ``mcp_timeout_s`` a user's "Connect" waits for the connector,
which bounds each exchange itself, before giving up on it."""

McpStatus = Literal["connecting", "connected", "failed"]
"""Where a connection stands."""

NO_MCP = "This app does not connect MCP servers."
SIGN_IN_FOR_STDIO = (
    "Sign in to add a stdio server: it runs a command on the server, which this app allows "
    "only to signed-in users."
)


# -- Chainlit's shapes of a connection (lightchat.mcp) ------------------------------------


@dataclass(slots=True)
class StdioMcpConnection:
    """A server run as a process, as ``on_mcp_connect`` receives it: its ``command`` (the
    executable) and ``args`` (what followed it, as a list)."""

    name: str
    command: str
    args: list[str]
    clientType: Literal["stdio"] = "stdio"


@dataclass(slots=True)
class SseMcpConnection:
    """A server reached over SSE at ``url`` (with ``headers``)."""

    name: str
    url: str
    headers: dict[str, str] | None = None
    clientType: Literal["sse"] = "sse"


@dataclass(slots=True)
class HttpMcpConnection:
    """A server reached over streamable HTTP at ``url`` (with ``headers``)."""

    name: str
    url: str
    headers: dict[str, str] | None = None
    clientType: Literal["streamable-http"] = "streamable-http"


McpConnection = StdioMcpConnection | SseMcpConnection | HttpMcpConnection
"""What ``on_mcp_connect`` receives: one of the three shapes, told apart by ``clientType``."""


def _words(command: str) -> list[str]:
    """A command line as words, as the shell would split it (no parsing left to a shell)."""
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _assignment(word: str) -> bool:
    """True for a ``NAME=value`` word in front of a command."""
    name, equals, _ = word.partition("=")
    return bool(equals) and name.isidentifier()


def connection_of(spec: McpServerSpec) -> McpConnection:
    """The shape ``on_mcp_connect`` receives for a server (its command's leading
    ``NAME=value`` assignments left out, as Chainlit leaves them out)."""
    if spec.kind == "stdio":
        words = _words(spec.command or "")
        while words and _assignment(words[0]):
            words.pop(0)
        return StdioMcpConnection(name=spec.name, command=words[0] if words else "", args=words[1:])
    headers = dict(spec.headers) or None
    if spec.kind == "sse":
        return SseMcpConnection(name=spec.name, url=spec.url or "", headers=headers)
    return HttpMcpConnection(name=spec.name, url=spec.url or "", headers=headers)


def shown_target(spec: McpServerSpec) -> str:
    """What a server is, to show: its URL, or its command with the values it assigns left
    out (``API_KEY=… uvx server``: a value set there may be a secret)."""
    if spec.kind != "stdio":
        return spec.url or ""
    words = _words(spec.command or "")
    shown = []
    for index, word in enumerate(words):
        if _assignment(word) and all(_assignment(w) for w in words[:index]):
            shown.append(word.partition("=")[0] + "=…")
        else:
            shown.append(shlex.quote(word))
    return " ".join(shown)


# -- what a chat shares with the others of its worker --------------------------------------


@dataclass(frozen=True, slots=True)
class McpServices:
    """What every chat of a worker uses for MCP, given by the app when ``features.mcp`` is
    on: the connector, the servers users remember, the app's own servers, and the rules."""

    connector: McpConnector
    memory: McpMemory
    servers: tuple[McpServerSpec, ...] = ()
    """The app's servers (``origin="app"``), connected in every chat."""
    timeout_s: float = 30.0
    """How long a message waits for the connections still being made (``mcp_timeout_s``)."""
    stdio_anonymous: bool = False
    """Whether a user who is not signed in may add a stdio server (``mcp_stdio_anonymous``)."""
    kinds: tuple[McpKind, ...] = ("stdio", "sse", "streamable-http")
    """The kinds of server users may add (those turned on)."""


@dataclass(frozen=True, slots=True)
class McpView:
    """One connection as the "MCP servers" dialog lists it (its texts are untrusted: a
    user typed the name and the target, a server wrote its tools and its failures)."""

    name: str
    kind: McpKind
    target: str
    origin: McpOrigin
    status: McpStatus
    message: str = ""
    """Why it failed (empty otherwise)."""
    tools: tuple[McpTool, ...] = ()
    header_names: tuple[str, ...] = ()
    """The names of the headers it is sent with (never their values)."""


@dataclass(slots=True)
class _Connection:
    spec: McpServerSpec
    status: McpStatus = "connecting"
    message: str = ""
    link: McpLink | None = None
    task: asyncio.Task[None] | None = None
    background: bool = False
    """Connected when the chat started (the chat says so if it fails), not by "Connect"."""
    hooked: asyncio.Future[None] | None = None
    """The run of ``on_mcp_connect`` for it, once connected."""
    tools: list[McpTool] = field(default_factory=list)
    watch: asyncio.Task[None] | None = None
    """Waits for the connection to end by itself (its server went away)."""


class McpConnections:
    """A chat's MCP connections, by name (see the module docstring)."""

    def __init__(self, session: ChatSession, services: McpServices | None = None) -> None:
        self._session = session
        self.services = services
        """What the worker's chats share for MCP; None while MCP is off."""
        self._entries: dict[str, _Connection] = {}
        self._loader: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._ended = False

    @property
    def on(self) -> bool:
        """Whether this chat connects MCP servers at all (``features.mcp``)."""
        return self.services is not None

    # -- what the app and the dialog see --------------------------------------------------

    def list(self) -> list[McpView]:
        """The chat's connections, in the order they were made."""
        return [self._view(entry) for entry in self._entries.values()]

    def get(self, name: str) -> McpView | None:
        """One connection by name, or None."""
        entry = self._entries.get(name)
        return None if entry is None else self._view(entry)

    def sessions(self) -> dict[str, tuple[Any, McpLink]]:
        """The open connections as Chainlit's ``session.mcp_sessions`` holds them: by name,
        the SDK's ``ClientSession`` and the connection (``mcp_session, _ = ...``)."""
        return {
            name: (entry.link.session, entry.link)
            for name, entry in self._entries.items()
            if entry.link is not None
        }

    def hooked(self, name: str) -> asyncio.Future[None] | None:
        """The run of ``on_mcp_connect`` for a connection (None before it is connected)."""
        entry = self._entries.get(name)
        return None if entry is None else entry.hooked

    @staticmethod
    def _view(entry: _Connection) -> McpView:
        spec = entry.spec
        return McpView(
            name=spec.name,
            kind=spec.kind,
            target=shown_target(spec),
            origin=spec.origin,
            status=entry.status,
            message=entry.message,
            tools=tuple(entry.tools),
            header_names=tuple(spec.headers),
        )

    # -- the user's connections -----------------------------------------------------------

    def _services(self) -> McpServices:
        if self.services is None:
            raise McpRefused(NO_MCP)
        return self.services

    def _check_name(self, name: str) -> str:
        """The name, spaces tidied; ``McpRefused`` for one that is empty, too long, holds
        control characters or is taken in this chat."""
        name = " ".join(name.split())
        if not name:
            raise McpRefused("Give the server a name.")
        if len(name) > MAX_NAME_CHARS:
            raise McpRefused(f"A server's name is at most {MAX_NAME_CHARS} characters long.")
        if any(unicodedata.category(char).startswith("C") for char in name):
            raise McpRefused("A server's name cannot hold control characters.")
        if name in self._entries:
            raise McpRefused(
                f"This chat already has a server named “{name}”: choose another name, or "
                "disconnect that one first."
            )
        if len(self._entries) >= MAX_SERVERS:
            raise McpRefused(
                f"A chat connects at most {MAX_SERVERS} servers: disconnect one first."
            )
        return name

    def _guard(self, spec: McpServerSpec) -> None:
        """Refuse (``McpRefused``) what the chat's rules do not let a user connect. The
        connector's own rules are checked again by ``open``, before anything starts."""
        services = self._services()
        if spec.origin == "user":
            if spec.kind not in services.kinds:
                raise McpRefused(f"This app does not connect {spec.kind} servers.")
            anonymous = self._session.user is None
            if spec.kind == "stdio" and anonymous and not services.stdio_anonymous:
                raise McpRefused(SIGN_IN_FOR_STDIO)

    async def connect(self, spec: McpServerSpec) -> McpView:
        """Connect a server the user added, and remember it for their next chats.

        Raises ``McpRefused`` (with the reason, for the user) when it may not connect or
        fails: nothing is kept then. ``on_mcp_connect`` runs in the chat's turn.
        """
        services = self._services()
        spec = replace(spec, name=self._check_name(spec.name), origin="user")
        self._guard(spec)
        # The connector's check may resolve a host name: off the event loop, so a slow
        # resolver stalls no other chat. The name is checked again: another request of
        # this chat may have taken it meanwhile.
        await asyncio.to_thread(services.connector.check, spec)
        self._check_name(spec.name)
        entry = _Connection(spec)
        self._entries[spec.name] = entry
        task = entry.task = asyncio.get_running_loop().create_task(
            self._open(entry), name=f"lightchat-mcp-{spec.name}"
        )
        try:
            await asyncio.wait_for(asyncio.shield(task), services.timeout_s + CONNECT_GRACE_S)
        except TimeoutError:
            task.cancel()
            await asyncio.wait([task])
            entry.status = "failed"
            entry.message = f"The server did not answer within {services.timeout_s:g} seconds."
        if entry.status != "connected":
            if self._entries.get(spec.name) is entry:
                del self._entries[spec.name]
            raise McpRefused(entry.message or "The server could not be connected.")
        if self._entries.get(spec.name) is entry:
            await services.memory.remember(self._session.owner, spec)
        return self._view(entry)

    async def disconnect(self, name: str) -> None:
        """End a connection and forget it for the user's next chats: ``on_mcp_disconnect``
        runs in the chat's turn, then it closes. ``LookupError`` when the chat has none of
        that name."""
        entry = self._entries.pop(name, None)
        if entry is None:
            raise LookupError(f"This chat has no MCP server named “{name[:MAX_NAME_CHARS]}”.")
        if entry.spec.origin == "user" and self.services is not None:
            await self.services.memory.forget(self._session.owner, name)
        for task in (entry.task, entry.watch):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task])
        link = entry.link
        if link is None:
            return
        done = self._session.run_next("on_mcp_disconnect", name, link.session)
        task = asyncio.get_running_loop().create_task(self._close_after(done, link))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_after(done: asyncio.Future[None], link: McpLink) -> None:
        """Close a connection once its ``on_mcp_disconnect`` has run."""
        await done
        await _close(link)

    # -- the chat's start and end ---------------------------------------------------------

    def begin(self) -> None:
        """Connect, in the background, the app's servers and those the user remembers (the
        chat starts, is reopened or is taken over). Does nothing with MCP off, or twice."""
        if self.services is None or self._loader is not None or self._ended:
            return
        for spec in self.services.servers:
            if spec.name not in self._entries:
                self._start(spec)
        self._loader = asyncio.get_running_loop().create_task(
            self._recall(), name=f"lightchat-mcp-recall-{self._session.id}"
        )

    async def _recall(self) -> None:
        services = self._services()
        for found in await services.memory.recall(self._session.owner):
            if found.name in self._entries:
                logger.info("A remembered MCP server shares the name %r: left out", found.name)
                continue
            if isinstance(found, Unreadable):
                spec = McpServerSpec(name=found.name, kind=found.kind)
                self._fail(_Connection(spec, background=True), str(found))
                continue
            if len(self._entries) >= MAX_SERVERS:
                break
            self._start(replace(found, origin="user"))

    def _start(self, spec: McpServerSpec) -> None:
        """Connect a server in the background (see ``begin``)."""
        if self._ended:
            return
        entry = _Connection(spec, background=True)
        try:
            self._guard(spec)
        except McpRefused as exc:
            self._fail(entry, str(exc))
            return
        self._entries[spec.name] = entry
        entry.task = asyncio.get_running_loop().create_task(
            self._open(entry), name=f"lightchat-mcp-{spec.name}"
        )

    async def _open(self, entry: _Connection) -> None:
        """Open one connection (in a task of its own); then ``on_mcp_connect`` runs in the
        chat's turn. A failure is noted in the entry (and said in the chat, for one
        connected in the background)."""
        spec = entry.spec
        try:
            link = await self._services().connector.open(spec)
        except McpRefused as exc:
            self._fail(entry, str(exc))
            return
        # A connector's own error (a bug, not a refusal): logged, and the chat goes on.
        except Exception as exc:
            logger.error("Could not connect the MCP server %r", spec.name, exc_info=exc)
            self._fail(entry, f"The server could not be connected ({type(exc).__name__}).")
            return
        if self._ended or self._entries.get(spec.name) is not entry:
            await _close(link)  # the chat ended, or the server was disconnected, meanwhile
            return
        entry.link, entry.status, entry.tools = link, "connected", list(link.tools)
        entry.hooked = self._session.run_next("on_mcp_connect", connection_of(spec), link.session)
        entry.watch = asyncio.get_running_loop().create_task(
            self._watch(entry, link), name=f"lightchat-mcp-watch-{spec.name}"
        )

    async def _watch(self, entry: _Connection, link: McpLink) -> None:
        """When a connection ends by itself (its server died, or broke a limit): listed as
        failed with why, ``on_mcp_disconnect`` runs in the chat's turn, and the chat says
        so. The user's "Disconnect" takes it away (and forgets it)."""
        reason = await link.wait_closed()
        name = entry.spec.name
        if self._ended or self._entries.get(name) is not entry or entry.link is not link:
            return  # closed here: disconnected, or the chat ended
        entry.link, entry.tools = None, []
        entry.status, entry.message = "failed", reason or "The connection ended."
        self._session.run_next("on_mcp_disconnect", name, link.session)
        self._say(f"The MCP server “{name}” is no longer connected: {entry.message}")

    def _fail(self, entry: _Connection, message: str) -> None:
        """Note a failed connection; one made in the background is listed as failed, and
        the chat says why."""
        entry.status, entry.message = "failed", message
        if not entry.background or self._ended:
            return
        self._entries.setdefault(entry.spec.name, entry)
        self._say(f"Could not connect the MCP server “{entry.spec.name}”: {message}")

    def _say(self, text: str) -> None:
        """Tell the chat what happened to a connection (an error message in it)."""
        if not self._session.closed:
            message = MessageData(id=new_id(), author="MCP", type="error", content=text)
            self._session.emit(MessageEvent(message))

    @property
    def pending(self) -> bool:
        """True while connections are still being made in the background."""
        if self._loader is not None and not self._loader.done():
            return True
        return any(e.task is not None and not e.task.done() for e in self._entries.values())

    async def settle(self) -> None:
        """Wait, up to ``mcp_timeout_s``, for the connections still being made (a message
        is about to be answered: its ``on_message`` should see their tools)."""
        if self.services is None or not self.pending:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.services.timeout_s
        if self._loader is not None and not self._loader.done():
            await asyncio.wait([self._loader], timeout=self.services.timeout_s)
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        waiting = [task for task in tasks if not task.done()]
        left = deadline - loop.time()
        if waiting and left > 0:
            await asyncio.wait(waiting, timeout=left)

    async def close_all(self) -> None:
        """End every connection (the chat ends): ``on_mcp_disconnect`` runs for each open
        one, then each closes. Nothing connects in this chat afterwards."""
        self._ended = True
        entries, self._entries = list(self._entries.values()), {}
        opening = [
            task
            for entry in entries
            for task in (entry.task, entry.watch)
            if task is not None and not task.done()
        ]
        if self._loader is not None and not self._loader.done():
            opening.append(self._loader)
        for task in opening:
            task.cancel()
        if opening:
            await asyncio.wait(opening)
        links = [entry.link for entry in entries if entry.link is not None]
        for entry in entries:
            if entry.link is not None:
                await self._session.call_hook(
                    "on_mcp_disconnect", entry.spec.name, entry.link.session
                )
        closing = [*self._closing, *(asyncio.ensure_future(_close(link)) for link in links)]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_WAIT_S)


async def _close(link: McpLink) -> None:
    """Close a connection, bounded; a connection that fails to close is logged."""
    try:
        await asyncio.wait_for(link.close(), CLOSE_WAIT_S)
    except TimeoutError:
        logger.error("An MCP connection did not close within %.0f s", CLOSE_WAIT_S)
    # A connector's error while closing must not stop the others from closing.
    except Exception as exc:
        logger.error("Could not close an MCP connection", exc_info=exc)


__all__ = [
    "MAX_NAME_CHARS",
    "MAX_SERVERS",
    "HttpMcpConnection",
    "McpConnection",
    "McpConnections",
    "McpServices",
    "McpStatus",
    "McpView",
    "SseMcpConnection",
    "StdioMcpConnection",
    "connection_of",
    "shown_target",
]
