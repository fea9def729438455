"""A Chainlit app written as Chainlit's documentation shows (tests/e2e/apps/
chainlit_docs_app.py), served by the real CLI and used in Chromium through the UI
contract: a question at the start, settings in tabs with a date range, a command, a tool
step, a streamed answer and a thread named by the app."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send


def test_a_chainlit_app_from_the_docs_runs(serve: Serve, page: Page) -> None:
    server = serve("chainlit_docs_app.py")
    open_chat(page, server.url)
    expect(assistant(page).last.locator(".lc-content")).to_have_text("What is your name?")
    send(page, "Ada")
    expect(assistant(page).last.locator(".lc-content")).to_have_text("Hello Ada!")

    # Settings in tabs; the period is a range of two dates.
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    period = dialog.get_by_role("group", name="Period").last
    expect(period.get_by_label("From")).to_have_value("2025-01-01")
    expect(period.get_by_label("To")).to_have_value("2025-01-31")
    period.get_by_label("To").fill("2025-02-15")
    dialog.get_by_role("button", name="Confirm").click()
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "Period: 2025-01-01 to 2025-02-15"
    )

    # A plain message: streamed, with the cached model.
    send(page, "hi")
    expect(assistant(page).last.locator(".lc-content")).to_have_text("tiny says: hi")

    # The command the emitter set: a tool step, and the thread named by the app.
    page.get_by_label("Command", exact=True).select_option("Search")
    send(page, "weather")
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "3 results for weather (run on_message)"
    )
    expect(chat_log(page).locator('[data-step-type="tool"]').first).to_contain_text("search")
    # The sidebar shows what the history holds when the page loads: the name is written
    # once the run has ended, so the page is loaded again until it is there.
    named = page.get_by_role("navigation", name="Chat history").get_by_role(
        "link", name="Search: weather"
    )
    for _ in range(50):
        page.reload()
        if named.count():
            break
    expect(named).to_be_visible()
