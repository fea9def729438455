"""Shared fixtures: real apps, real servers on free loopback ports."""

from __future__ import annotations

import socket

import pytest


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
