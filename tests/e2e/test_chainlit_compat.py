"""A Chainlit-shaped app in a real browser: an app without @on_message, an author renamed by
@author_rename, a message no callback answers, and a toast that goes away by itself."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve


def test_a_chainlit_shaped_app_runs(serve: Serve, page: Page) -> None:
    server = serve("chainlit_hello_app.py")
    page.goto(server.url)
    log = page.get_by_role("log", name="Conversation")
    greeting = log.locator('article[data-type="assistant_message"]').first
    expect(greeting).to_contain_text("Hello! Press the button.")
    expect(greeting).to_have_attribute("data-author", "Hello Bot")

    page.get_by_role("button", name="Toast me").click()
    toast = page.get_by_role("status").filter(has_text="Saved")
    expect(toast).to_have_text("Saved <b>everything</b>")  # text, never markup
    expect(toast).to_have_attribute("data-type", "success")
    expect(toast).to_have_count(0, timeout=10_000)  # gone by itself
    page.get_by_role("button", name="Fail loudly").click()
    expect(page.get_by_role("alert").filter(has_text="Saved")).to_have_attribute(
        "data-type", "error"
    )

    # No @on_message: the message stays in the chat, and nothing breaks.
    box = page.get_by_role("textbox", name="Message")
    box.fill("anyone there?")
    box.press("Enter")
    expect(log.locator('article[data-type="user_message"]')).to_contain_text("anyone there?")
    expect(log.locator('article[data-type="error"]')).to_have_count(0)
    expect(box).to_be_enabled()

    # @on_settings_edit follows the form as the user edits it, before "Confirm".
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Size").select_option("large")
    expect(page.get_by_role("status").filter(has_text="Editing: size large")).to_have_count(1)

    # A background job: busy ("Stop") while it works, its progress heard by page scripts.
    page.keyboard.press("Escape")
    page.evaluate(
        """() => { const seen = [];
        document.addEventListener("lightchat:progress", (e) => {
            seen.push(e.detail.done); document.body.dataset.progress = seen.join(","); }); }"""
    )
    body = page.locator("body")
    page.get_by_role("button", name="Background job").click()
    expect(body).to_have_attribute("data-progress", "50")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()  # no callback runs: the job said it is busy
    expect(body).to_have_attribute("data-progress", "50,100")
    expect(stop).to_be_hidden()
