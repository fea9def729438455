"""AG2 in the browser: the turns of two agents, the hand-off between them and a tool call
appear nested while they run (the tool waits for the user), and end done."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send


def test_a_hand_off_and_its_turn_appear_nested_while_they_run(serve: Serve, page: Page) -> None:
    server = serve("ag2_app.py")
    record(page)
    open_chat(page, server.url)
    send(page, "Weather in Paris?")

    log = chat_log(page)
    turn = log.locator(':scope > details[data-step-type="run"]')
    inside = turn.locator(":scope > .lc-step-body > .lc-step-children > details")
    hand_off = inside.nth(1)
    researcher = hand_off.locator(":scope > .lc-step-body > .lc-step-children > details")
    tool = researcher.locator('details[data-step-type="tool"]')

    expect(page.get_by_role("button", name="Look it up")).to_be_visible()
    expect(turn.locator(":scope > summary")).to_contain_text("assistant")
    expect(turn).to_have_attribute("data-status", "running")
    expect(hand_off.locator(":scope > summary")).to_contain_text("assistant → researcher")
    expect(hand_off).to_have_attribute("data-status", "running")
    expect(researcher.locator(":scope > summary")).to_contain_text("researcher")
    expect(researcher).to_have_attribute("data-status", "running")
    expect(tool.locator(":scope > summary")).to_contain_text("get_weather")
    expect(tool).to_have_attribute("data-status", "running")

    page.get_by_role("button", name="Look it up").click()
    expect(assistant(page).last).to_have_text(re.compile("The researcher says: sunny in Paris."))
    expect(turn).to_have_attribute("data-status", "done")
    expect(hand_off).to_have_attribute("data-status", "done")
    expect(tool).to_have_attribute("data-status", "done")
    expect(inside).to_have_count(3)
    answer_call = inside.nth(2)
    expect(answer_call).to_have_attribute("data-step-type", "llm")

    # The answer's model call was shown running, then done: its step came live.
    states = seen(page, answer_call.get_attribute("id") or "")
    assert [s["status"] for s in states] == ["running", "done"], states
