"""Debug mode in the browser (``lightchat serve --debug``): a step's timing, a failed
callback's traceback, the "Run details" region growing as the run goes, and the replay of
the chat's log; with JavaScript off, the same details on the page."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import APPS, chat_log, open_chat, send, wait_until_idle
from tests.helpers import LightchatServe, Server

TIMING = re.compile(r"^Started \d\d:\d\d:\d\d\.\d{3}, took [0-9.]+ (ms|s)$")


def serve_debug(lightchat_serve: LightchatServe, tmp_path: Path) -> Server:
    return lightchat_serve(
        APPS / "debug_app.py", "--debug", env={"LIGHTCHAT_APP_DIR": str(tmp_path)}
    )


def test_debug_mode_shows_timing_traceback_run_details_and_replay(
    lightchat_serve: LightchatServe, tmp_path: Path, page: Page
) -> None:
    server = serve_debug(lightchat_serve, tmp_path)
    open_chat(page, server.url)
    details = page.get_by_role("region", name="Run details")
    expect(details).to_be_visible()
    details.locator("summary").click()  # open the disclosure: rows come in as they are sent
    rows = details.locator("li[data-kind]")
    expect(rows).to_have_count(0)  # nothing happened yet

    send(page, "boom")
    log = chat_log(page)
    error = log.locator('article[data-type="error"]')
    expect(error.get_by_role("alert")).to_have_text("ValueError: the model is <down>")
    wait_until_idle(page)

    # The step's start and duration, in its summary.
    step = log.locator('details[data-step-type="tool"]')
    expect(step.locator(".lc-step-timing")).to_have_text(TIMING)

    # The traceback, in a disclosure under the error, as text.
    traceback = error.locator("details.lc-traceback")
    traceback.locator("summary").click()
    shown = traceback.locator("pre")
    expect(shown).to_contain_text("Traceback (most recent call last)")
    expect(shown).to_contain_text("in call_model")
    expect(shown).to_contain_text("ValueError: the model is <down>")
    expect(traceback.locator("down")).to_have_count(0)

    # The run's events, streamed into the region while it went: the streamed text is one row.
    expect(rows.filter(has=page.locator("code", has_text=re.compile("^step$")))).to_have_count(2)
    expect(details.locator('li[data-kind="tokens"]')).to_have_count(1)
    expect(details.locator('li[data-kind="run"]').last).to_contain_text("running=false")
    count = rows.count()
    page.reload()
    expect(page.get_by_role("region", name="Run details").locator("li[data-kind]")).to_have_count(
        count
    )  # the page lists the same rows the stream added

    # The replay: from the start, step by step.
    page.get_by_role("region", name="Run details").locator("summary").click()
    page.get_by_role("link", name="Replay this chat").click()
    controls = page.get_by_role("navigation", name="Replay controls")
    expect(controls.get_by_role("status")).to_contain_text("After event 0 of")
    replayed = page.get_by_role("log", name="Conversation")
    expect(replayed.locator("article")).to_have_count(0)
    controls.get_by_role("link", name="Next").click()
    expect(replayed.locator('article[data-type="user_message"]')).to_have_text(re.compile("boom"))
    expect(replayed.locator('article[data-type="error"]')).to_have_count(0)
    controls.get_by_role("link", name="Last").click()
    expect(replayed.locator('article[data-type="error"]')).to_have_count(1)
    expect(replayed.locator('article[data-type="assistant_message"]')).to_have_text(
        re.compile("Thinking about it")
    )
    expect(page.get_by_role("textbox", name="Message")).to_have_count(0)  # read-only


def test_the_replay_plays_by_itself(
    lightchat_serve: LightchatServe, tmp_path: Path, page: Page
) -> None:
    server = serve_debug(lightchat_serve, tmp_path)
    open_chat(page, server.url)
    send(page, "hello")
    wait_until_idle(page)
    expect(chat_log(page).locator('article[data-type="assistant_message"]')).to_have_count(2)
    page.goto(page.url + "/debug/replay?at=1&play=1")
    controls = page.get_by_role("navigation", name="Replay controls")
    expect(controls.get_by_role("link", name="Pause")).to_be_visible()
    # It goes on, a row a second, until the end, where it stops and offers "Play" again.
    expect(controls.get_by_role("link", name="Play")).to_be_visible(timeout=30_000)
    replayed = page.get_by_role("log", name="Conversation")
    expect(replayed.locator('article[data-type="assistant_message"]')).to_have_count(2)


def test_without_javascript_the_page_shows_the_same_details(
    lightchat_serve: LightchatServe, tmp_path: Path, browser: Browser
) -> None:
    server = serve_debug(lightchat_serve, tmp_path)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url)
        page.get_by_role("textbox", name="Message").fill("boom")
        page.get_by_role("button", name="Send").click()  # a plain form post: the answer is whole
        error = page.locator('article[data-type="error"]')
        expect(error.locator(".lc-traceback pre")).to_contain_text("in call_model")
        expect(page.locator(".lc-step-timing")).to_have_text(TIMING)
        details = page.get_by_role("region", name="Run details")
        details.locator("summary").click()
        expect(details.locator('li[data-kind="step"]')).to_have_count(2)
        details.get_by_role("link", name="Open as a page").click()
        region = page.get_by_role("region", name="Run details")
        expect(region.locator('li[data-kind="message"]')).to_have_count(4)
        expect(region.get_by_role("link", name="Back to the chat")).to_be_visible()
    finally:
        context.close()
