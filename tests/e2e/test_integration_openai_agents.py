"""The OpenAI Agents SDK in the browser: a run's steps (the run, its agents, their model
calls, the tool call and the hand-off) appear nested while the run is under way (its tool
waits for the user), and end done with the answer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_a_runs_steps_appear_nested_while_it_runs(serve: Serve, page: Page) -> None:
    server = serve("openai_agents_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "Weather in Paris, in Spanish?")

    log = chat_log(page)
    run = log.locator(':scope > details[data-step-type="run"]')
    agents = run.locator(
        ':scope > .lc-step-body > .lc-step-children > details[data-step-type="run"]'
    )
    weather = agents.nth(0)
    inside = weather.locator(":scope > .lc-step-body > .lc-step-children > details")
    first_call, tool = inside.nth(0), inside.nth(1)

    # The tool waits for the user: the run, the agent and the tool are running.
    expect(page.get_by_role("button", name="Look it up")).to_be_visible()
    expect(run.locator(":scope > summary")).to_contain_text("Agent workflow")
    expect(run).to_have_attribute("data-status", "running")
    expect(weather.locator(":scope > summary")).to_contain_text("Weather")
    expect(weather).to_have_attribute("data-status", "running")
    expect(first_call).to_have_attribute("data-step-type", "llm")
    expect(first_call).to_have_attribute("data-status", "done")
    expect(tool.locator(":scope > summary")).to_contain_text("get_weather")
    expect(tool).to_have_attribute("data-status", "running")

    page.get_by_role("button", name="Look it up").click()
    expect(assistant(page).last).to_have_text(re.compile("Hace sol en París."))
    expect(run).to_have_attribute("data-status", "done")
    expect(agents).to_have_count(2)
    spanish = agents.nth(1)
    expect(spanish.locator(":scope > summary")).to_contain_text("Spanish")
    expect(inside.nth(3).locator(":scope > summary")).to_contain_text("Weather → Spanish")
    answer_call = spanish.locator('details[data-step-type="llm"]')
    expect(answer_call).to_have_attribute("data-status", "done")
    run.locator(":scope > summary").click()
    weather.locator(":scope > summary").click()
    tool.locator(":scope > summary").click()
    expect(tool.locator(".lc-step-input")).to_contain_text('"city": "Paris"')
    expect(tool.locator(".lc-step-output")).to_contain_text("sunny in Paris")

    # The Spanish agent's model call was shown running, then done: its step came live.
    states = seen(page, answer_call.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
