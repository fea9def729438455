"""`cl.CustomElement`: drawn by the app's own template, its forms call an action callback
(which redraws it live) and send a user message; without JavaScript they are plain forms."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import APPS, Serve, assistant, chat_log, open_chat, user_messages


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The app's folder (LIGHTCHAT_APP_DIR), holding the counter's template."""
    (tmp_path / "elements").mkdir()
    shutil.copy(APPS / "elements" / "Counter.html", tmp_path / "elements" / "Counter.html")
    return tmp_path


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def count(page: Page) -> Locator:
    return chat_log(page).get_by_text("Count:")


@pytest.mark.usefixtures("app_dir")
def test_a_custom_element_redraws_live_and_sends_messages(serve: Serve, page: Page) -> None:
    server = serve("custom_app.py")
    open_chat(page, server.url)
    chat_url = page.url
    expect(count(page)).to_have_text("Count: 1")
    page.evaluate("window.__lcSamePage = true")

    add = chat_log(page).get_by_role("button", name="Add 2")
    add.click()
    expect(count(page)).to_have_text("Count: 3")
    add.click()
    expect(count(page)).to_have_text("Count: 5")
    expect(count(page)).to_have_count(1)  # redrawn in place, not added again

    chat_log(page).get_by_role("button", name="Say hello").click()
    expect(user_messages(page).locator(".lc-content")).to_have_text(["Hello from the counter"])
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text(
        "You said: Hello from the counter"
    )
    assert page.url == chat_url
    assert page.evaluate("window.__lcSamePage === true"), "the page was reloaded"

    page.reload()  # the new props are the chat's state
    expect(count(page)).to_have_text("Count: 5")


@pytest.mark.usefixtures("app_dir")
def test_a_custom_element_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("custom_app.py")
    page.goto(server.url)
    chat_url = page.url
    expect(count(page)).to_have_text("Count: 1")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        chat_log(page).get_by_role("button", name="Add 2").click()
    assert posted.value.status == 303
    page.wait_for_load_state()
    assert page.url == chat_url
    assert count(page).inner_text() == "Count: 3"  # the post answered once it was redrawn

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        chat_log(page).get_by_role("button", name="Say hello").click()
    assert posted.value.status == 303
    page.wait_for_load_state()
    assert assistant(page).last.locator(".lc-content").inner_text() == (
        "You said: Hello from the counter"
    )


def test_a_custom_element_script_runs_each_time_it_is_drawn(
    serve: Serve, page: Page, app_dir: Path
) -> None:
    shutil.copy(APPS / "elements" / "Counter.js", app_dir / "elements" / "Counter.js")
    server = serve("custom_app.py")
    open_chat(page, server.url)
    element = chat_log(page).locator(".lc-el-custom")
    expect(element).to_have_attribute("data-script-saw", "1")
    chat_log(page).get_by_role("button", name="Add 2").click()
    expect(element).to_have_attribute("data-script-saw", "3")  # run again on the redraw
    assert page.evaluate("window.__lcCounterRuns") == 2
