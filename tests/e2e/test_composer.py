"""The composer: Enter sends, Shift+Enter adds a line, the box empties after sending; and
the Copy button on assistant messages."""

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

# Polls the clipboard until it holds the expected text (or 5 s pass) and returns what it
# holds. wait_for_function cannot do this: it takes the Promise an async predicate returns
# as a truthy value.
READ_CLIPBOARD = """
async (expected) => {
  const deadline = performance.now() + 5000;
  let text = await navigator.clipboard.readText();
  while (text !== expected && performance.now() < deadline) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
    text = await navigator.clipboard.readText();
  }
  return text;
}
"""


def _clipboard_once_it_is(page: Page, expected: str) -> str:
    text: str = page.evaluate(READ_CLIPBOARD, expected)
    return text


@pytest.fixture
def clipboard_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = collect_errors(page)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_enter_sends_and_shift_enter_adds_a_line(serve: Serve, page: Page) -> None:
    server = serve("welcome_app.py")
    open_chat(page, server.url)
    box = composer(page)

    box.press_sequentially("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    expect(user_messages(page)).to_have_count(0)

    box.press("Enter")
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Echo: line one\nline two")
    # One message with both lines: Shift+Enter sent nothing on its own.
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first.locator(".lc-content")).to_have_text("line one\nline two")
    # The line break is kept (to_have_text would pass with a space in its place).
    assert user_messages(page).first.locator(".lc-content").inner_text() == "line one\nline two"
    expect(box).to_have_value("")

    wait_until_idle(page)
    box.press("Enter")  # an empty box sends nothing
    box.fill("again")
    box.press("Enter")
    expect(assistant(page).nth(2).locator(".lc-content")).to_have_text("Echo: again")
    expect(user_messages(page)).to_have_count(2)
    expect(box).to_have_value("")


def test_copy_button_copies_the_message_text(serve: Serve, clipboard_page: Page) -> None:
    page = clipboard_page
    server = serve("welcome_app.py")
    open_chat(page, server.url)
    composer(page).fill("**bold** words")
    composer(page).press("Enter")
    answer = assistant(page).nth(1)
    expect(answer.locator(".lc-content")).to_have_text("Echo: bold words")
    expect(answer.locator("strong")).to_have_text("bold")

    # Every assistant message has one; user messages have none.
    copy_buttons = chat_log(page).get_by_role("button", name="Copy")
    expect(copy_buttons).to_have_count(2)
    expect(assistant(page).get_by_role("button", name="Copy")).to_have_count(2)
    expect(user_messages(page).get_by_role("button", name="Copy")).to_have_count(0)

    page.evaluate("navigator.clipboard.writeText('nothing yet')")
    answer.get_by_role("button", name="Copy").click()
    assert _clipboard_once_it_is(page, "Echo: bold words") == "Echo: bold words"
    assistant(page).first.get_by_role("button", name="Copy").click()
    welcome = "Welcome to the test chat."
    assert _clipboard_once_it_is(page, welcome) == welcome
