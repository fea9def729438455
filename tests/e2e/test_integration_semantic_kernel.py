"""Semantic Kernel in the browser: a streamed prompt's step, and the plugin function its
model calls nested in it, appear while the run is under way (the function waits for the
user), then end done with the answer streamed into the prompt's step."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_a_prompts_step_and_its_function_call_appear_nested_while_they_run(
    serve: Serve, page: Page
) -> None:
    server = serve("semantic_kernel_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "Weather in Paris?")

    log = chat_log(page)
    prompt = log.locator(':scope > details[data-step-type="llm"]')
    function = prompt.locator('details[data-step-type="tool"]')

    # The function waits for the user: both steps are on the page, running.
    expect(page.get_by_role("button", name="Look it up")).to_be_visible()
    expect(prompt.locator(":scope > summary")).to_contain_text("scripted-model")
    expect(prompt).to_have_attribute("data-status", "running")
    expect(function.locator(":scope > summary")).to_contain_text("weather-get_weather")
    expect(function).to_have_attribute("data-status", "running")

    page.get_by_role("button", name="Look it up").click()
    expect(assistant(page).last).to_have_text(re.compile("The weather in Paris: sunny and warm."))
    expect(function).to_have_attribute("data-status", "done")
    expect(prompt).to_have_attribute("data-status", "done")
    prompt.locator(":scope > summary").click()
    expect(prompt.locator(":scope > .lc-step-body > .lc-step-output")).to_contain_text(
        "The weather in Paris: sunny and warm."
    )
    function.locator(":scope > summary").click()
    expect(function.locator(".lc-step-input")).to_contain_text('"city": "Paris"')
    expect(function.locator(".lc-step-output")).to_contain_text("sunny in Paris")

    # The prompt's step was shown running, then done: it came live.
    states = seen(page, prompt.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
