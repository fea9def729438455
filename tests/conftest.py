"""Shared fixtures: real apps, real servers on free loopback ports."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

import lightchat
from lightchat import LightChat


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Sync Playwright keeps an event loop running in the main thread while its session-scoped
    browser lives, so async tests after it could not start their own loop.
    """
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture
def isolated_import() -> Iterator[None]:
    """Undo what loading an app file does: sys.path, sys.modules, and the default app (its
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
        del sys.modules[name]
