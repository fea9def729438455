"""Actions and questions without JavaScript: each is a plain form whose post waits for
the callback and redirects (303) back to the chat, which shows the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import Serve, assistant, composer, user_messages


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def post_and_follow(page: Page, button: Locator) -> None:
    """Click a form's button; the post answers with a redirect to the chat page."""
    chat_url = page.url
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        button.click()
    response = posted.value
    assert response.status == 303, response.status
    assert response.request.headers.get("hx-request") is None  # a plain form, not htmx
    page.wait_for_load_state()
    assert page.url == chat_url


def send(page: Page, text: str) -> None:
    composer(page).fill(text)
    post_and_follow(page, page.get_by_role("button", name="Send"))


def test_an_action_is_a_form(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("actions_app.py")
    page.goto(server.url)
    question = assistant(page).first
    expect(question.locator(".lc-content")).to_have_text("Pick one")
    post_and_follow(page, question.get_by_role("button", name="Two"))
    # Checked at once: the page came after the callback had finished.
    assert assistant(page).nth(1).locator(".lc-content").inner_text() == "You picked 2"
    assert question.get_by_role("button", name="Two").count() == 0
    assert question.get_by_role("button", name="One").count() == 1


def test_questions_are_answered_with_forms(serve: Serve, no_js_page: Page, tmp_path: Path) -> None:
    page = no_js_page
    server = serve("ask_app.py")
    page.goto(server.url)
    expect(assistant(page).first.locator(".lc-content")).to_have_text("What is your name?")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # waiting for the user

    # AskUserMessage: answered with the composer.
    send(page, "Ada")
    assert assistant(page).nth(1).locator(".lc-content").inner_text() == "Hello Ada"

    # AskActionMessage: a click on one of its buttons.
    send(page, "action")
    question = assistant(page).nth(2)
    assert question.locator(".lc-content").inner_text() == "Shall we go on?"
    post_and_follow(page, question.get_by_role("button", name="Yes", exact=True))
    assert assistant(page).nth(3).locator(".lc-content").inner_text() == "Chosen: yes"
    assert question.get_by_role("button", name="Yes", exact=True).count() == 0

    # AskFileMessage: an upload form in the question.
    send(page, "file")
    question = assistant(page).nth(4)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"no script")
    question.get_by_label("Upload a text file").set_input_files(notes)
    post_and_follow(page, question.get_by_role("button", name="Upload", exact=True))
    assert assistant(page).nth(5).locator(".lc-content").inner_text() == "Got notes.txt (9 bytes)"
    assert question.get_by_role("button", name="Upload", exact=True).count() == 0
    assert user_messages(page).last.get_by_role("link", name="notes.txt").count() == 1


def test_the_composer_posts_attached_files(serve: Serve, no_js_page: Page, tmp_path: Path) -> None:
    page = no_js_page
    server = serve("elements_app.py")
    page.goto(server.url)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"plain form\n")
    page.get_by_label("Attach files").set_input_files(notes)
    post_and_follow(page, page.get_by_role("button", name="Send"))
    mine = user_messages(page).first
    assert mine.get_by_role("link", name="notes.txt").get_attribute("download") == "notes.txt"
    answer = assistant(page).first.locator(".lc-content").inner_text()
    assert answer == "Received notes.txt: 11 bytes, text/plain"
