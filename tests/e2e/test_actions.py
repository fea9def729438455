"""Actions: a click runs the action's callback, which can take the button away; a click
while an answer is still streaming waits its turn and runs after it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send, wait_for_text


def test_a_click_runs_the_callback_and_remove_takes_the_button_away(
    serve: Serve, page: Page
) -> None:
    server = serve("actions_app.py")
    open_chat(page, server.url)
    question = assistant(page).first
    expect(question.locator(".lc-content")).to_have_text("Pick one")
    one = question.get_by_role("button", name="One")
    two = question.get_by_role("button", name="Two")
    expect(one).to_have_attribute("data-action-name", "pick")
    expect(one).to_have_attribute("title", "The first")

    two.click()
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("You picked 2")
    expect(two).to_have_count(0)  # action.remove()
    expect(one).to_be_visible()  # the others stay
    expect(question.get_by_role("button", name="Later")).to_be_visible()

    one.click()
    expect(assistant(page).nth(2).locator(".lc-content")).to_have_text("You picked 1")
    expect(one).to_have_count(0)
    page.reload()  # the removals are part of the chat, not only of this page
    expect(assistant(page)).to_have_count(3)
    question = assistant(page).first
    expect(question.locator("[data-action-name]")).to_have_count(1)
    # Named by its label only: the icon is not part of the name.
    expect(question.get_by_role("button", name="Later", exact=True)).to_be_visible()


def test_a_click_during_a_run_runs_after_it(serve: Serve, page: Page) -> None:
    server = serve("actions_app.py")
    open_chat(page, server.url)
    later = assistant(page).first.get_by_role("button", name="Later")

    send(page, "go")
    streaming = assistant(page).nth(1)
    wait_for_text(page, f"#{streaming.get_attribute('id')}", "word3 ")
    later.click()
    # The click is taken at once, and waits: the answer goes on streaming to its end.
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(streaming).to_have_attribute("data-streaming", "")
    ran = assistant(page).nth(2)
    expect(ran.locator(".lc-content")).to_have_text(
        "Later ran; the answer was finished: True", timeout=10_000
    )
    assert "word59" in streaming.locator(".lc-content").inner_text()
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    expect(later).to_be_visible()  # this callback keeps its button
