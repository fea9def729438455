"""Stop: ends the run, keeps the partial answer, runs on_stop, and the chat goes on."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send

LONG_WORDS = 500  # as in apps/stop_app.py


def test_stop_ends_the_run_and_keeps_the_partial_answer(serve: Serve, page: Page) -> None:
    server = serve("stop_app.py")
    open_chat(page, server.url)
    stop = page.get_by_role("button", name="Stop")
    send_button = page.get_by_role("button", name="Send")
    expect(stop).to_have_count(0)
    expect(send_button).to_be_enabled()

    send(page, "tell me everything")
    answer = assistant(page).first
    content = answer.locator(".lc-content")
    expect(answer).to_have_attribute("data-streaming", "")
    expect(content).to_contain_text("word5")
    expect(stop).to_be_visible()
    expect(send_button).to_be_disabled()

    stop.click()
    expect(stop).to_have_count(0)
    expect(send_button).to_be_enabled()
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Stopped.")  # on_stop ran
    partial = content.inner_text()
    assert partial.startswith("word0 word1 word2 word3 word4 word5"), partial
    assert f"word{LONG_WORDS - 1}" not in partial, "the answer ran to its end"

    # The partial answer is kept as it was: it does not grow, and a reload shows it.
    page.reload()
    expect(assistant(page)).to_have_count(2)
    expect(assistant(page).first.locator(".lc-content")).to_have_text(partial)
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Stopped.")
    expect(stop).to_have_count(0)

    send(page, "short")
    expect(assistant(page).nth(2).locator(".lc-content")).to_have_text("A short answer.")
    expect(assistant(page).first.locator(".lc-content")).to_have_text(partial)
    expect(stop).to_have_count(0)
    expect(send_button).to_be_enabled()
