"""Favourite messages in a browser (``features.favorites``): star a message of one's own,
find it under the composer's "Favorites", choose it, and it is in the message box; unstar
it; and without JavaScript, the same with forms and a page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Serve, assistant, composer, send, user_messages, wait_until_idle
from tests.helpers import Server

ENV = {"LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "f" * 40, "LIGHTCHAT_FAVORITES": "1"}


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, server: Server) -> None:
    page.goto(server.url)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))


def test_star_a_message_choose_it_from_favorites_and_unstar_it(serve: Serve, page: Page) -> None:
    server = serve("favorites_app.py", env=ENV)
    _sign_in(page, server)
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    send(page, "Plan a trip to <Oslo>")
    expect(assistant(page).last).to_contain_text("Echo: Plan a trip to <Oslo>")
    wait_until_idle(page)

    question = user_messages(page).last
    star = question.get_by_role("button", name="Add to favorites")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    starred = question.get_by_role("button", name="Remove from favorites")
    expect(starred).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Favorites", exact=True).click()
    dialog = page.get_by_role("dialog", name="Favorites")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Choose one to put it in the message box.")
    dialog.get_by_role("button", name="Plan a trip to <Oslo>").click()
    expect(dialog).to_have_count(0)
    expect(composer(page)).to_have_value("Plan a trip to <Oslo>")
    expect(composer(page)).to_be_focused()
    expect(user_messages(page)).to_have_count(1)  # put in the box, not sent

    starred.click()
    expect(question.get_by_role("button", name="Add to favorites")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.get_by_role("button", name="Favorites", exact=True).click()
    expect(page.get_by_role("dialog", name="Favorites")).to_contain_text("No favorites yet")


def test_favorites_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("favorites_app.py", env=ENV)
    _sign_in(page, server)
    chat = page.url
    page.get_by_label("Message").fill("Weekly summary")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#lc-log")).to_contain_text("Echo: Weekly summary")

    user_messages(page).last.get_by_role("button", name="Add to favorites").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}#msg-[0-9a-f]+$"))
    expect(
        user_messages(page).last.get_by_role("button", name="Remove from favorites")
    ).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Favorites", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"{chat}/favorites") + r"\??$"))
    expect(page.get_by_text("Choose one to send it again.")).to_be_visible()
    page.get_by_role("button", name="Weekly summary").click()  # sends it
    expect(page).to_have_url(chat)
    expect(user_messages(page)).to_have_count(2)
    expect(assistant(page)).to_have_count(2)
