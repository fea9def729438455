"""Untrusted text never becomes markup: model output (streamed in pieces), the user's own
message, and step names and outputs all show as text.

The page's Content-Security-Policy would also stop inline handlers from running, so the test
looks for the elements themselves, not only for dialogs.
"""

from __future__ import annotations

from playwright.sync_api import Dialog, Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, forbidden, open_chat, record, send

# As in apps/xss_app.py (not imported: that would register its callbacks in this process).
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
LINK = "[x](javascript:alert(3))"
STEP_NAME = "<img src=x onerror=alert(4)>"
USER_TEXT = '<img src=x onerror=alert(7)> <script>alert(8)</script> <b id="bold">b</b>'


def test_hostile_text_is_shown_as_text_everywhere(serve: Serve, page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    server = serve("xss_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, USER_TEXT)

    log = chat_log(page)
    answer = assistant(page).first
    content = answer.locator(".lc-content")
    expect(content).to_contain_text("You said:")
    expect(log.locator("article[data-streaming]")).to_have_count(0)

    # The raw HTML is visible as text...
    expect(content).to_contain_text(f"Model says {IMG} and {SCRIPT} and {LINK} done.")
    expect(content).to_contain_text(f"You said: {USER_TEXT}")
    user = log.locator('article[data-type="user_message"] .lc-content')
    expect(user).to_have_text(USER_TEXT)
    step = log.locator('details[data-step-type="tool"]')
    expect(step.locator("summary")).to_contain_text(STEP_NAME)
    step.locator("summary").click()
    expect(step.locator(".lc-step-output")).to_contain_text("<script>alert(5)</script>")
    expect(step.locator(".lc-step-input")).to_contain_text("<img src=x onerror=alert(7)>")
    assert "javascript:alert(6)" in (step.locator(".lc-step-output").text_content() or "")

    # ...and none of it became an element, at any moment of the stream, or after it.
    assert forbidden(page) == []
    bad = 'img, script, iframe, [onerror], [onload], a[href^="javascript" i], #bold'
    expect(log.locator(bad)).to_have_count(0)
    # The one script in the body is the page's own, last (lightchat's and htmx's, joined).
    expect(page.locator("body script")).to_have_count(1)
    own = 'body > script:last-child[src*="/-/static/lightchat.js+"]'
    expect(page.locator(own)).to_have_count(1)
    page.reload()
    expect(assistant(page).first.locator(".lc-content")).to_contain_text(f"You said: {USER_TEXT}")
    expect(chat_log(page).locator(bad)).to_have_count(0)
    assert dialogs == []
