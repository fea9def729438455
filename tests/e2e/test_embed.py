"""The FastAPI example (examples/12_fastapi) served by uvicorn: the chat mounted at /chat,
its users the host's, and the host's own page embedding it under its own strict CSP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.helpers import free_port, stop_process, wait_until_answers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "12_fastapi"


class Host:
    """``uvicorn main:host`` in the example's folder, its history in a test folder."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LIGHTCHAT_APP_DIR": str(folder), "HOST_SECRET": "e2e-" + "x" * 32}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:host", "--port", str(self.port)],
            cwd=EXAMPLE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until_answers(self.process, f"{self.url}/chat/-/health", name="uvicorn")

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    server = Host(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def csp_errors(page: Page) -> list[str]:
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", note)
    return found


def sign_in(page: Page, host: Host, name: str) -> None:
    page.goto(f"{host.url}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Acme intranet")).to_be_visible()


def test_the_mounted_chat_works_end_to_end(page: Page, host: Host) -> None:
    page.goto(f"{host.url}/chat/")
    expect(page.get_by_text("You are not signed in")).to_be_visible()  # no host user
    sign_in(page, host, "ann")
    page.goto(f"{host.url}/chat/")
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator("article").first).to_contain_text("Hello!")
    page.get_by_label("Message").fill("mounted at a prefix")
    page.get_by_role("button", name="Send").click()
    answer = log.locator('article[data-type="assistant_message"]').last
    expect(answer).to_contain_text("You said: mounted at a prefix")
    assert page.url.startswith(f"{host.url}/chat/chat/")
    chat_url = page.url

    page.reload()
    expect(answer).to_contain_text("You said: mounted at a prefix")
    history = page.get_by_role("navigation", name="Chat history")
    link = history.get_by_role("link").first
    expect(link).to_be_visible()
    page.get_by_role("link", name="New chat").first.click()
    expect(page).not_to_have_url(chat_url)
    history.get_by_role("link", name="mounted at a prefix").click()
    expect(page).to_have_url(chat_url)
    expect(answer).to_contain_text("You said: mounted at a prefix")


def test_the_host_page_embeds_the_chat(page: Page, host: Host, csp_errors: list[str]) -> None:
    sign_in(page, host, "bob")
    region = page.get_by_role("region", name="Assistant")
    log = region.get_by_role("log", name="Conversation")
    expect(log.locator("article").first).to_contain_text("Hello!")
    region.get_by_label("Message").fill("from the host page")
    region.get_by_role("button", name="Send").click()
    expect(log.locator('article[data-type="assistant_message"]').last).to_contain_text(
        "You said: from the host page"
    )
    assert page.url == f"{host.url}/"  # the answer streamed into the host's own page
    assert not csp_errors
    # The chat is bob's: it is in his history on the full chat page.
    # The history is written in batches, off the answer's path: under load the page may
    # come before the write, and the next load shows it.
    link = page.get_by_role("link", name="from the host page")
    for _ in range(20):
        page.goto(f"{host.url}/chat/history")
        if link.count():
            break
    expect(link).to_be_visible()
