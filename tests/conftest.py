"""Shared fixtures: real apps served in-process, real servers on free loopback ports.

``serve`` serves an app in-process for httpx clients (``async with serve(app) as site:``,
see ``tests.helpers.Site``); ``lightchat_serve`` starts the real ``lightchat serve`` and
stops it when the test ends. The browser tests (tests/e2e/conftest.py) build their own
``serve``, by app name, on ``lightchat_serve``. ``mcp_http`` and ``mcp_sse`` are the test
MCP server over streamable HTTP and over SSE (``tests.mcp_servers.serving``).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType

import pytest

import lightchat
from lightchat import LightChat
from tests.helpers import (
    BASE_URL,
    REDIS_URL,
    ROOT,
    WAIT_S,
    LightchatServe,
    Serve,
    Server,
    Site,
)
from tests.mcp_servers.serving import McpHttpServer
from tests.pg import postgres_database


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Sync Playwright keeps an event loop running in the main thread while its session-scoped
    browser lives, so async tests after it could not start their own loop.
    """
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@asynccontextmanager
async def _serve(
    app: LightChat,
    *,
    lifespan: bool = False,
    history_must_open: bool = True,
    timeout: float | None = WAIT_S * 4,
    base_url: str = BASE_URL,
    form_token: bool = True,
    opened_page: bool = False,
) -> AsyncIterator[Site]:
    site = Site(app, base_url=base_url, form_token=form_token, opened_page=opened_page)
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(asyncio.timeout(timeout))
            if lifespan:
                asgi = app.build()
                await stack.enter_async_context(asgi.router.lifespan_context(asgi))
                if app.history is not None and history_must_open:
                    assert await app.history.wait_ready(), app.history.failed
            yield site
    finally:
        await site.close()


@pytest.fixture(scope="session")
def serve() -> Serve:
    """Serve an app in-process: ``async with serve(app) as site:`` (see ``Serve``)."""
    return _serve


@pytest.fixture
def lightchat_serve() -> Iterator[LightchatServe]:
    """Start ``lightchat serve`` processes (see ``LightchatServe``); those still running
    when the test ends are stopped then."""
    started: list[Server] = []

    def start(
        app: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
        ready: str | None = "/-/health",
    ) -> Server:
        server = Server(app, *args, env=env, cwd=cwd)
        started.append(server)
        if ready is not None:
            server.wait_ready(ready)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database URL: "" (SQLite in the app's folder) or a fresh PostgreSQL database, made
    for the test module (each module that asks for it runs its tests on both)."""
    if request.param == "sqlite":
        yield ""
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def mcp_http() -> Iterator[McpHttpServer]:
    """The test MCP server (``tests.mcp_servers.toolbox``) over streamable HTTP, on a
    loopback port, for the whole test session: ``mcp_http.url`` ends in ``/mcp``."""
    with McpHttpServer("streamable-http") as server:
        yield server


@pytest.fixture(scope="session")
def mcp_sse() -> Iterator[McpHttpServer]:
    """The test MCP server over SSE, on a loopback port: ``mcp_sse.url`` ends in ``/sse``."""
    with McpHttpServer("sse") as server:
        yield server


@pytest.fixture
def isolated_import() -> Iterator[None]:
    """Undo what loading an app file does: sys.path, the modules it imported (its own and
    lightchat's, not those of Python or installed packages), and the default app (its
    callbacks, settings and server state start fresh and come back afterwards)."""
    path = list(sys.path)
    modules = set(sys.modules)
    state = vars(lightchat.default_app)
    saved = dict(state)
    state.update(vars(LightChat()))
    yield
    state.clear()
    state.update(saved)
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if not _installed(sys.modules[name]):
            del sys.modules[name]


_INSTALLED = {Path(root).resolve() for root in (sys.prefix, sys.base_prefix, sys.exec_prefix)}


def _installed(module: ModuleType | None) -> bool:
    """True for a module of Python's library or an installed package: those an app file
    imports stay imported (importing one again would make a second copy of its classes,
    which the first copy's users do not recognise)."""
    file = getattr(module, "__file__", None)
    return file is not None and any(Path(file).resolve().is_relative_to(r) for r in _INSTALLED)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own, its keys removed afterwards; skips the test
    when Redis does not answer."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.skip(f"Redis does not answer at {REDIS_URL} ({exc.__class__.__name__})")
    name = f"lctest{uuid.uuid4().hex[:8]}:"
    yield name
    keys = [key async for key in client.scan_iter(match=f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
