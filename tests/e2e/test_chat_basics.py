"""The core loop in a browser: the welcome message, and an answer that streams as markdown."""

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


def test_welcome_message_from_on_chat_start_is_shown(serve: Serve, page: Page) -> None:
    server = serve("welcome_app.py")
    open_chat(page, server.url)
    welcome = assistant(page).first
    expect(welcome).to_have_attribute("data-author", "Assistant")
    expect(welcome.locator(".lc-content")).to_have_text("Welcome to the test chat.")
    expect(welcome.locator("strong")).to_have_text("test")  # markdown, not raw asterisks


def test_answer_streams_progressively_then_renders_as_markdown(serve: Serve, page: Page) -> None:
    server = serve("streaming_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "show me")

    answer = assistant(page).first
    wait_for_text(page, "article[data-streaming] h2", "Results")  # markdown, mid-answer
    expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
    content = answer.locator(".lc-content")
    expect(content).to_contain_text("Done streaming.")

    # What the page showed on the way: the answer growing while marked as streaming.
    # (Raw markdown shows in the not yet re-rendered tail, so the texts are not prefixes.)
    answer_id = answer.get_attribute("id") or ""
    final = words(content.text_content() or "")
    states = seen(page, answer_id)
    partial = [s["text"] for s in states if s["streaming"]]
    assert len(set(partial)) >= 5, states
    assert len(partial[0]) < 10, partial
    assert any("Results" in t and "Done" not in t for t in partial), partial
    assert states[-1] == {"id": answer_id, "streaming": False, "text": final}

    # Rendered as markdown, highlighted by Pygments.
    expect(answer.locator("h2")).to_have_text("Results")
    expect(answer.locator("strong")).to_have_text("important")
    expect(answer.locator("ul > li")).to_have_text(["first item", "second item"])
    expect(answer.locator("table th")).to_have_text(["name", "value"])
    expect(answer.locator("table td")).to_have_text(["alpha", "1", "beta", "2"])
    code = answer.locator("pre code")
    expect(code).to_contain_text('return "hi " + name')
    expect(code.locator("span.k").first).to_have_text("def")
    expect(code.locator("span.nf")).to_have_text("greet")
    expect(content).not_to_contain_text("**")
    expect(content).not_to_contain_text("```")
    expect(content).not_to_contain_text("| name")
