"""Steps in the browser: a tool step's life, nested steps, a step created and finished at
once, and a step that fails."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send

DURATION = re.compile(r"(\d+\.\d+) s")


def test_tool_step_shows_name_input_output_status_and_duration(serve: Serve, page: Page) -> None:
    server = serve("steps_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "tool")

    step = chat_log(page).locator('details[data-step-type="tool"]')
    expect(step).to_have_attribute("data-status", "done")
    expect(step.locator("summary")).to_contain_text("lookup")
    summary = step.locator("summary").inner_text()
    duration = DURATION.search(summary)
    assert duration is not None, summary
    assert float(duration.group(1)) >= 0.3  # the tool slept 0.3 s

    # It was shown while it ran ("Using lookup", its clock aside), then as done.
    states = seen(page, step.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
    assert states[0]["summary"] == "Using lookup", states
    assert states[1]["summary"].startswith("Used lookup"), states

    step.locator("summary").click()
    expect(step.locator(".lc-step-input")).to_be_visible()
    expect(step.locator(".lc-step-input")).to_contain_text('"query": "weather in Paris"')
    expect(step.locator(".lc-step-output")).to_contain_text("found weather in Paris")
    expect(assistant(page).first).to_have_text(re.compile("Tool said: found weather in Paris"))


def _check_nesting(page: Page) -> None:
    log = chat_log(page)
    parent = log.locator('details[data-step-type="run"]')
    expect(parent).to_have_attribute("data-status", "done")
    expect(parent.locator("summary").first).to_contain_text("plan")
    expect(log.locator(":scope > details")).to_have_count(1)  # only the parent at the top
    tool = parent.locator('details[data-step-type="tool"]')  # a decorated step inside
    llm = parent.locator('details[data-step-type="llm"]')  # `async with cl.Step` inside
    expect(tool).to_have_attribute("data-status", "done")
    expect(tool.locator("summary")).to_contain_text("lookup")
    expect(llm).to_have_attribute("data-status", "done")
    expect(llm.locator("summary")).to_contain_text("draft")
    expect(llm.locator(".lc-step-output")).to_contain_text("drafting from the results")


def test_nested_steps_render_inside_their_parent(serve: Serve, page: Page) -> None:
    server = serve("steps_app.py")
    open_chat(page, server.url)
    send(page, "nested")
    expect(assistant(page).first).to_contain_text("Plan said: found cats")
    _check_nesting(page)  # as streamed

    page.reload()
    _check_nesting(page)  # as the page renders it

    # Opening the parent shows its children.
    parent = chat_log(page).locator('details[data-step-type="run"]')
    parent.locator("summary").first.click()
    expect(parent.locator('details[data-step-type="tool"] summary')).to_be_visible()
    expect(parent.locator('details[data-step-type="llm"] summary')).to_be_visible()


def test_step_and_message_changed_in_the_instant_they_appear(serve: Serve, page: Page) -> None:
    server = serve("steps_app.py")
    open_chat(page, server.url)
    send(page, "instant")

    step = chat_log(page).locator('details[data-step-type="tool"]')
    expect(step).to_have_attribute("data-status", "done")
    expect(step.locator(".lc-step-output")).to_contain_text("quick result")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("final text")


def test_failing_step_is_marked_failed_and_the_error_is_shown(serve: Serve, page: Page) -> None:
    server = serve("steps_app.py")
    open_chat(page, server.url)
    send(page, "fail")

    log = chat_log(page)
    step = log.locator('details[data-step-type="retrieval"]')
    expect(step).to_have_attribute("data-status", "failed")
    expect(step.locator("summary")).to_contain_text("flaky search")
    expect(step.locator(".lc-step-output")).to_contain_text("the search index is unavailable")
    error = log.locator('article[data-type="error"]')
    expect(error.get_by_role("alert")).to_have_text("RuntimeError: the search index is unavailable")
    expect(log).not_to_contain_text("never shown")

    send(page, "tool")  # the chat goes on
    expect(assistant(page).first).to_contain_text("Tool said: found weather in Paris")
