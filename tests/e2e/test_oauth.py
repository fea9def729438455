"""OAuth sign-in in a browser, with a real OpenID Connect provider (oidc-provider on
Node.js): "Continue with Test ID", the provider's login and consent pages, and back in the
chat, signed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, send, wait_until_idle
from tests.helpers import Server, free_port
from tests.oidc_provider import running_provider

SECRET = {"LIGHTCHAT_AUTH_SECRET": "e2e-oauth-secret-" + "s" * 40}


@pytest.fixture
def oauth_server(serve: Serve, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start the app, then the provider that knows its redirect URI."""
    with ExitStack() as stack:

        def start() -> Server:
            port = free_port()
            discovery = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
            env = {
                **SECRET,
                "OAUTH_GENERIC_CLIENT_ID": "lightchat-tests",
                "OAUTH_GENERIC_CLIENT_SECRET": "tests-client-secret-" + "c" * 24,
                "OAUTH_GENERIC_DISCOVERY_URL": discovery,
                "OAUTH_GENERIC_NAME": "Test ID",
            }
            server = serve("oauth_app.py", env=env)
            callback = f"{server.url}/auth/oauth/generic/callback"
            stack.enter_context(
                running_provider([callback], port=port, log=tmp_path / "provider.log")
            )
            return server

        yield start


def _at_provider(page: Page, login: str) -> None:
    page.get_by_placeholder("Enter any login").fill(login)
    page.get_by_placeholder("and password").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_continue_with_a_provider_signs_in(oauth_server: Callable[[], Server], page: Page) -> None:
    server = oauth_server()
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_label("Password")).to_have_count(0)
    page.get_by_role("link", name="Continue with Test ID").click()
    _at_provider(page, "ada")

    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    expect(assistant(page).first).to_contain_text("Welcome, Ada Lovelace (ada@example.com).")
    menu = page.get_by_role("button", name="Ada Lovelace")
    expect(menu).to_be_visible()
    send(page, "hello there")
    expect(assistant(page).last).to_contain_text("Echo: hello there")
    wait_until_idle(page)

    menu.click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("link", name="Continue with Test ID")).to_be_visible()


def test_a_refused_account_sees_an_alert(oauth_server: Callable[[], Server], page: Page) -> None:
    server = oauth_server()
    page.goto(f"{server.url}/login")
    page.get_by_role("link", name="Continue with Test ID").click()
    _at_provider(page, "bob")
    expect(page.get_by_role("alert")).to_have_text("This account may not sign in to this app.")
    expect(page.get_by_role("button", name="Bob Refused")).to_have_count(0)
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/login$"))
