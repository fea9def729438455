"""A callback that raises: the chat shows the error, the log keeps the traceback, the chat
goes on."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send


def test_callback_error_is_shown_without_its_traceback_and_the_chat_goes_on(
    serve: Serve, page: Page
) -> None:
    server = serve("error_app.py")
    open_chat(page, server.url)
    send(page, "boom")

    log = chat_log(page)
    error = log.locator('article[data-type="error"]')
    expect(error.get_by_role("alert")).to_have_text("ValueError: the model is down")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    html = page.content()
    for secret in ("Traceback", "call_model", 'File "', "error_app.py"):
        assert secret not in html, f"{secret!r} leaked into the page"

    send(page, "hello")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Echo: hello")
    expect(error).to_have_count(1)

    output = server.stop()
    assert "Traceback (most recent call last)" in output, output
    assert "in call_model" in output, output
    assert "ValueError: the model is down" in output, output
