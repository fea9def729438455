"""`cl.ElementSidebar` from a callback: the "Elements" region opens live with the title
and elements the app set, stays open across a reload, and closes when the app empties it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, open_chat, send


def test_the_app_opens_and_closes_the_side_panel(serve: Serve, page: Page) -> None:
    server = serve("sidebar_app.py")
    open_chat(page, server.url)
    side = page.get_by_role("region", name="Elements")
    expect(side).to_be_hidden()
    page.evaluate("window.__lcSamePage = true")

    send(page, "open")
    expect(assistant(page).first.locator(".lc-content")).to_have_text("Opened the sources.")
    expect(side).to_be_visible()
    expect(side.get_by_role("heading", name="Sources")).to_be_visible()
    notes = side.get_by_role("figure", name="notes.md")
    expect(notes).to_contain_text("The first source says hello.")
    image = side.get_by_role("img", name="green square")
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [24, 24]
    assert page.evaluate("window.__lcSamePage === true"), "the panel came with a reload"

    page.reload()  # the panel is part of the chat's state
    expect(side).to_be_visible()
    expect(side.get_by_role("heading", name="Sources")).to_be_visible()
    expect(side.get_by_role("img", name="green square")).to_be_visible()

    send(page, "close")
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Closed the sources.")
    expect(side).to_be_hidden()
    expect(side.get_by_role("img")).to_have_count(0)
    page.reload()
    expect(assistant(page)).to_have_count(2)
    expect(side).to_be_hidden()


def test_the_reader_can_close_the_panel_the_app_opened(serve: Serve, page: Page) -> None:
    server = serve("sidebar_app.py")
    open_chat(page, server.url)
    send(page, "open")
    side = page.get_by_role("region", name="Elements")
    expect(side.get_by_role("heading", name="Sources")).to_be_visible()
    side.get_by_role("button", name="Close").click()
    expect(side).to_be_hidden()
    send(page, "hello")  # the chat goes on with the panel closed
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Echo: hello")
    expect(side).to_be_hidden()
