"""Shared fixtures: real apps, real servers on free loopback ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
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


def wait_until_answers(
    process: subprocess.Popen[str], url: str, timeout: float = 15, name: str = "lightchat serve"
) -> None:
    """Wait until the server ``process`` answers 200 at ``url`` (its health check); raises
    with what it printed if it exits first, or if it does not answer in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"{name} exited early:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet; nothing to wait on
    raise RuntimeError(f"{name} did not answer at {url} within {timeout}s")


def stop_process(process: subprocess.Popen[str], timeout: float = 10) -> str:
    """Stop a server process (SIGTERM, then SIGKILL after ``timeout``); what it printed."""
    if process.poll() is None:
        process.terminate()
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


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
