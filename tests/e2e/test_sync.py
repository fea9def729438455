"""Sync code in a real browser: a plain `def` callback with cl.run_sync, and a blocking
function wrapped with cl.make_async."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_sync_callbacks_send_and_stream_through_run_sync(serve: Serve, page: Page) -> None:
    server = serve("sync_app.py")
    record(page)
    open_chat(page, server.url)
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Sync hello.")

    send(page, "quiet words")
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text(
        "Sync says QUIET WORDS (turn 1)"
    )
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    # It streamed: shown half-written first, from the worker thread, in order.
    states = seen(page, assistant(page).nth(1).get_attribute("id") or "")
    assert states[0]["streaming"], states
    assert states[-1] == {**states[0], "streaming": False, "text": "Sync says QUIET WORDS (turn 1)"}
    assert all("Sync says QUIET WORDS (turn 1)".startswith(s["text"]) for s in states), states

    send(page, "more")
    expect(assistant(page).nth(2).locator(".lc-content")).to_have_text("Sync says MORE (turn 2)")
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    expect(chat_log(page).locator('article[data-type="error"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_make_async_runs_a_blocking_function_for_an_async_callback(
    serve: Serve, page: Page
) -> None:
    server = serve("make_async_app.py")
    open_chat(page, server.url)
    send(page, "stressed")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("reversed: desserts")
    expect(chat_log(page).locator('article[data-type="error"]')).to_have_count(0)
