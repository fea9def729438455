"""The quickstart example in a real browser: welcome, a tool step, a streamed answer."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve


def test_quickstart_streams_an_answer_after_a_tool_step(serve: Serve, page: Page) -> None:
    server = serve("examples/01_quickstart.py")
    page.goto(server.url)
    log = page.get_by_role("log", name="Conversation")
    expect(log.locator('article[data-type="assistant_message"]').first).to_contain_text(
        "Welcome! Ask me anything."
    )

    box = page.get_by_role("textbox", name="Message")
    box.fill("Write python code to count words")
    box.press("Enter")

    expect(log.locator('article[data-type="user_message"]')).to_contain_text(
        "Write python code to count words"
    )
    step = log.locator('details[data-step-type="tool"]')
    expect(step.locator("summary")).to_contain_text("search")
    expect(step).to_have_attribute("data-status", "done")
    answer = log.locator('article[data-type="assistant_message"]').nth(1)
    expect(answer).not_to_have_attribute("data-streaming", "")
    expect(answer.locator("pre code .k").first).to_have_text("def")  # highlighted by Pygments
    expect(answer).to_contain_text("3 documents about Write python code to count words")
    expect(box).to_have_value("")
