"""examples/08_composer.py in Chromium: its counter (the example's own template) redraws
live, a "Search" opens the side panel with sources, and the next message closes it."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, composer, open_chat, wait_until_idle
from tests.helpers import ROOT


def test_the_composer_example(serve: Serve, page: Page, tmp_path: Path) -> None:
    # The served app's folder is the test's own (LIGHTCHAT_APP_DIR): the template goes there.
    (tmp_path / "elements").mkdir()
    shutil.copy(ROOT / "examples" / "elements" / "Counter.html", tmp_path / "elements")
    server = serve("examples/08_composer.py")
    open_chat(page, server.url)
    log = chat_log(page)
    clicks = log.get_by_text("Clicks:")
    expect(clicks).to_have_text("Clicks: 0")
    log.get_by_role("button", name="Add one").click()
    expect(clicks).to_have_text("Clicks: 1")
    log.get_by_role("button", name="How many?").click()
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("You clicked 1 times.")
    wait_until_idle(page)

    search = page.get_by_role("button", name="Search")
    search.click()
    expect(search).to_have_attribute("aria-pressed", "true")
    composer(page).fill("vector databases")
    composer(page).press("Enter")
    side = page.get_by_role("region", name="Elements")
    expect(side.get_by_role("heading", name="Sources for “vector databases”")).to_be_visible()
    expect(side.get_by_role("figure", name="notes.md")).to_contain_text("Notes on vector")
    expect(assistant(page).nth(2)).to_contain_text("I found 2 sources; they are in the side panel.")
    wait_until_idle(page)

    page.get_by_label("Length").select_option("long")
    composer(page).fill("Why is the sky blue?")
    composer(page).press("Enter")
    expect(assistant(page)).to_have_count(4)
    expect(side).to_be_hidden()
    expect(assistant(page).nth(3)).not_to_have_attribute("data-streaming", "")
    expect(assistant(page).nth(3)).not_to_contain_text("Pick the Long length")
