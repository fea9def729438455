"""Starters, chat profiles and chat settings in a real browser, with and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    open_chat,
    send,
    user_messages,
    wait_until_idle,
)


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def last_answer(page: Page) -> str:
    return assistant(page).last.locator(".lc-content").inner_text()


# -- starters -----------------------------------------------------------------------------


def test_a_starter_sends_its_message_and_the_starters_go(serve: Serve, page: Page) -> None:
    server = serve("starters_app.py")
    open_chat(page, server.url)
    poem = page.get_by_role("button", name="Write a poem")
    expect(poem).to_be_visible()
    expect(page.get_by_role("button", name="Plan a trip")).to_be_visible()

    poem.click()
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).locator(".lc-content")).to_have_text("Write a poem about the sea.")
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "Echo: Write a poem about the sea."
    )
    # The first message took the starters away, live and for good.
    expect(page.locator("#lc-start")).to_have_count(0)
    expect(page.get_by_role("button", name="Plan a trip")).to_have_count(0)
    page.reload()
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "Echo: Write a poem about the sea."
    )
    expect(page.get_by_role("button", name="Plan a trip")).to_have_count(0)


def test_a_starter_category_shows_its_starters(serve: Serve, page: Page) -> None:
    server = serve("starters_app.py")
    open_chat(page, server.url)
    bread = page.get_by_role("button", name="Bake bread")
    expect(bread).to_be_hidden()
    page.locator("summary", has_text="Cooking").click()
    expect(bread).to_be_visible()
    page.locator("summary", has_text="Cooking").click()
    expect(bread).to_be_hidden()
    page.locator("summary", has_text="Cooking").click()
    bread.click()
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Echo: How do I bake bread?")
    expect(page.locator("summary", has_text="Cooking")).to_have_count(0)


def test_typing_a_message_takes_the_starters_away_too(serve: Serve, page: Page) -> None:
    server = serve("starters_app.py")
    open_chat(page, server.url)
    send(page, "my own question")
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Echo: my own question")
    expect(page.get_by_role("button", name="Write a poem")).to_have_count(0)


def test_a_starter_without_javascript_posts_and_shows_the_answer(
    serve: Serve, no_js_page: Page
) -> None:
    page = no_js_page
    server = serve("starters_app.py")
    page.goto(server.url)
    chat_url = page.url
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Plan a trip").click()
    assert posted.value.status == 303
    assert posted.value.request.headers.get("hx-request") is None
    page.wait_for_load_state()
    assert page.url == chat_url
    assert user_messages(page).locator(".lc-content").all_inner_texts() == [
        "Plan a weekend in Lisbon."
    ]
    assert last_answer(page) == "Echo: Plan a weekend in Lisbon."
    assert page.get_by_role("button", name="Write a poem").count() == 0


# -- chat profiles ------------------------------------------------------------------------


def test_switching_profile_starts_a_new_chat_with_it(serve: Serve, page: Page) -> None:
    server = serve("profiles_app.py")
    open_chat(page, server.url)
    first_chat = page.url
    picker = page.get_by_role("combobox", name="Chat profile")
    expect(picker).to_have_value("Quick")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Profile: Quick")
    expect(page.locator(".lc-profile-description")).to_have_text("Short answers.")
    expect(page.locator(".lc-profile-description strong")).to_have_text("answers")
    expect(page.get_by_role("button", name="Explain tides")).to_have_count(0)

    picker.select_option("Thorough")
    expect(page).not_to_have_url(first_chat)
    expect(page).to_have_url(re.compile(re.escape(server.url) + r"/chat/[0-9a-f]+$"))
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    expect(page.get_by_role("combobox", name="Chat profile")).to_have_value("Thorough")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Profile: Thorough")
    expect(page.locator(".lc-profile-description em")).to_have_text("careful")
    # The profile's starters replace the app's (it has none of its own here).
    page.get_by_role("button", name="Explain tides").click()
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "Thorough says: Explain the tides."
    )


def test_switching_profile_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("profiles_app.py")
    page.goto(server.url)
    first_chat = page.url
    page.get_by_role("combobox", name="Chat profile").select_option("Thorough")
    page.get_by_role("button", name="Start").click()
    page.wait_for_load_state()
    assert page.url != first_chat
    assert page.get_by_role("combobox", name="Chat profile").input_value() == "Thorough"
    # The page reloads itself until on_chat_start is done.
    expect(chat_log(page)).to_contain_text("Profile: Thorough")


# -- chat settings --------------------------------------------------------------------------


def test_settings_dialog_confirm_sends_the_new_values(serve: Serve, page: Page) -> None:
    server = serve("settings_app.py")
    open_chat(page, server.url)
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Ready.")
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Model")).to_have_value("small")
    expect(dialog.get_by_role("switch", name="Stream")).to_be_checked()

    dialog.get_by_label("Model").select_option("large")
    slider = dialog.get_by_label("Temperature")
    expect(slider).to_have_value("0.5")
    slider.focus()
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    expect(slider).to_have_value("0.7")
    expect(dialog.locator("output")).to_have_text("0.7")
    dialog.get_by_role("button", name="Confirm").click()

    expect(dialog).to_have_count(0)
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        'Settings: {"model": "large", "stream": true, "temperature": 0.7}'
    )
    # The chat goes on with them.
    send(page, "hello")
    expect(assistant(page).last.locator(".lc-content")).to_have_text("large: hello")
    # Opened again, the form shows the values in force.
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("dialog", name="Settings").get_by_label("Model")).to_have_value("large")


def test_cancel_closes_the_settings_without_a_change(serve: Serve, page: Page) -> None:
    server = serve("settings_app.py")
    open_chat(page, server.url)
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Ready.")
    answers = assistant(page).count()
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    dialog.get_by_label("Model").select_option("large")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)

    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("dialog", name="Settings").get_by_label("Model")).to_have_value("small")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Settings")).to_have_count(0)
    send(page, "hi")
    expect(assistant(page).last.locator(".lc-content")).to_have_text("small: hi")
    assert assistant(page).count() == answers + 1  # no settings update ran


def test_the_settings_button_arrives_when_on_chat_start_sends_settings_later(
    serve: Serve, page: Page
) -> None:
    server = serve("settings_live_app.py")
    open_chat(page, server.url)
    expect(assistant(page).first.locator(".lc-content")).to_have_text(
        "Type anything to get settings."
    )
    expect(page.get_by_role("button", name="Settings")).to_have_count(0)
    send(page, "go")
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Settings are ready.")
    page.get_by_role("button", name="Settings").click()
    expect(
        page.get_by_role("dialog", name="Settings").get_by_role("switch", name="Stream")
    ).not_to_be_checked()


def test_settings_page_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("settings_app.py")
    page.goto(server.url)
    chat_url = page.url
    # The page reloads itself until on_chat_start is done.
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Ready.")

    page.get_by_role("button", name="Settings").click()
    page.wait_for_load_state()
    assert page.url.removesuffix("?") == f"{chat_url}/settings"
    # Cancel is a link back to the chat.
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_load_state()
    assert page.url == chat_url

    page.get_by_role("button", name="Settings").click()
    page.wait_for_load_state()
    dialog = page.get_by_role("dialog", name="Settings")
    dialog.get_by_label("Model").select_option("large")
    slider = dialog.get_by_label("Temperature")
    slider.focus()
    slider.press("ArrowLeft")
    assert slider.input_value() == "0.4"
    dialog.get_by_role("switch", name="Stream").uncheck()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Confirm").click()
    assert posted.value.status == 303
    page.wait_for_load_state()
    assert page.url == chat_url
    assert last_answer(page) == 'Settings: {"model": "large", "stream": false, "temperature": 0.4}'
    wait_until_idle(page)
