"""Editing a sent message and regenerating an answer, in Chromium, with and without
JavaScript: the chat after the message is replaced and `on_message` runs again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    composer,
    open_chat,
    send,
    user_messages,
    wait_for_text,
)


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def answers(page: Page) -> Locator:
    return assistant(page).locator(".lc-content")


def mine(page: Page) -> Locator:
    return user_messages(page).locator(".lc-content")


def edit(message: Locator, text: str) -> None:
    """Open a user message's "Edit", change its text and press "Save and send"."""
    message.get_by_role("button", name="Edit").click()
    box = message.get_by_role("textbox", name="Edit message")
    expect(box).to_be_visible()
    box.fill(text)
    message.get_by_role("button", name="Save and send").click()


def mark_page(page: Page) -> None:
    """Mark the loaded document, so a test can tell it was never reloaded or left."""
    page.evaluate("window.__lcSamePage = true")


def assert_same_page(page: Page) -> None:
    assert page.evaluate("window.__lcSamePage === true"), "the page was reloaded"


def test_editing_a_message_replaces_the_chat_after_it(serve: Serve, page: Page) -> None:
    server = serve("edit_app.py")
    open_chat(page, server.url)
    chat_url = page.url
    send(page, "first")
    expect(answers(page)).to_have_text(["Answer 1 to first"])
    send(page, "second")
    expect(answers(page)).to_have_text(["Answer 1 to first", "Answer 2 to second"])
    first = user_messages(page).first
    first_id = first.get_attribute("id")
    mark_page(page)

    expect(first.get_by_role("textbox", name="Edit message")).to_be_hidden()  # until opened
    first.get_by_role("button", name="Edit").click()
    box = first.get_by_role("textbox", name="Edit message")
    expect(box).to_have_value("first")
    box.fill("changed")
    first.get_by_role("button", name="Save and send").click()

    expect(answers(page)).to_have_text(["Answer 3 to changed"])
    expect(mine(page)).to_have_text(["changed"])
    expect(chat_log(page)).not_to_contain_text("second")
    assert user_messages(page).first.get_attribute("id") == first_id  # the same message
    expect(user_messages(page).first.get_by_role("textbox", name="Edit message")).to_be_hidden()
    assert page.url == chat_url
    assert_same_page(page)

    # The chat goes on from the edited message, and a reload shows the new conversation.
    send(page, "third")
    expect(answers(page)).to_have_text(["Answer 3 to changed", "Answer 4 to third"])
    page.reload()
    expect(mine(page)).to_have_text(["changed", "third"])
    expect(answers(page)).to_have_text(["Answer 3 to changed", "Answer 4 to third"])


def test_editing_while_an_answer_streams_stops_it_first(serve: Serve, page: Page) -> None:
    server = serve("edit_app.py")
    open_chat(page, server.url)
    stop = page.get_by_role("button", name="Stop")
    send(page, "slow answer please")
    expect(assistant(page).first).to_have_attribute("data-streaming", "")
    wait_for_text(page, 'article[data-type="assistant_message"] .lc-content', "word5")
    expect(stop).to_be_visible()

    edit(user_messages(page).first, "quick")

    # on_stop ran before the new answer, and the half-written answer went with the rest.
    expect(answers(page)).to_have_text(["Answer 2 to quick after a stop"])
    expect(mine(page)).to_have_text(["quick"])
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    expect(chat_log(page)).not_to_contain_text("word")
    expect(stop).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    page.reload()
    expect(answers(page)).to_have_text(["Answer 2 to quick after a stop"])
    expect(chat_log(page)).not_to_contain_text("word")
    expect(composer(page)).to_be_editable()


def test_regenerate_answers_the_same_message_again(serve: Serve, page: Page) -> None:
    server = serve("edit_app.py")
    open_chat(page, server.url)
    send(page, "one")
    send(page, "two")
    expect(answers(page)).to_have_text(["Answer 1 to one", "Answer 2 to two"])
    mark_page(page)

    # Only the last answer can be answered again: the chat went on from the first.
    expect(assistant(page).first.get_by_role("button", name="Regenerate")).to_have_count(0)
    assistant(page).nth(1).get_by_role("button", name="Regenerate").click()
    expect(answers(page)).to_have_text(["Answer 1 to one", "Answer 3 to two"])
    expect(mine(page)).to_have_text(["one", "two"])

    # The new answer is the last one now: it can be regenerated in turn.
    assistant(page).nth(1).get_by_role("button", name="Regenerate").click()
    expect(answers(page)).to_have_text(["Answer 1 to one", "Answer 4 to two"])
    expect(mine(page)).to_have_text(["one", "two"])
    assert_same_page(page)
    page.reload()
    expect(answers(page)).to_have_text(["Answer 1 to one", "Answer 4 to two"])
    expect(mine(page)).to_have_text(["one", "two"])
    expect(chat_log(page).get_by_role("button", name="Regenerate")).to_have_count(1)


def post_and_follow(page: Page, button: Locator) -> None:
    """Click a plain form's button; its post redirects (303) back to the chat."""
    chat_url = page.url
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        button.click()
    assert posted.value.status == 303, posted.value.status
    assert posted.value.request.headers.get("hx-request") is None
    page.wait_for_load_state()
    assert page.url == chat_url


def test_editing_and_regenerating_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("edit_app.py")
    page.goto(server.url)
    for text in ("first", "second"):
        composer(page).fill(text)
        post_and_follow(page, page.get_by_role("button", name="Send"))
    assert answers(page).all_inner_texts() == ["Answer 1 to first", "Answer 2 to second"]

    first = user_messages(page).first
    first.get_by_role("button", name="Edit").click()  # a <details>: opens without script
    first.get_by_role("textbox", name="Edit message").fill("changed")
    post_and_follow(page, first.get_by_role("button", name="Save and send"))
    # Checked at once: the post answered once the new answer was complete.
    assert mine(page).all_inner_texts() == ["changed"]
    assert answers(page).all_inner_texts() == ["Answer 3 to changed"]

    post_and_follow(page, assistant(page).first.get_by_role("button", name="Regenerate"))
    assert mine(page).all_inner_texts() == ["changed"]
    assert answers(page).all_inner_texts() == ["Answer 4 to changed"]
