"""How a chat begins: keys the app asks each user for first (`user_env`), and a link that
fills in the first message (`/?prompt=...`)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, composer, send, user_messages, wait_until_idle

KEY = "sk-test-0123456789"  # 18 characters
USER_ENV = {"LIGHTCHAT_USER_ENV": "API_KEY"}


def answers(page: Page) -> list[str]:
    return assistant(page).locator(".lc-content").all_inner_texts()


def give_key(page: Page, key: str = KEY) -> None:
    """On the "Before you start" page: type the key and save it."""
    expect(page).to_have_url(re.compile(r"/env(\?.*)?$"))
    field = page.get_by_label("API_KEY")
    expect(field).to_have_attribute("type", "password")
    field.fill(key)
    page.get_by_role("button", name="Save").click()


def test_user_env_is_asked_first_and_reaches_the_chat(serve: Serve, page: Page) -> None:
    server = serve("user_env_app.py", env=USER_ENV)
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    expect(page.get_by_role("log", name="Conversation")).to_have_count(0)  # no chat yet
    give_key(page)

    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]+$"))
    expect(assistant(page).first.locator(".lc-content")).to_have_text(
        f"Your key has {len(KEY)} characters."
    )
    assert KEY not in page.content()
    send(page, "hi")
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Echo: hi")

    # Asked once per browser: a new chat starts at once, with the same key.
    page.get_by_role("link", name="New chat").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]+$"))
    expect(assistant(page).first.locator(".lc-content")).to_have_text(
        f"Your key has {len(KEY)} characters."
    )

    # Another browser has to give its own.
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    stranger = other.new_page()
    stranger.goto(server.url)
    give_key(stranger, "short")
    expect(assistant(stranger).first.locator(".lc-content")).to_have_text(
        "Your key has 5 characters."
    )
    other.close()


def test_user_env_keeps_the_prompt_of_the_link(serve: Serve, page: Page) -> None:
    server = serve("user_env_app.py", env=USER_ENV)
    page.goto(f"{server.url}/?prompt=Hello%20there")
    give_key(page)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]+\?prompt=Hello(\+|%20)there$"))
    expect(composer(page)).to_have_value("Hello there")


def test_prompt_fills_the_composer_of_a_new_chat(serve: Serve, page: Page) -> None:
    server = serve("edit_app.py")
    page.goto(f"{server.url}/?prompt=Hello%20there")
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]+\?prompt=Hello(\+|%20)there$"))
    box = composer(page)
    expect(box).to_have_value("Hello there")
    expect(box).to_be_focused()
    assert user_messages(page).count() == 0  # filled in, not sent

    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    wait_until_idle(page)
    box.press("Enter")
    expect(user_messages(page).locator(".lc-content")).to_have_text(["Hello there"])
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Answer 1 to Hello there")
    # Sent once: the box is empty and stays so after a reload (the link's prompt is gone).
    expect(box).to_have_value("")
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]+$"))
    page.reload()
    expect(assistant(page)).to_have_count(1)
    expect(composer(page)).to_have_value("")
