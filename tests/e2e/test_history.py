"""History: chats survive a server restart, resume rebuilds state, the sidebar lists them."""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import Serve, send


def _ask(page: Page, text: str) -> None:
    # Before htmx has processed the form, Enter would post it as a plain form.
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    send(page, text)


def _answer_then_restart(serve: Serve, page: Page, app: str, question: str, answer: str) -> Locator:
    """Ask one question, restart the server (same history folder), reopen the chat."""
    server = serve(app)
    page.goto(server.url)
    _ask(page, question)
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator('article[data-type="assistant_message"]')).to_contain_text(answer)
    chat_path = "/chat/" + page.url.split("/chat/", 1)[1]

    server.stop()
    page.goto(serve(app).url + chat_path)  # the fixture keeps the test's history folder
    expect(log.locator('article[data-type="assistant_message"]')).to_contain_text(answer)
    return log


def test_a_chat_survives_a_restart_and_resume_rebuilds_its_state(serve: Serve, page: Page) -> None:
    log = _answer_then_restart(
        serve, page, "history_app.py", "first question", "Question 1: first question"
    )
    expect(log.locator('article[data-type="user_message"]')).to_contain_text("first question")
    history = page.get_by_role("navigation", name="Chat history")
    expect(history.get_by_role("link", name="first question")).to_have_attribute(
        "aria-current", "page"
    )

    _ask(page, "second question")
    expect(log.locator('article[data-type="assistant_message"]').last).to_contain_text(
        "Question 2: first question / second question"
    )


def test_without_on_chat_resume_a_past_chat_is_read_only(serve: Serve, page: Page) -> None:
    _answer_then_restart(serve, page, "no_resume_app.py", "hello there", "Echo: hello there")
    expect(page.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("past chat")


def test_the_sidebar_lists_chats_newest_first_and_opens_them(serve: Serve, page: Page) -> None:
    server = serve("history_app.py")
    for question in ["alpha topic", "beta topic"]:
        page.goto(server.url)
        _ask(page, question)
        expect(page.locator('article[data-type="assistant_message"]')).to_have_count(1)
    page.goto(server.url)
    history = page.get_by_role("navigation", name="Chat history")
    links = history.get_by_role("link")
    expect(links).to_have_text(["New chat", "beta topic", "alpha topic"])
    history.get_by_role("link", name="alpha topic").click()
    expect(page.locator('article[data-type="user_message"]')).to_contain_text("alpha topic")


def test_another_browser_sees_none_of_the_history(
    serve: Serve, page: Page, browser: Browser
) -> None:
    server = serve("history_app.py")
    page.goto(server.url)
    _ask(page, "private matter")
    expect(page.locator('article[data-type="assistant_message"]')).to_have_count(1)
    chat_url = page.url

    other = browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(server.url)
        history = stranger.get_by_role("navigation", name="Chat history")
        expect(history).to_be_visible()
        expect(history.get_by_role("link", name="private matter")).to_have_count(0)
        response = stranger.goto(chat_url)
        assert response is not None
        assert response.status == 404
    finally:
        other.close()
