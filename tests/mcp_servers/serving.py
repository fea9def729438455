"""The test MCP server (``tests.mcp_servers.toolbox``) served over HTTP, and the command
lines that start it over stdio: what the connector's tests, the chat's HTTP tests and the
browser tests share.

``McpHttpServer`` runs the server in uvicorn, in a thread of the test process, on a
loopback socket that listens before uvicorn starts (so nothing polls for it); the
``mcp_http`` and ``mcp_sse`` fixtures (tests/conftest.py) hold one of each for the test
session::

    def test_tools(mcp_http: McpHttpServer) -> None:
        mcp_http.url            # http://127.0.0.1:<port>/mcp (streamable HTTP)
        mcp_http.url_for("/hang")

Servers on loopback are refused to users by default, so a test that connects to one sets
``mcp_allowed_hosts`` (``ALLOW_LOOPBACK``) or declares it as the app's own server. The
stdio command runs the test interpreter by its name (``python``): a test allows that
name (``PYTHON``) and puts the interpreter's folder first on ``PATH`` (``with_python_path``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal

import uvicorn
from mcp.server.mcpserver import MCPServer

from tests.mcp_servers.toolbox import make_server

ROOT = Path(__file__).resolve().parents[2]
"""The repository, the folder a stdio command runs the toolbox from (``-m``)."""

PYTHON = Path(sys.executable).name
"""The test interpreter's name, for ``mcp_allowed_executables``."""

TOOLBOX_COMMAND = f"{PYTHON} -m tests.mcp_servers.toolbox"
"""A stdio command line that starts the toolbox (from ``ROOT``)."""

TOOLBOX_SCRIPT = Path(__file__).with_name("toolbox.py")
"""The toolbox as a script path, for a command run from any folder."""

ALLOW_LOOPBACK = "127.0.0.0/8,::1,localhost"
"""``mcp_allowed_hosts`` that lets a user's URL reach the test servers."""

Transport = Literal["streamable-http", "sse"]


def with_python_path(environ: Mapping[str, str] | None = None) -> str:
    """``PATH`` with the test interpreter's folder first, so ``python`` resolves to it."""
    path = (environ if environ is not None else os.environ).get("PATH", "")
    return os.pathsep.join([str(Path(sys.executable).parent), path])


def _quietly_made() -> MCPServer:
    """A toolbox server, without the logging set-up the SDK does when it makes one: it
    would give this whole process's root logger a handler on stderr."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return make_server(process_tools=False)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class McpHttpServer:
    """The toolbox served over streamable HTTP (``/mcp``) or SSE (``/sse``) on a free
    loopback port, in uvicorn in a thread; a context manager that stops it at the end.

    ``json_response``: streamable HTTP answers each request with one JSON body instead of
    an event stream.
    """

    def __init__(self, transport: Transport = "streamable-http", *, json_response: bool = False):
        self.transport = transport
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = int(self.socket.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        server = _quietly_made()
        if transport == "sse":
            app = server.sse_app()
            self.url = f"{self.base}/sse"
        else:
            app = server.streamable_http_app(json_response=json_response)
            self.url = f"{self.base}/mcp"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"mcp {transport}", daemon=True)
        self.thread.start()
        assert self._started.wait(10), "the MCP server's thread did not start"

    def _run(self) -> None:
        async def main() -> None:
            self._started.set()
            await self.server.serve(sockets=[self.socket])

        asyncio.run(main())

    def url_for(self, path: str) -> str:
        """The address of ``path`` on this server (``/hang``, ``/redirect?to=...``)."""
        return f"{self.base}{path}"

    def stop(self) -> None:
        """Stop uvicorn and wait for its thread (open streams are cut after a second)."""
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()

    def __enter__(self) -> McpHttpServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
