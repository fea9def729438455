"""LlamaIndex in the browser (``instrument()``): a streamed query's steps appear nested, its
LLM step streams while it runs and its retrieval's sources open in the side panel; a
function agent's run and its tool call appear nested while they run (the tool waits for
the user), then end done with the answer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_a_querys_steps_nest_stream_live_and_open_their_sources(serve: Serve, page: Page) -> None:
    server = serve("llama_index_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "What do bees make?")

    log = chat_log(page)
    expect(assistant(page).last).to_have_text(re.compile("Bees make honey."))
    query = log.locator(':scope > details[data-step-type="run"]')
    retrieve = query.locator('details[data-step-type="retrieval"]')
    embedding = retrieve.locator('details[data-step-type="embedding"]')
    llm = log.locator(':scope > details[data-step-type="llm"]')
    expect(query.locator(":scope > summary")).to_contain_text("query")
    expect(query).to_have_attribute("data-status", "done")
    expect(retrieve.locator(":scope > summary")).to_contain_text("retrieve")
    expect(embedding).to_have_attribute("data-status", "done")
    expect(llm).to_have_attribute("data-status", "done")

    # The LLM's step was on the page running, its answer coming in, before it ended.
    states = seen(page, llm.get_attribute("id") or "")
    assert [s["status"] for s in states][:1] == ["running"], states
    assert states[-1]["status"] == "done", states
    llm.locator(":scope > summary").click()
    expect(llm.locator(":scope > .lc-step-body > .lc-step-output")).to_contain_text(
        "Bees make honey."
    )
    expect(llm.locator(".lc-generation")).to_have_count(1)

    # The retrieval names its sources; each opens in the side panel.
    query.locator(":scope > summary").click()
    retrieve.locator(":scope > summary").click()
    expect(retrieve.locator(":scope > .lc-step-body > .lc-step-output")).to_contain_text(
        "Retrieved the following sources: Source 1 (score 1.00), Source 2 (score 1.00)"
    )
    retrieve.get_by_role("link", name="Source 1").click()
    panel = page.get_by_role("region", name="Elements")
    expect(panel).to_contain_text(re.compile("Bees make honey from the nectar|The Moon turns"))


def test_an_agents_run_and_tool_call_appear_nested_while_they_run(serve: Serve, page: Page) -> None:
    server = serve("llama_index_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "Agent, what do bees make?")

    log = chat_log(page)
    run = log.locator(':scope > details[data-step-type="run"]')
    children = run.locator(":scope > .lc-step-body > .lc-step-children > details")
    first_call = children.nth(0)
    tool = run.locator('details[data-step-type="tool"]')

    # The tool waits for the user: the run is under way, its steps are on the page.
    expect(page.get_by_role("button", name="Look it up")).to_be_visible()
    expect(run.locator(":scope > summary")).to_contain_text("researcher")
    expect(run).to_have_attribute("data-status", "running")
    expect(first_call).to_have_attribute("data-step-type", "llm")
    expect(first_call).to_have_attribute("data-status", "done")
    expect(tool.locator(":scope > summary")).to_contain_text("look_up")
    expect(tool).to_have_attribute("data-status", "running")

    page.get_by_role("button", name="Look it up").click()
    expect(assistant(page).last).to_have_text(
        re.compile("Here is what I found: Bees make honey from the nectar of flowers.")
    )
    expect(run).to_have_attribute("data-status", "done")
    expect(tool).to_have_attribute("data-status", "done")
    expect(children).to_have_count(3)  # the model's call, the tool's, the model's answer
    run.locator(":scope > summary").click()
    tool.locator(":scope > summary").click()
    expect(tool.locator(".lc-step-input")).to_contain_text('"topic": "bees"')
    expect(tool.locator(".lc-step-output")).to_contain_text("Bees make honey from the nectar")

    # The run was shown running, then done: it came live.
    states = seen(page, run.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
