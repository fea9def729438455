"""Sharing a chat in a browser: the owner shares it and copies its link, another user
opens the link in a browser of their own and reads the chat (no composer), then the owner
stops sharing and the link is a 404 for them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    collect_errors,
    open_chat,
    page_menu,
    send,
)
from tests.helpers import Server

ENV = {
    "LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "s" * 40,
    "LIGHTCHAT_ALLOW_THREAD_SHARING": "true",
}


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts made by a test; closed when it ends."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def _signed_in(
    browser: Browser, made: list[BrowserContext], server: Server, name: str, password: str
) -> Page:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    made.append(context)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    return page


def test_share_a_chat_read_it_as_another_user_then_stop_sharing(
    serve: Serve, browser: Browser, contexts: list[BrowserContext]
) -> None:
    server = serve("share_app.py", env=ENV)
    ada = _signed_in(browser, contexts, server, "ada", "lovelace")
    ada_errors = collect_errors(ada)
    open_chat(ada, server.url)
    send(ada, "tides of Lisbon")
    expect(assistant(ada).last).to_contain_text("Answer: tides of Lisbon")

    page_menu(ada).get_by_role("button", name="Share").click()
    dialog = ada.get_by_role("dialog", name="Share this chat")
    expect(dialog).to_be_visible()
    link = dialog.get_by_role("link")
    expect(link).to_have_text(re.compile(r"^http://127\.0\.0\.1:\d+/share/[0-9a-f]{32}$"))
    url = link.inner_text()
    copy = dialog.get_by_role("button", name="Copy link")
    expect(copy).to_be_visible()  # shown by the page's script
    copy.click()
    expect(copy).to_have_attribute("data-copied", "")
    assert ada.evaluate("navigator.clipboard.readText()") == url
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    bob = _signed_in(browser, contexts, server, "bob", "builder")
    bob_errors = collect_errors(bob)
    response = bob.goto(url)
    assert response is not None
    assert response.status == 200
    expect(assistant(bob)).to_have_count(1)
    expect(assistant(bob).first).to_contain_text("Answer: tides of Lisbon")
    expect(chat_log(bob).locator('article[data-type="user_message"]')).to_have_text(
        re.compile("tides of Lisbon")
    )
    expect(chat_log(bob).locator('details[data-step-type="tool"]')).to_contain_text("lookup")
    expect(bob.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(bob.get_by_role("button", name="Send")).to_have_count(0)
    expect(bob.get_by_role("button", name="Helpful")).to_have_count(0)
    expect(bob.get_by_role("button", name="Share")).to_have_count(0)
    expect(bob.get_by_text("A shared chat: it can be read but not continued.")).to_be_visible()

    page_menu(ada).get_by_role("button", name="Share").click()
    dialog = ada.get_by_role("dialog", name="Share this chat")
    dialog.get_by_role("button", name="Stop sharing").click()
    expect(dialog).to_contain_text("This chat is no longer shared")
    expect(dialog.get_by_role("button", name="Create link")).to_be_visible()

    gone = bob.goto(url)
    assert gone is not None
    assert gone.status == 404
    expect(bob.get_by_role("alert")).to_have_text(
        "This shared chat does not exist, or it is not shared with you."
    )
    expect(chat_log(bob)).to_have_count(0)
    assert ada_errors == []
    assert bob_errors == []
