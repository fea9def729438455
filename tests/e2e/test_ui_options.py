"""Chainlit's UI options in the browser: the history sidebar closed at first and its
"History" toggle, "New chat" asking first (a dialog, and a page without JavaScript), a
header link, the UI in the language the app forces, and Lucide icons by name on a command
and a starter."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import Serve
from tests.helpers import Server

OPTIONS = {
    "LIGHTCHAT_DEFAULT_SIDEBAR_STATE": "closed",
    "LIGHTCHAT_CONFIRM_NEW_CHAT": "true",
    "LIGHTCHAT_LANGUAGE": "fr-FR",
    "LIGHTCHAT_HEADER_LINKS": json.dumps(
        [{"name": "Docs", "display_name": "Documentation", "url": "https://docs.example/"}]
    ),
}
CHAT_URL = re.compile(r"/chat/([0-9a-f]{32})$")


def drawn(icon: Locator) -> None:
    """The icon is on screen, with a size (not an empty or collapsed element)."""
    expect(icon).to_be_visible()
    box = icon.bounding_box()
    assert box is not None
    assert box["width"] >= 8
    assert box["height"] >= 8


def open_chat(page: Page, server: Server) -> str:
    page.goto(server.url)
    expect(page).to_have_url(CHAT_URL)
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    return page.url


def test_ui_options_and_lucide_icons(serve: Serve, page: Page) -> None:
    server = serve("ui_options_app.py", env=OPTIONS)
    first = open_chat(page, server)  # the browser asks for English (Playwright's default)

    # French, as the app says.
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("button", name="Envoyer")).to_be_visible()

    # The app's header link.
    docs = page.get_by_role("link", name="Documentation")
    expect(docs).to_have_attribute("href", "https://docs.example/")
    expect(docs).to_have_attribute("target", "_blank")

    # The history sidebar starts closed; "History" shows and hides it.
    sidebar = page.get_by_role("navigation", name="Historique des discussions")
    expect(sidebar).to_be_hidden()
    toggle = page.get_by_role("button", name="Historique")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page).to_have_url(first)  # shown here, not the history page
    toggle.press(" ")
    expect(sidebar).to_be_hidden()

    # Lucide icons by name, drawn beside their labels.
    drawn(page.get_by_role("button", name="Picture").locator("svg.lucide-image"))
    drawn(page.get_by_role("button", name="Draw a cat").locator("svg.lucide-image"))

    # "New chat" asks first: Cancel stays, Confirm starts another chat.
    new_chat = page.get_by_role("link", name="Nouvelle discussion")
    new_chat.click()
    question = page.get_by_role("dialog", name="Commencer une nouvelle discussion ?")
    expect(question).to_be_visible()
    question.get_by_role("link", name="Annuler").click()
    expect(question).to_have_count(0)
    expect(page).to_have_url(first)
    new_chat.click()
    page.get_by_role("dialog").get_by_role("link", name="Confirmer").click()
    expect(page).to_have_url(CHAT_URL)
    assert page.url != first


def test_new_chat_asks_on_a_page_without_javascript(serve: Serve, browser: Browser) -> None:
    server = serve("ui_options_app.py", env=OPTIONS)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url)
        expect(page).to_have_url(CHAT_URL)
        first = page.url
        page.get_by_role("link", name="Nouvelle discussion").click()
        expect(page).to_have_url(re.compile(r"/new-chat\?chat=[0-9a-f]{32}$"))
        expect(
            page.get_by_role("heading", name="Commencer une nouvelle discussion ?")
        ).to_be_visible()
        page.get_by_role("link", name="Confirmer").click()
        expect(page).to_have_url(CHAT_URL)
        assert page.url != first
        # Without JavaScript "History" is a link to the history page.
        page.get_by_role("link", name="Historique").click()
        expect(page).to_have_url(re.compile(r"/history\?chat="))
    finally:
        context.close()


def test_chat_settings_in_the_header_open_by_themselves(serve: Serve, page: Page) -> None:
    env = {
        "LIGHTCHAT_CHAT_SETTINGS_LOCATION": "sidebar",
        "LIGHTCHAT_DEFAULT_CHAT_SETTINGS_OPEN": "true",
    }
    server = serve("settings_app.py", env=env)
    page.goto(server.url)
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog).to_be_visible()  # once the stream brings the settings, unasked
    expect(dialog.get_by_label("Model")).to_have_value("small")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    settings = page.locator("header").get_by_role("button", name="Settings")
    settings.click()  # still opens on a click
    expect(page.get_by_role("dialog", name="Settings")).to_be_visible()
