"""`LIGHTCHAT_COT`: which steps the chat shows. `hidden` shows none (not even for a
moment) while answers still arrive; `tool_call` shows only the tool steps."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, send


def steps_seen(page: Page) -> list[dict[str, Any]]:
    """Every step state the recorder saw in the log."""
    states: list[dict[str, Any]] = page.evaluate("window.__lcSeen")
    return [s for s in states if "status" in s]


def test_hidden_shows_no_steps_but_the_answers(serve: Serve, page: Page) -> None:
    server = serve("steps_app.py", env={"LIGHTCHAT_COT": "hidden"})
    record(page)
    open_chat(page, server.url)
    send(page, "nested")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Plan said: found cats")
    send(page, "tool")
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text(
        "Tool said: found weather in Paris"
    )
    expect(chat_log(page).locator("details[data-step-type]")).to_have_count(0)
    assert steps_seen(page) == []
    page.reload()
    expect(assistant(page)).to_have_count(2)
    expect(chat_log(page).locator("details[data-step-type]")).to_have_count(0)


def test_tool_call_shows_only_tool_steps(serve: Serve, page: Page) -> None:
    server = serve("steps_app.py", env={"LIGHTCHAT_COT": "tool_call"})
    record(page)
    open_chat(page, server.url)
    send(page, "nested")  # a run step holding a tool step and an llm step
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Plan said: found cats")
    steps = chat_log(page).locator("details[data-step-type]")
    expect(steps).to_have_count(1)
    expect(steps.first).to_have_attribute("data-step-type", "tool")
    expect(steps.first).to_have_attribute("data-status", "done")
    expect(steps.first.locator("summary")).to_contain_text("lookup")
    # Never another step, not even while the run and llm steps were going.
    seen = steps_seen(page)
    assert seen, "the recorder saw no step"
    assert {s["id"] for s in seen} == {steps.first.get_attribute("id")}
    assert all(" lookup" in s["summary"] for s in seen), seen
    page.reload()
    expect(assistant(page)).to_have_count(1)
    expect(chat_log(page).locator("details[data-step-type]")).to_have_count(1)
    expect(chat_log(page).locator('details[data-step-type="tool"]')).to_have_count(1)
