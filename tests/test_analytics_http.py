"""The analytics page over HTTP, on seeded history with known figures (tests/analytics_data.py),
on SQLite and PostgreSQL: every figure of every table, the filters, the CSV files, who may
see it (admins only; a 404 for everyone else, for every URL), the review queue's read-only
view and its log line, and hostile text staying text.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from lightchat import LightChat, Settings, Starter, User
from lightchat.store import default_database_url
from tests.analytics_data import EVIL_COMMENT, EVIL_NAME, EVIL_TAG, QUERY, STARTERS, seed
from tests.helpers import Serve, Site, assert_inert

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SECRET = "analytics-secret-" + "x" * 40
PASSWORD = "correct horse"


def analytics_app(
    tmp_path: Path, database: str, *, auth: bool = True, **settings: Any
) -> LightChat:
    app = LightChat(
        settings=Settings(
            name="Bot",
            app_dir=str(tmp_path),
            database_url=database,
            auth_secret=SECRET if auth else "",
            **{"admins": "ops@example.com", **settings},
        )
    )
    if auth:

        @app.password_auth_callback
        def check(username: str, password: str) -> User | None:
            if password != PASSWORD:
                return None
            metadata = {"role": "admin"} if username == "root" else {}
            return User(identifier=username, metadata=metadata)

    @app.set_starters
    async def starters() -> list[Starter]:
        return [Starter(label=label, message=message) for label, message in STARTERS.items()]

    return app


async def seeded(tmp_path: Path, database: str) -> None:
    await seed(database or default_database_url(tmp_path))


async def signed_in(site: Site, name: str) -> httpx.AsyncClient:
    client = site.browser()
    response = await client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


class _Tables(HTMLParser):
    """The page's tables by caption: their rows as lists of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.links: dict[str, list[str]] = {}
        self._caption: str | None = None
        self._in: str | None = None
        self._rows: list[list[str]] = []
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = []
            self._caption = None
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("caption", "td", "th"):
            self._in, self._text = tag, ""
        elif tag == "a" and self._in == "td" and self._caption is not None:
            self.links.setdefault(self._caption, []).append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._caption, self._in = self._text.strip(), None
        elif tag in ("td", "th") and self._in:
            self._rows[-1].append(" ".join(self._text.split()))
            self._in = None
        elif tag == "table" and self._caption:
            self.tables[self._caption] = self._rows


SVG_PARTS = {"svg", "title", "text", "line", "rect", "circle", "polyline"}
SVG_ATTRS = {
    "class", "viewbox", "role", "aria-label", "xmlns", "focusable", "x", "y", "x1", "x2",
    "y1", "y2", "width", "height", "cx", "cy", "r", "points", "text-anchor",
}  # fmt: skip


def assert_page_inert(page: str) -> None:
    """The page's text from users (in its tables) and its charts hold nothing that runs."""
    bodies = re.findall(r"<tbody>(.*?)</tbody>", page, re.S)
    assert bodies
    for body in bodies:
        assert_inert(body.replace(' scope="row"', ""))
    for svg in re.findall(r"<svg class=\"lc-chart\".*?</svg>", page, re.S):
        tags = re.findall(r"<([a-zA-Z]+)((?:\s[^>]*)?)>", svg)
        assert {tag for tag, _ in tags} <= SVG_PARTS, svg
        for _, attrs in tags:
            names = set(re.findall(r'\s([a-zA-Z:-]+)="', attrs))
            assert {name.lower() for name in names} <= SVG_ATTRS, attrs


def tables_of(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


EXPECTED = {
    "Chats, messages and active users per day": [
        ["Day", "Chats", "Messages", "Active users"],
        ["2027-01-10", "2", "6", "2"],
        ["2027-01-11", "1", "2", "1"],
        ["2027-01-12", "0", "0", "0"],
    ],
    "Feedback per day": [
        ["Day", "Helpful", "Not helpful", "Helpful ratio"],
        ["2027-01-10", "1", "2", "0.33"],
        ["2027-01-11", "1", "0", "1.00"],
        ["2027-01-12", "0", "0", ""],
    ],
    "Time to first token and run duration per day (seconds)": [
        [
            "Day",
            "Questions timed",
            "First token p50",
            "First token p95",
            "Runs timed",
            "Run p50",
            "Run p95",
        ],
        ["2027-01-10", "3", "2.000", "3.000", "3", "5.000", "10.000"],
        ["2027-01-11", "0", "", "", "0", "", ""],
        ["2027-01-12", "0", "", "", "0", "", ""],
    ],
    "Errors per day": [
        ["Day", "Failed steps", "Error messages"],
        ["2027-01-10", "1", "1"],
        ["2027-01-11", "0", "0"],
        ["2027-01-12", "0", "0"],
    ],
    "Latest comments": [
        ["When", "Verdict", "Comment", "Thread"],
        ["2027-01-11 10:01 UTC", "Helpful", "Thanks", "Lisbon"],
        ["2027-01-10 09:15 UTC", "Not helpful", "Wrong", EVIL_NAME],
        ["2027-01-10 09:05 UTC", "Helpful", EVIL_COMMENT, EVIL_NAME],
    ],
    "Latest errors": [
        ["When", "Kind", "Name", "Text", "Thread"],
        ["2027-01-10 15:00 UTC", "error message", "Error", "Something failed", "Billing"],
        ["2027-01-10 09:10 UTC", "failed step", "search", "timeout", EVIL_NAME],
    ],
    "Token usage per model": [
        ["Model", "Calls", "Input tokens", "Output tokens", "Total tokens"],
        ["claude", "1", "50", "10", "60"],
        ["gpt-4o", "1", "100", "20", "120"],
    ],
    "Most used tags": [["Tag", "Chats"], ["travel", "2"], [EVIL_TAG, "1"], ["billing", "1"]],
    "Most used starters": [["Starter", "Uses"], ["Hi", "2"], ["Weather?", "1"]],
    "Review queue": [
        ["Last problem", "Not helpful", "Errors", "Thread"],
        ["2027-01-10 15:01 UTC", "1", "1", "Billing"],
        ["2027-01-10 09:15 UTC", "1", "1", EVIL_NAME],
    ],
}


async def test_an_admin_sees_every_figure_of_the_period(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    await seeded(tmp_path, database)
    app = analytics_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        root = await signed_in(site, "root")
        chat = await root.get("/", follow_redirects=True)
        assert '<a class="lc-button" href="/analytics">Analytics</a>' in chat.text

        page = await root.get(f"/analytics?{QUERY}")
        assert page.status_code == 200, page.text
        assert page.headers["cache-control"] == "no-store"
        found = tables_of(page.text)
        assert found.tables == EXPECTED
        # Each comment, error and queued chat links to its thread's read-only view.
        assert found.links["Latest comments"] == [
            "/analytics/threads/t3",
            "/analytics/threads/t1",
            "/analytics/threads/t1",
        ]
        assert found.links["Latest errors"] == ["/analytics/threads/t2", "/analytics/threads/t1"]
        assert found.links["Review queue"] == ["/analytics/threads/t2", "/analytics/threads/t1"]
        # A chart per figure, drawn here, named; a CSV link per table.
        assert page.text.count('<svg class="lc-chart"') == 7
        assert 'aria-label="Feedback per day"' in page.text
        assert page.text.count(">Download CSV</a>") == len(EXPECTED)
        assert "lightchat.analytics.css" in page.text
        # Hostile names, tags and comments stay text, in the tables and in the charts.
        assert_page_inert(page.text)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert(1)" not in page.text
        # The filters offer the profiles and clients the threads name.
        assert '<option value="GPT">GPT</option>' in page.text
        assert '<option value="copilot">copilot</option>' in page.text


async def test_filters_narrow_every_figure(tmp_path: Path, database: str, serve: Serve) -> None:
    await seeded(tmp_path, database)
    app = analytics_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ops = await signed_in(site, "ops@example.com")  # an admin by identifier
        page = await ops.get(f"/analytics?{QUERY}&profile=GPT")
        found = tables_of(page.text).tables
        assert found["Chats, messages and active users per day"][1:3] == [
            ["2027-01-10", "1", "4", "1"],
            ["2027-01-11", "1", "2", "1"],
        ]
        assert found["Feedback per day"][1] == ["2027-01-10", "1", "1", "0.50"]
        assert found["Time to first token and run duration per day (seconds)"][1] == [
            "2027-01-10",
            "2",
            "1.000",
            "3.000",
            "2",
            "4.000",
            "5.000",
        ]
        assert found["Token usage per model"][1:] == [["gpt-4o", "1", "100", "20", "120"]]
        assert found["Most used starters"][1:] == [["Hi", "1"], ["Weather?", "1"]]

        copilot = tables_of((await ops.get(f"/analytics?{QUERY}&client=copilot")).text).tables
        assert copilot["Chats, messages and active users per day"][1] == [
            "2027-01-10",
            "1",
            "2",
            "1",
        ]
        assert copilot["Errors per day"][1] == ["2027-01-10", "0", "1"]
        assert copilot["Review queue"][1:] == [["2027-01-10 15:01 UTC", "1", "1", "Billing"]]

        tagged = tables_of((await ops.get(f"/analytics?{QUERY}&tag={EVIL_TAG}")).text).tables
        assert tagged["Most used tags"][1:] == [[EVIL_TAG, "1"], ["travel", "1"]]
        assert tagged["Latest comments"][1:] == [
            ["2027-01-10 09:15 UTC", "Not helpful", "Wrong", EVIL_NAME],
            ["2027-01-10 09:05 UTC", "Helpful", EVIL_COMMENT, EVIL_NAME],
        ]

        # The preset periods end now: the seeded days are long gone.
        for period in ("24h", "7d", "30d"):
            recent = await ops.get(f"/analytics?period={period}")
            assert recent.status_code == 200
            assert "Nothing in this period." in recent.text
        assert (await ops.get("/analytics?period=1y")).status_code == 400
        assert (
            await ops.get("/analytics?period=custom&from=2027-02-01&to=2027-01-01")
        ).status_code == 400
        assert (await ops.get("/analytics?period=custom&from=yesterday")).status_code == 400


async def test_each_table_downloads_as_csv(tmp_path: Path, database: str, serve: Serve) -> None:
    await seeded(tmp_path, database)
    app = analytics_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        root = await signed_in(site, "root")
        page = await root.get(f"/analytics?{QUERY}")
        links = re.findall(r'<a class="lc-csv" href="([^"]+)" download>', page.text)
        assert len(links) == len(EXPECTED)
        by_caption = dict(zip(EXPECTED, links, strict=True))
        for caption, link in by_caption.items():
            answer = await root.get(link.replace("&amp;", "&"))
            assert answer.status_code == 200, link
            assert answer.headers["content-type"] == "text/csv; charset=utf-8"
            assert "attachment" in answer.headers["content-disposition"]
            rows = list(csv.reader(io.StringIO(answer.text)))
            assert rows == EXPECTED[caption], caption
        assert (await root.get(f"/analytics/nothing.csv?{QUERY}")).status_code == 404


async def test_nobody_else_sees_the_page_its_csv_or_a_thread(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    await seeded(tmp_path, database)
    urls = [
        f"/analytics?{QUERY}",
        f"/analytics/activity.csv?{QUERY}",
        "/analytics/threads/t1",
        "/analytics/threads/t1/elements/el1",
        "/analytics/threads/t1/elements/el1/view",
    ]
    app = analytics_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        bob = await signed_in(site, "bob")
        assert (
            "/analytics" not in (await bob.get("/", follow_redirects=True)).text
        )  # no link in his menu
        for url in urls:
            answer = await bob.get(url)
            assert answer.status_code == 404, url
            assert "Feedback" not in answer.text
        anonymous = site.browser()
        for url in urls:
            answer = await anonymous.get(url)
            assert answer.status_code in (303, 307), url  # to the sign-in page
            assert "/login" in answer.headers["location"]


async def test_without_sign_in_it_is_there_only_when_opened_to_the_machine_itself(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    await seeded(tmp_path, database)
    urls = [f"/analytics?{QUERY}", f"/analytics/tags.csv?{QUERY}", "/analytics/threads/t1"]
    async with serve(
        analytics_app(tmp_path, database, auth=False), lifespan=True, opened_page=True
    ) as site:
        for url in urls:
            assert (await site.browser().get(url)).status_code == 404, url
    app = analytics_app(tmp_path, database, auth=False, analytics_local=True)
    async with serve(app, lifespan=True, base_url="http://127.0.0.1", opened_page=True) as site:
        local = site.browser()
        for url in urls:
            assert (await local.get(url)).status_code == 200, url
        proxied = site.browser(headers={"X-Forwarded-For": "203.0.113.9"})
        assert (await proxied.get(urls[0])).status_code == 404
        remote = site.browser(address="203.0.113.9")
        assert (await remote.get(urls[0])).status_code == 404
    app = analytics_app(tmp_path, database, auth=False, analytics_local=True)
    async with serve(app, lifespan=True, opened_page=True) as site:  # testserver: not loopback
        assert (await site.browser().get(urls[0])).status_code == 404


async def test_a_queued_thread_opens_read_only_and_the_view_is_logged(
    tmp_path: Path, database: str, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    await seeded(tmp_path, database)
    app = analytics_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        root = await signed_in(site, "root")
        with caplog.at_level(logging.WARNING, logger="lightchat"):
            view = await root.get("/analytics/threads/t1")
        assert view.status_code == 200
        assert "Analytics: root opened thread t1 (owner ada) read-only" in caplog.text
        assert "Read-only, for review. This view is logged." in view.text
        for text in ("Plan a trip", "Sure", "timeout"):
            assert text in view.text
        feedback = tables_of(view.text).tables["Feedback in this chat"]
        assert sorted(feedback[1:]) == [["Helpful", EVIL_COMMENT], ["Not helpful", "Wrong"]]
        assert 'name="content"' not in view.text  # no composer
        assert "/feedback/" not in view.text  # no feedback buttons
        assert_page_inert(view.text)  # its feedback table
        assert "<script>alert(1)" not in view.text
        assert "Trip &lt;script&gt;alert(1)&lt;/script&gt;" in view.text
        # Its side element opens on a page of its own, from there only.
        assert 'href="/analytics/threads/t1/elements/el1/view"' in view.text
        element = await root.get("/analytics/threads/t1/elements/el1/view")
        assert element.status_code == 200
        assert "Day one: Lisbon" in element.text
        assert (await root.get("/analytics/threads/t1/elements/nope/view")).status_code == 404
        assert (await root.get("/analytics/threads/t2/elements/el1/view")).status_code == 404
        # A thread without feedback or errors, or none at all: not here.
        assert (await root.get("/analytics/threads/t9")).status_code == 404
