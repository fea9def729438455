"""The analytics page in a browser: an admin opens it from the user menu, switches the
period, picks a custom one, follows a comment to its chat (read-only); a question asked
live shows up, timed. A user who is not an admin, and a visitor of an app without sign-in,
get a 404 for the page, its CSV and every chat link. Hostile thread names, tags and
comments run nothing. The page is photographed (to tmp_path; to docs/screenshots/ with
LIGHTCHAT_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from lightchat.store import default_database_url
from tests.analytics_data import seed
from tests.e2e.helpers import Serve, assistant, collect_errors, open_chat, send, wait_until_idle
from tests.helpers import Server

ROOT = Path(__file__).resolve().parents[2]
APP = "analytics_app.py"
ENV = {"LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "a" * 40}
URLS = (
    "/analytics",
    "/analytics?period=custom&from=2027-01-10&to=2027-01-12",
    "/analytics/activity.csv",
    "/analytics/comments.csv?period=30d",
    "/analytics/threads/t1",
    "/analytics/threads/t3",
)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def seeded(tmp_path: Path) -> None:
    """The known history in the app's database (on a loop of its own in another thread:
    Playwright's runs in this one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, seed(default_database_url(tmp_path))).result()


def sign_in(
    browser: Browser,
    made: list[BrowserContext],
    server: Server,
    name: str,
    password: str,
) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    made.append(context)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    return page


def no_dialogs(page: Page) -> list[str]:
    """Every dialog (alert, confirm...) the page opens: a payload that ran."""
    opened: list[str] = []

    def dismiss(dialog: object) -> None:
        opened.append(getattr(dialog, "message", ""))
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dismiss)
    return opened


def row(page: Page, caption: str, first: str) -> list[str]:
    """The cells of a table's row (by its caption and its first cell)."""
    table = page.locator("table", has=page.locator("caption", has_text=caption))
    found = table.locator("tbody tr", has=page.locator("th", has_text=first))
    expect(found).to_have_count(1)
    return [" ".join(cell.split()) for cell in found.locator("th, td").all_inner_texts()]


def test_an_admin_reads_the_figures_switches_the_period_and_opens_a_commented_chat(
    serve: Serve, browser: Browser, contexts: list[BrowserContext], tmp_path: Path
) -> None:
    seeded(tmp_path)
    server = serve(APP, env=ENV)
    root = sign_in(browser, contexts, server, "root", "secret")
    errors = collect_errors(root)
    dialogs = no_dialogs(root)
    send(root, "Hi")  # a live question, from a starter's text
    expect(assistant(root).last).to_contain_text("Hello from the bot")
    wait_until_idle(root)

    root.get_by_role("button", name="root").click()
    root.get_by_role("link", name="Analytics").click()
    expect(root).to_have_url(re.compile(r"/analytics$"))
    expect(root.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    expect(root.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "page")

    # The last 24 hours: today's live question, counted and timed.
    root.get_by_role("link", name="Last 24 hours").click()
    expect(root).to_have_url(re.compile(r"period=24h"))
    expect(root.get_by_role("link", name="Last 24 hours")).to_have_attribute("aria-current", "page")
    today = datetime.now(UTC).date().isoformat()
    expect(
        root.locator("table", has=root.locator("caption", has_text="Chats, messages")).locator(
            "tbody"
        )
    ).to_contain_text(today)
    activity = row(root, "Chats, messages and active users per day", today)
    assert activity == [today, "1", "2", "1"], activity
    timing = row(root, "Time to first token and run duration per day", today)
    assert (timing[1], timing[4]) == ("1", "1"), timing  # one question timed, one run
    assert 0.05 <= float(timing[2]) < 5, timing
    assert float(timing[2]) <= float(timing[5]), timing
    assert row(root, "Token usage per model", "e2e-model") == ["e2e-model", "1", "7", "3", "10"]
    assert row(root, "Most used starters", "Hi") == ["Hi", "1"]
    # The chat's client was kept with it: a choice of the filter.
    expect(root.locator('select[name="client"] option[value="webapp"]')).to_have_count(1)

    # A custom period, from the form: the seeded days.
    root.get_by_label("From", exact=True).fill("2027-01-10")
    root.get_by_label("To", exact=True).fill("2027-01-12")
    root.get_by_role("button", name="Show").click()
    expect(root).to_have_url(re.compile(r"period=custom&from=2027-01-10&to=2027-01-12"))
    expect(root.get_by_role("link", name="Custom")).to_have_attribute("aria-current", "page")
    assert row(root, "Feedback per day", "2027-01-10") == ["2027-01-10", "1", "2", "0.33"]
    assert row(root, "Errors per day", "2027-01-10") == ["2027-01-10", "1", "1"]
    for caption in ("Feedback per day", "Errors per day", "Review queue"):
        figure = root.locator("figure", has=root.locator("caption", has_text=caption))
        expect(figure.get_by_role("link", name="Download CSV")).to_have_count(1)
    expect(root.get_by_role("img", name="Feedback per day")).to_be_visible()
    folder = (
        ROOT / "docs" / "screenshots"
        if os.environ.get("LIGHTCHAT_SCREENSHOTS") == "1"
        else tmp_path
    )
    folder.mkdir(parents=True, exist_ok=True)
    root.screenshot(path=str(folder / "analytics.png"), full_page=False, animations="disabled")

    # A comment leads to its chat, read-only.
    comments = root.locator("table", has=root.locator("caption", has_text="Latest comments"))
    comments.get_by_role("link", name="Lisbon").click()
    expect(root).to_have_url(re.compile(r"/analytics/threads/t3$"))
    expect(root.get_by_text("Read-only, for review. This view is logged.")).to_be_visible()
    expect(root.get_by_text("Weather?")).to_be_visible()
    expect(root.get_by_role("textbox", name="Message")).to_have_count(0)
    root.get_by_role("link", name="Back to analytics").click()
    expect(root).to_have_url(re.compile(r"/analytics$"))
    server.wait_printed("Analytics: root opened thread t3 (owner ada) read-only")

    # The hostile name, tag and comment ran nothing, here or in the dark theme.
    root.goto(f"{server.url}/analytics?period=custom&from=2027-01-10&to=2027-01-12")
    expect(root.locator("th", has_text="<img src=x onerror=alert(1)>")).to_have_count(1)
    expect(root.get_by_role("link", name="Trip <script>alert(1)</script>").first).to_be_visible()
    assert (
        root.evaluate(
            "() => document.querySelectorAll('main script, main img, main iframe').length"
        )
        == 0
    )
    title = "() => getComputedStyle(document.querySelector('.lc-chart-title')).fill"
    assert root.evaluate(title) == "rgb(27, 31, 36)"
    root.get_by_role("button", name="Switch to dark theme").click()
    expect(root.locator("html")).to_have_attribute("data-theme", "dark")
    root.wait_for_function(f"{title} === 'rgb(230, 233, 237)'")  # the charts follow the theme
    assert dialogs == []
    assert errors == []


def test_a_user_and_a_visitor_get_a_404_everywhere(
    serve: Serve, browser: Browser, contexts: list[BrowserContext], tmp_path: Path
) -> None:
    seeded(tmp_path)
    server = serve(APP, env=ENV)
    bob = sign_in(browser, contexts, server, "bob", "builder")
    bob.get_by_role("button", name="bob").click()
    expect(bob.get_by_role("button", name="Sign out")).to_be_visible()
    expect(bob.get_by_role("link", name="Analytics")).to_have_count(0)
    for url in URLS:
        response = bob.goto(f"{server.url}{url}")
        assert response is not None
        assert response.status == 404, url
    server.stop()

    open_server = serve(APP, env={"ANALYTICS_NO_AUTH": "1"})
    context = browser.new_context()
    contexts.append(context)
    visitor = context.new_page()
    open_chat(visitor, open_server.url)
    for url in URLS:
        response = visitor.goto(f"{open_server.url}{url}")
        assert response is not None
        assert response.status == 404, url
