"""Pydantic AI in the browser: an agent run's steps appear nested while it runs (its tool
waits for the user), and the answer's model request fills as the model writes."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_an_agent_runs_steps_appear_nested_while_it_runs(serve: Serve, page: Page) -> None:
    server = serve("pydantic_ai_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "Weather in Paris?")

    log = chat_log(page)
    run = log.locator(':scope > details[data-step-type="run"]')
    inside = run.locator(":scope > .lc-step-body > .lc-step-children > details")
    first_request, tool = inside.nth(0), inside.nth(1)

    expect(page.get_by_role("button", name="Look it up")).to_be_visible()
    expect(run.locator(":scope > summary")).to_contain_text("forecaster")
    expect(run).to_have_attribute("data-status", "running")
    expect(first_request.locator(":scope > summary")).to_contain_text("scripted-model")
    expect(first_request).to_have_attribute("data-status", "done")
    expect(tool.locator(":scope > summary")).to_contain_text("get_weather")
    expect(tool).to_have_attribute("data-status", "running")

    page.get_by_role("button", name="Look it up").click()
    expect(assistant(page).last).to_have_text(re.compile("The weather in Paris: sunny and warm."))
    expect(run).to_have_attribute("data-status", "done")
    expect(inside).to_have_count(3)
    answer_request = inside.nth(2)
    expect(answer_request).to_have_attribute("data-status", "done")
    run.locator(":scope > summary").click()
    answer_request.locator(":scope > summary").click()
    expect(answer_request.locator(".lc-step-output")).to_contain_text(
        "The weather in Paris: sunny and warm."
    )

    # The answer's request was shown running, then done: its step came live.
    states = seen(page, answer_request.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
