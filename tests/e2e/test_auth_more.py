"""Sign-in, more: by a header an authenticating proxy sets, with no login page; and two
users with passwords who never see each other's chats."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.helpers import Serve, assistant, collect_errors, open_chat, send
from tests.helpers import Server

ENV = {"LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "s" * 40}


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts made by a test; closed when it ends."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def _page(browser: Browser, made: list[BrowserContext], **options: object) -> Page:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    made.append(context)
    return context.new_page()


def test_a_proxy_header_signs_in_without_a_login_page(
    serve: Serve, browser: Browser, contexts: list[BrowserContext]
) -> None:
    server = serve("header_auth_app.py", env=ENV)
    page = _page(browser, contexts, extra_http_headers={"X-Forwarded-User": "carol"})
    errors = collect_errors(page)
    open_chat(page, server.url)
    expect(assistant(page).first).to_contain_text("Hello, carol.")
    menu = page.get_by_role("button", name="Carol via proxy")
    expect(menu).to_be_visible()
    menu.click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    menu.click()
    send(page, "through the proxy")
    expect(assistant(page).last).to_contain_text("Echo: through the proxy")
    # A reload is still signed in (the session cookie, or the header again).
    page.reload()
    expect(assistant(page).last).to_contain_text("Echo: through the proxy")
    expect(page.get_by_label("Username")).to_have_count(0)
    assert errors == []

    # Without the header: no chat, and a refusal with no form to fill in.
    stranger = _page(browser, contexts)
    response = stranger.goto(server.url)
    expect(stranger).to_have_url(re.compile(r"/login$"))
    assert response is not None
    assert response.status == 401
    expect(stranger.get_by_role("alert")).to_be_visible()
    expect(stranger.get_by_label("Username")).to_have_count(0)
    expect(stranger.get_by_role("button", name="Sign in")).to_have_count(0)
    expect(stranger.get_by_role("log", name="Conversation")).to_have_count(0)
    # Nor can it open carol's chat.
    stranger.goto(page.url)
    expect(stranger).to_have_url(re.compile(r"/login\?next="))
    expect(stranger.get_by_text("through the proxy")).to_have_count(0)


def _sign_in(page: Page, server: Server, user: str, password: str) -> None:
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)


def test_a_second_user_cannot_see_or_open_the_first_users_chats(
    serve: Serve, browser: Browser, contexts: list[BrowserContext]
) -> None:
    server = serve("two_users_app.py", env=ENV)
    ada = _page(browser, contexts)
    _sign_in(ada, server, "ada", "lovelace")
    send(ada, "ada's secret plan")
    expect(assistant(ada).last).to_contain_text("Answer: ada's secret plan")
    ada_chat = ada.url
    ada.reload()
    history = ada.get_by_role("navigation", name="Chat history")
    expect(history.get_by_role("link", name=re.compile("secret plan"))).to_have_count(1)

    bob = _page(browser, contexts)
    _sign_in(bob, server, "bob", "builder")
    expect(bob.get_by_role("button", name="Bob Builder")).to_be_visible()
    send(bob, "bob's own question")
    expect(assistant(bob).last).to_contain_text("Answer: bob's own question")
    bob.reload()
    bob_history = bob.get_by_role("navigation", name="Chat history")
    expect(bob_history.get_by_role("link", name=re.compile("own question"))).to_have_count(1)
    expect(bob_history.get_by_role("link", name=re.compile("secret plan"))).to_have_count(0)
    expect(bob.get_by_text("secret plan")).to_have_count(0)

    # Ada's chat, opened directly by bob: the 404 page, with nothing of hers on it.
    response = bob.goto(ada_chat)
    assert response is not None
    assert response.status == 404
    expect(bob.get_by_role("alert")).to_be_visible()
    expect(bob.get_by_role("log", name="Conversation")).to_have_count(0)
    expect(bob.get_by_text("secret plan")).to_have_count(0)
    # Its event stream is refused as well.
    assert bob.request.get(f"{ada_chat}/events").status == 404
    # Ada still has it.
    ada.goto(ada_chat)
    expect(assistant(ada).last).to_contain_text("Answer: ada's secret plan")
