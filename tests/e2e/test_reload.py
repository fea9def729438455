"""A reload in the middle of an answer: what was streamed is there, and the rest follows."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    open_chat,
    record,
    seen,
    send,
    wait_for_text,
    words,
)

# What apps/reload_app.py streams (not imported: importing an app registers its callbacks
# on lightchat's default app in the test process).
WORDS = [f"w{i}" for i in range(120)]
ANSWER = " ".join(WORDS)


def test_reload_mid_stream_shows_what_was_streamed_and_continues(serve: Serve, page: Page) -> None:
    server = serve("reload_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "count")
    wait_for_text(page, 'article[data-type="assistant_message"][data-streaming]', "w10 ")
    answer_id = assistant(page).first.get_attribute("id") or ""

    page.reload()  # the recorder starts afresh on the new page
    answer = page.locator(f"#{answer_id}")
    content = answer.locator(".lc-content")
    expect(content).to_have_text(ANSWER)
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    expect(assistant(page)).to_have_count(1)

    states = seen(page, answer_id)
    first = states[0]
    # The reloaded page began with the answer half-written and still streaming...
    assert first["streaming"], states
    assert first["text"].startswith("w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"), first
    assert first["text"] != ANSWER, first
    # ...and every state after it was a longer prefix of the answer: nothing lost or repeated.
    texts = [s["text"] for s in states]
    assert all(ANSWER.startswith(t) for t in texts), texts
    assert [len(t) for t in texts] == sorted(len(t) for t in texts), texts
    assert words(content.inner_text()).split() == WORDS
