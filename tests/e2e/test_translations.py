"""The UI in the browser's language: French names in a French browser, Arabic right to left."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.helpers import Serve


def test_a_french_browser_gets_the_french_ui_and_can_chat(serve: Serve, browser: Browser) -> None:
    server = serve("welcome_app.py")
    context = browser.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url)
        expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
        log = page.get_by_role("log", name="Conversation")
        expect(log.locator("article[data-type=assistant_message]")).to_have_count(1)
        send = page.get_by_role("button", name="Envoyer")
        expect(send).to_be_enabled()
        box = page.get_by_role("textbox", name="Message")
        box.fill("Bonjour")
        send.click()
        answers = log.locator("article[data-type=assistant_message]")
        expect(answers).to_have_count(2)
        expect(answers.last).to_contain_text("Echo: Bonjour")
        # The stream renders in the language of the browser that opened it.
        expect(answers.last.get_by_role("button", name="Copier")).to_be_visible()
        expect(page.get_by_role("button", name="Send")).to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


def test_an_arabic_browser_gets_a_right_to_left_ui(serve: Serve, browser: Browser) -> None:
    server = serve("welcome_app.py")
    context = browser.new_context(locale="ar")
    try:
        page = context.new_page()
        page.goto(server.url)
        expect(page.locator("html[dir=rtl]")).to_have_count(1)
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page.get_by_role("button", name="إرسال")).to_be_visible()
        expect(page.get_by_role("textbox", name="الرسالة")).to_be_visible()
    finally:
        context.close()
