"""Browser tests: the real `lightchat serve` on a free port, driven by Debian's Chromium.

Each scenario is a tiny app in tests/e2e/apps/ (or an example). `serve("name.py")` starts
it and returns the server (its base URL: `.url`); the process is stopped when the test ends.
This `serve` replaces, here, the in-process one of tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.helpers import APPS, Serve
from tests.helpers import ROOT, LightchatServe, Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def serve(tmp_path: Path, lightchat_serve: LightchatServe) -> Serve:
    """Start an app (a file in tests/e2e/apps/, or a path from the repo root) with
    ``lightchat serve``; it is stopped when the test ends.

    Each test keeps its history (and cookie secret) in its own folder, so a server
    restarted within the test finds the chats of the one before.
    """

    def start(app: str | Path, env: Mapping[str, str] | None = None) -> Server:
        path = APPS / app if (APPS / app).exists() else ROOT / app
        return lightchat_serve(path, env={"LIGHTCHAT_APP_DIR": str(tmp_path), **(env or {})})

    return start


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
