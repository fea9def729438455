"""The keyboard: Escape stops the answer being written, Ctrl+Shift+O (Cmd+Shift+O) opens a
new chat, "?" shows the shortcuts (not while typing), as does "Keyboard shortcuts" in
"More"; after sending, the keyboard is back in the message box."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, composer, open_chat, page_menu, send, send_button

APP = "layout_app.py"
CHAT = re.compile(r"/chat/([0-9a-f]{32})$")


def test_escape_stops_the_answer_and_the_box_keeps_the_keyboard(serve: Serve, page: Page) -> None:
    server = serve(APP)
    open_chat(page, server.url)
    box = composer(page)
    # Sent with the button: the keyboard comes back to the box all the same.
    box.fill("Show me a long word")
    send_button(page).click()
    expect(assistant(page)).to_have_count(1)
    expect(box).to_be_focused()
    expect(box).to_have_value("")

    send(page, "slow")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    expect(box).to_be_focused()
    expect(assistant(page).last).to_contain_text("word3")
    box.press("Escape")
    expect(stop).to_have_count(0)
    expect(send_button(page)).to_be_enabled()
    partial = assistant(page).last.locator(".lc-content").inner_text()
    assert "word399" not in partial, "the answer ran to its end"


def test_escape_closes_what_is_open_before_it_stops(serve: Serve, page: Page) -> None:
    server = serve(APP)
    open_chat(page, server.url)
    send(page, "slow")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    menu = page_menu(page)
    page.keyboard.press("Escape")  # closes the menu; the answer goes on
    expect(menu.locator(".lc-menu-items")).to_be_hidden()
    expect(page.get_by_role("button", name="More")).to_be_focused()
    expect(stop).to_be_visible()
    page.keyboard.press("Escape")  # now it stops
    expect(stop).to_have_count(0)


def test_the_shortcut_opens_a_new_chat(serve: Serve, page: Page) -> None:
    server = serve(APP)
    open_chat(page, server.url)
    first = page.url
    composer(page).press("Control+Shift+O")
    expect(page).not_to_have_url(first)
    expect(page).to_have_url(CHAT)
    second = page.url
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    page.keyboard.press("Meta+Shift+O")  # Cmd on a Mac
    expect(page).not_to_have_url(second)
    expect(page).to_have_url(CHAT)


def test_question_mark_shows_the_shortcuts_but_not_while_typing(serve: Serve, page: Page) -> None:
    server = serve(APP)
    open_chat(page, server.url)
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    box = composer(page)
    box.press("?")
    expect(box).to_have_value("?")  # typed, as any character
    expect(dialog).to_be_hidden()

    box.fill("")
    box.blur()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    for action in ("New line", "Stop the answer", "Open a new chat"):
        expect(dialog).to_contain_text(action)
    expect(dialog.locator("kbd", has_text="Esc")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # From "More" too; "Close" closes it.
    page_menu(page).get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    expect(page.locator("#lc-menu .lc-menu-items")).to_be_hidden()  # the menu closed
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
