"""The first page as Chromium loads it: one stylesheet and one script, compressed; a repeat
visit asks for no static file; the colours of code come with the first code block."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, open_chat, send

STATIC = """() => performance.getEntriesByType("resource")
  .filter((entry) => entry.name.includes("/-/static/"))
  .map((entry) => ({name: entry.name, transferSize: entry.transferSize,
                    encodedBodySize: entry.encodedBodySize,
                    decodedBodySize: entry.decodedBodySize}))"""


def static_files(page: Page) -> list[dict[str, Any]]:
    """The page's static files as Resource Timing saw them (0 bytes transferred: from the
    browser's cache)."""
    found: list[dict[str, Any]] = page.evaluate(STATIC)
    return found


def test_the_first_page_loads_two_static_files_and_a_repeat_visit_none(
    serve: Serve, page: Page
) -> None:
    server = serve("first_page_app.py")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_chat(page, server.url)
    names = [file["name"].split("/-/static/")[1].split("?")[0] for file in static_files(page)]
    assert names == ["lightchat.css", "lightchat.js+lightchat.composer.js+htmx-sse-4.0.1.min.js"]
    for file in static_files(page):
        assert file["transferSize"] > 0, file
        assert file["encodedBodySize"] < file["decodedBodySize"] / 2, file  # compressed
    assert "lightchat.code.css" not in " ".join(requests)  # no code on this page

    open_chat(page, server.url)  # the next visit: a new chat
    assert [file["transferSize"] for file in static_files(page)] == [0, 0]  # the cache's


def test_the_colours_of_code_come_with_the_first_code_block(serve: Serve, page: Page) -> None:
    server = serve("first_page_app.py")
    open_chat(page, server.url)
    send(page, "hi")
    expect(assistant(page).last).to_contain_text("You said: hi")
    expect(page.locator("#lc-code-css")).to_have_count(0)

    send(page, "code")
    keyword = assistant(page).last.locator("pre code span.k").first
    expect(keyword).to_have_text("def")
    expect(page.locator("#lc-code-css")).to_have_count(1)  # after lightchat.css
    # Pygments' keyword colour, bold (the light theme's: #008000), not the text's.
    expect(keyword).to_have_css("font-weight", "700")

    page.reload()  # a page that shows code links them itself
    expect(page.locator("link#lc-code-css")).to_have_count(1)
    expect(page.locator("pre code span.k").first).to_have_css("font-weight", "700")
