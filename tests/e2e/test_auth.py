"""Sign-in in a browser: the login form, the user menu, chatting, signing out; with and
without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Serve, assistant, send, wait_until_idle
from tests.helpers import Server

ENV = {"LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "s" * 40}


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, server: Server, password: str = "lovelace") -> None:
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_chat_and_sign_out(serve: Serve, page: Page) -> None:
    server = serve("auth_app.py", env=ENV)
    _sign_in(page, server)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    expect(assistant(page).first).to_contain_text("Welcome, Ada Lovelace.")

    menu = page.get_by_role("button", name="Ada Lovelace")
    expect(menu).to_be_visible()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    menu.click()
    expect(sign_out).to_be_visible()
    menu.click()
    expect(sign_out).to_be_hidden()

    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    send(page, "hello there")
    expect(assistant(page).last).to_contain_text("Echo: hello there")
    wait_until_idle(page)
    chat_url = page.url

    menu.click()
    sign_out.click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # Signed out: the chat's page sends the browser back to the login page.
    page.goto(chat_url)
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fchat%2F[0-9a-f]{32}$"))
    # Signing in again comes back to that chat, and its history.
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(chat_url)
    expect(assistant(page).last).to_contain_text("Echo: hello there")


def test_a_wrong_password_shows_an_alert(serve: Serve, page: Page) -> None:
    server = serve("auth_app.py", env=ENV)
    _sign_in(page, server, password="wrong")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("Username")).to_have_value("ada")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Ada Lovelace")).to_have_count(0)


def test_sign_in_and_out_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("auth_app.py", env=ENV)
    _sign_in(page, server, password="wrong")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    expect(assistant(page).first).to_contain_text("Welcome, Ada Lovelace.")
    page.get_by_role("button", name="Ada Lovelace").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
