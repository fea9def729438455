"""LangGraph in the browser: the steps of an agent's run appear, nested, while it runs
(its tool waits for the user), and end done with the answer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_a_graphs_steps_appear_nested_while_it_runs(serve: Serve, page: Page) -> None:
    server = serve("langchain_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "Weather in Paris?")

    log = chat_log(page)
    graph = log.locator(':scope > details[data-step-type="run"]')
    nodes = graph.locator(":scope > .lc-step-body > .lc-step-children > details")
    agent, tools = nodes.nth(0), nodes.nth(1)
    model_call = agent.locator('details[data-step-type="llm"]')
    tool = tools.locator('details[data-step-type="tool"]')

    # The tool waits for the user: the run is under way, its steps are on the page.
    expect(page.get_by_role("button", name="Look it up")).to_be_visible()
    expect(graph.locator("summary").first).to_contain_text("LangGraph")
    expect(graph).to_have_attribute("data-status", "running")
    expect(agent.locator("summary").first).to_contain_text("agent")
    expect(agent).to_have_attribute("data-status", "done")
    expect(model_call.locator("summary").first).to_contain_text("ScriptedChatModel")
    expect(model_call).to_have_attribute("data-status", "done")
    expect(model_call.locator(".lc-step-output")).to_contain_text("get_weather")
    expect(tools.locator("summary").first).to_contain_text("tools")
    expect(tools).to_have_attribute("data-status", "running")
    expect(tool.locator("summary").first).to_contain_text("get_weather")
    expect(tool).to_have_attribute("data-status", "running")

    page.get_by_role("button", name="Look it up").click()
    expect(assistant(page).last).to_have_text(re.compile("The weather: sunny in Paris."))
    expect(graph).to_have_attribute("data-status", "done")
    expect(tool).to_have_attribute("data-status", "done")
    expect(tool.locator(".lc-step-output")).to_contain_text("sunny in Paris")
    expect(tool.locator(".lc-step-input")).to_contain_text('"city": "Paris"')
    expect(nodes).to_have_count(3)  # agent, tools, agent again
    answer_call = nodes.nth(2).locator('details[data-step-type="llm"]')
    expect(answer_call).to_have_attribute("data-status", "done")
    expect(answer_call.locator(".lc-step-output")).to_contain_text("The weather: sunny in Paris.")

    # The answer's model call was shown running, then done: its step came live.
    states = seen(page, answer_call.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
