"""With JavaScript off, the composer is a plain form: the post waits for the whole answer
and redirects (303) to the chat page, which shows it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, composer, user_messages


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_plain_form_post_runs_the_turn_and_redirects_to_the_answer(
    serve: Serve, no_js_page: Page
) -> None:
    page = no_js_page
    server = serve("streaming_app.py")
    page.goto(server.url)
    chat_url = page.url
    assert re.fullmatch(re.escape(server.url) + r"/chat/[0-9a-f]+", chat_url), chat_url

    composer(page).fill("show me")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send").click()
    response = posted.value
    assert response.status == 303
    assert response.headers["location"] in (chat_url, chat_url.removeprefix(server.url))
    assert response.request.headers.get("hx-request") is None  # a plain form, not htmx
    page.wait_for_load_state()
    assert page.url == chat_url

    # Checked at once, not waited for: without JavaScript a page that came too early would
    # refresh itself until the answer is complete, and a waiting assertion would pass.
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert chat_log(page).locator("article[data-streaming]").count() == 0
    assert user_messages(page).locator(".lc-content").all_inner_texts() == ["show me"]
    answer = assistant(page).first
    assert "Done streaming." in answer.locator(".lc-content").inner_text()
    assert answer.locator("h2").inner_text() == "Results"
    assert answer.locator("table td").first.inner_text() == "alpha"
    assert answer.locator("pre code span.k").first.inner_text() == "def"
    assert page.get_by_role("button", name="Stop").count() == 0
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
