"""A step's generation in the browser: a closed "Generation" disclosure inside the llm
step, which opens on a click (or a key) to show the prompt, the settings and the counts as
text; the same after a reload, and with JavaScript off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, composer, open_chat, send


def _generation(page: Page) -> Locator:
    step = chat_log(page).locator('details[data-step-type="llm"]')
    expect(step).to_have_attribute("data-status", "done")
    if step.get_attribute("open") is None:
        step.locator("summary").first.click()
    return step.locator("details.lc-generation")


def _check_opens(page: Page, question: str) -> None:
    generation = _generation(page)
    summary = generation.locator("summary")
    expect(summary).to_have_text("Generation")
    expect(summary).to_be_visible()
    body = generation.locator(".lc-generation-body")
    expect(body).to_be_hidden()  # closed until asked
    summary.click()
    expect(generation).to_have_attribute("open", "")
    expect(body).to_be_visible()
    for text in ["gpt-4o-mini", "1,234", "180 ms", "55.5", "temperature", "0.2", question]:
        expect(body).to_contain_text(text)
    system = body.locator('li[data-role="system"]')
    expect(system).to_contain_text("Answer briefly. <b>not bold</b>")  # markup stays text
    expect(system.locator("b")).to_have_count(0)
    answer = body.locator(".lc-generation-text").last
    expect(answer).to_have_text("Lisbon is in **Portugal**.")  # not rendered as markdown


def test_a_steps_generation_shows_and_opens(serve: Serve, page: Page) -> None:
    server = serve("generation_app.py")
    open_chat(page, server.url)
    send(page, "Where is Lisbon?")
    expect(assistant(page).first).to_contain_text("Lisbon is in Portugal.")
    _check_opens(page, "Where is Lisbon?")  # as streamed in

    page.reload()
    _check_opens(page, "Where is Lisbon?")  # as the page renders it

    # A keyboard user opens it too: the summary is focusable and toggles with Enter.
    generation = _generation(page)
    generation.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(generation).not_to_have_attribute("open", "")


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_without_javascript_the_generation_opens_too(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("generation_app.py")
    page.goto(server.url)
    composer(page).fill("Where is Lisbon?")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send").click()
    assert posted.value.status == 303  # a plain form: the answer is whole when it redirects
    page.wait_for_load_state()
    _check_opens(page, "Where is Lisbon?")
