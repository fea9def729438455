"""A small MCP server for the tests, written with the official ``mcp`` SDK.

Its tools: ``add(a, b)``, ``echo(text)`` (the text back, as given), ``untrusted()``
(markup and a ``javascript:`` link, which the chat must show as text), ``fail()`` (raises:
the call's result is an error), ``big(size)`` (that many bytes of text), ``slow(seconds)``
(answers after that long), ``picture()`` (an image, not text), ``env(name)`` (a variable of
the server's environment), ``argv()`` (its command line's arguments, as it received them),
``pid()``, ``child()`` (starts a process that sleeps, in the server's process group) and
``exit()`` (the server ends at once, as a crash would). With ``--stubborn`` it ignores
SIGTERM and outlives the end of its input, as a server that hangs would.

Run over stdio (what a chat's stdio connection starts)::

    python -m tests.mcp_servers.toolbox [ARGUMENTS...]
    python tests/mcp_servers/toolbox.py [ARGUMENTS...]

(any arguments are only kept for ``argv()``), or over HTTP on a loopback port::

    python -m tests.mcp_servers.toolbox --serve streamable-http --port 8765   # /mcp
    python -m tests.mcp_servers.toolbox --serve sse --port 8765               # /sse

The tests serve it over HTTP in-process (``tests.mcp_servers.serving``); over HTTP it also
answers ``/redirect?to=URL`` (a 307 to that URL) and ``/hang`` (never answers). It imports
nothing of lightchat nor of the tests, so it runs as a plain script too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

UNTRUSTED = "<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3))"
"""What ``untrusted()`` answers: markup and a script link, to be shown as text."""

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a0e1f5"
    "4e0000000049454e44ae426082"
)
"""A one-pixel PNG, for ``picture()``."""


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def echo(text: str) -> str:
    """Answer the text given, as it is."""
    return text


def untrusted() -> str:
    """Answer markup and a javascript: link (untrusted text)."""
    return UNTRUSTED


def fail() -> str:
    """Always fail."""
    raise ToolError("the tool failed on purpose")


def big(size: int = 5 * 1024 * 1024) -> str:
    """Answer ``size`` bytes of text."""
    return "x" * size


async def slow(seconds: float = 60.0) -> str:
    """Answer after ``seconds``."""
    await asyncio.sleep(seconds)
    return "done"


def picture() -> Image:
    """Answer a one-pixel image."""
    return Image(data=PNG, format="png")


def env(name: str) -> str:
    """The value of the server's environment variable ``name`` ("" when unset)."""
    return os.environ.get(name, "")


def argv() -> str:
    """The arguments the server was started with, as a JSON list."""
    return json.dumps(sys.argv[1:])


def pid() -> int:
    """The server's process id."""
    return os.getpid()


def child() -> int:
    """Start a child process (in the server's process group) that sleeps; its id."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]).pid


def exit() -> str:
    """End the server's process at once, as a crash would."""
    os._exit(3)


async def redirect(request: Request) -> Response:
    """A redirect (307: the method and body are kept) to ``?to=``."""
    return RedirectResponse(request.query_params["to"], status_code=307)


async def hang(request: Request) -> Response:
    """Never answer (until the client goes away)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass  # the body, read and dropped
    return Response(status_code=500)


TOOLS = (add, echo, untrusted, fail, big, slow, picture, env, argv)
PROCESS_TOOLS = (pid, child, exit)
"""The tools about the server's own process: over stdio only (served in the test process,
``exit`` would end the tests)."""


def make_server(*, process_tools: bool = True) -> MCPServer:
    """A new toolbox server (each HTTP server of the tests has its own, without
    ``PROCESS_TOOLS``)."""
    made: MCPServer = MCPServer(
        "toolbox", instructions="Test tools: arithmetic, echoes and failures.", log_level="WARNING"
    )
    for tool in TOOLS + (PROCESS_TOOLS if process_tools else ()):
        made.add_tool(tool)
    made.custom_route("/redirect", methods=["GET", "POST", "DELETE"])(redirect)
    made.custom_route("/hang", methods=["GET", "POST", "DELETE"])(hang)
    return made


def main() -> None:
    """Serve over stdio, or over HTTP with ``--serve``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("streamable-http", "sse"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--stubborn", action="store_true", help="ignore SIGTERM and outlive the end of stdin"
    )
    known, _ = parser.parse_known_args()
    if known.stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = make_server()
    if known.serve == "streamable-http":
        server.run("streamable-http", host="127.0.0.1", port=known.port)
    elif known.serve == "sse":
        server.run("sse", host="127.0.0.1", port=known.port)
    else:
        server.run()
        while known.stubborn:  # what a server that hangs on its way out does
            time.sleep(60)


if __name__ == "__main__":
    main()
