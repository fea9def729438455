"""Browser tests: the real `lightchat serve` on a free port, driven by Debian's Chromium.

Each scenario is a tiny app in tests/e2e/apps/ (or an example). `serve("name.py")` starts
it and returns its base URL; the process is stopped when the test ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import free_port, stop_process, wait_until_answers

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).parent / "apps"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


class Server:
    """A `lightchat serve` process."""

    def __init__(self, app: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.process = subprocess.Popen(
            [LIGHTCHAT, "serve", str(app), "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15) -> None:
        wait_until_answers(self.process, f"{self.url}/-/health", timeout)

    def stop(self) -> str:
        """Stop the server; returns what it printed."""
        return stop_process(self.process)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start an app (a file in tests/e2e/apps/, or a path from the repo root).

    Each test keeps its history (and cookie secret) in its own folder, so a server
    restarted within the test finds the chats of the one before.
    """
    servers: list[Server] = []

    def start(app: str, env: dict[str, str] | None = None) -> Server:
        path = APPS / app if (APPS / app).exists() else ROOT / app
        server = Server(path, {"LIGHTCHAT_APP_DIR": str(tmp_path), **(env or {})})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
