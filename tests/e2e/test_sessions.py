"""Several chats at once on one server: each sees only its own messages and keeps its own
user_session, and one browser cannot open another's chat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    collect_errors,
    composer,
    open_chat,
    user_messages,
    wait_until_idle,
)

NAMES = ["alpha", "bravo", "charlie"]


@pytest.fixture
def pages(browser: Browser) -> Iterator[list[Page]]:
    """One page in each of three separate browser contexts (three different browsers)."""
    contexts = [browser.new_context() for _ in NAMES]
    pages = [context.new_page() for context in contexts]
    errors = [collect_errors(page) for page in pages]
    yield pages
    for context in contexts:
        context.close()
    assert not any(errors), f"JavaScript errors on the pages: {errors}"


def _send_without_waiting(page: Page, text: str) -> None:
    """Send, without waiting for the message to show (so that the chats' runs overlap)."""
    wait_until_idle(page)
    composer(page).fill(text)
    composer(page).press("Enter")


def test_chats_side_by_side_do_not_mix(serve: Serve, pages: list[Page]) -> None:
    server = serve("sessions_app.py")
    for page in pages:
        open_chat(page, server.url)
    chat_urls = {page.url for page in pages}
    assert len(chat_urls) == len(pages)

    for round_ in (1, 2):
        # All chats send before any answer is waited for, so their runs overlap.
        for page, name in zip(pages, NAMES, strict=True):
            _send_without_waiting(page, f"{name}-{round_}")
        for page, name in zip(pages, NAMES, strict=True):
            expect(assistant(page).nth(round_ - 1).locator(".lc-content")).to_have_text(
                f"{name}-{round_} message number {round_}"  # the chat's own counter
            )

    for page, name in zip(pages, NAMES, strict=True):
        expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
        expect(user_messages(page).locator(".lc-content")).to_have_text([f"{name}-1", f"{name}-2"])
        expect(assistant(page)).to_have_count(2)
        text = chat_log(page).inner_text()
        for other in NAMES:
            if other != name:
                assert other not in text, f"{other}'s messages showed in {name}'s chat"


def test_a_browser_cannot_open_another_browsers_chat(serve: Serve, pages: list[Page]) -> None:
    server = serve("sessions_app.py")
    owner, stranger = pages[0], pages[1]
    open_chat(owner, server.url)
    open_chat(stranger, server.url)  # the stranger has a browser id (cookie) of its own

    response = stranger.goto(owner.url)
    assert response is not None
    assert response.status == 404
    expect(stranger.get_by_role("log", name="Conversation")).to_have_count(0)

    # With the stranger's own form token (from the page it got), so only ownership refuses.
    token = stranger.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    api = stranger.context.request
    posted = api.post(f"{owner.url}/messages", form={"content": "intruder", "csrf_token": token})
    assert posted.status == 404
    events = api.get(f"{owner.url}/events", timeout=5000)
    assert events.status == 404
    stopped = api.post(f"{owner.url}/stop", headers={"X-CSRF-Token": token})
    assert stopped.status == 404

    # The owner's chat is untouched and still works.
    _send_without_waiting(owner, "mine")
    expect(assistant(owner).first.locator(".lc-content")).to_have_text("mine message number 1")
    expect(user_messages(owner)).to_have_count(1)
    assert "intruder" not in chat_log(owner).inner_text()
