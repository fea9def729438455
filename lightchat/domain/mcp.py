"""Model Context Protocol servers a chat connects to: what names one, what a connection
offers, and what opens one.

The official ``mcp`` SDK is imported only by ``lightchat.integrations.mcp`` (an optional
extra), which implements ``McpConnector``; the chat's side (``lightchat.chat.mcp``) keeps
a chat's connections through this interface alone, so it never imports the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

McpKind = Literal["stdio", "sse", "streamable-http"]
"""How a server is reached: a local process (stdio) or a URL (SSE, streamable HTTP)."""

McpOrigin = Literal["user", "app"]
"""Who named a server: a user in the chat, or the app in its configuration."""


class McpRefused(ValueError):
    """A server that may not be connected (or a connection that failed), with a message
    for the user: it names what was refused and why, never a secret."""


@dataclass(frozen=True, slots=True)
class McpServerSpec:
    """A server to connect to, as a user typed it or the app declared it.

    ``command`` is the stdio command line as typed (``uvx weather --units metric``,
    optionally after ``NAME=value`` assignments); ``url`` and ``headers`` name an SSE or
    streamable-HTTP server. ``origin == "app"`` marks a server the app declared in its
    configuration: trusted like the app's own code (no allow-list, loopback allowed).
    """

    name: str
    kind: McpKind
    command: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    origin: McpOrigin = "user"

    @property
    def target(self) -> str:
        """What the server is, for display: its command or its URL (never its headers)."""
        return (self.command if self.kind == "stdio" else self.url) or ""


@dataclass(frozen=True, slots=True)
class McpTool:
    """A tool a server offers, as it describes it (untrusted text: escape it)."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)


class McpLink(Protocol):
    """One open connection. ``session`` is the SDK's ``mcp.ClientSession`` (what
    ``on_mcp_connect`` and ``session.mcp_sessions`` give the app); ``tools`` what the
    server listed when it connected; ``closed`` and ``wait_closed()`` tell when it ends
    without being closed (the server died), so the chat can drop it."""

    @property
    def session(self) -> Any: ...

    @property
    def tools(self) -> list[McpTool]: ...

    @property
    def closed(self) -> bool:
        """Whether the connection has ended: closed, or the server went away (its process
        exited, it closed the stream, it broke a limit)."""
        ...

    async def wait_closed(self) -> str:
        """Wait until the connection ends; why it ended, for the user ("" when ``close()``
        ended it)."""
        ...

    async def close(self) -> None:
        """Close the connection (and end its process, for stdio); idempotent."""


class McpConnector(Protocol):
    """Opens connections, refusing what the configuration does not allow."""

    def check(self, spec: McpServerSpec) -> None:
        """Raise ``McpRefused`` for a server that may not be connected (kind turned off,
        executable not allowed, URL refused...) before anything starts."""

    async def open(self, spec: McpServerSpec) -> McpLink:
        """Connect (``check`` first), initialize and list the tools; ``McpRefused`` with a
        message for the user when it is refused or fails."""
