"""Elements as the browser shows them: an image, a file to download, a table, a task list
that changes while the page is open, and elements opened at the side or on their own page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, composer, open_chat, send

NOTES = b"Meeting notes\nfirst line\n"  # as in apps/elements_app.py


def test_an_image_is_shown(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    send(page, "image")
    image = assistant(page).first.get_by_role("img", name="red square")
    expect(image).to_be_visible()
    expect(image).to_have_class(re.compile(r"\blc-img-small\b"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]


def test_a_file_downloads_with_its_bytes(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    send(page, "file")
    link = assistant(page).first.get_by_role("link", name="notes.txt")
    expect(link).to_have_attribute("download", "notes.txt")
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.suggested_filename == "notes.txt"
    path = download.path()
    assert path.read_bytes() == NOTES
    expect(assistant(page).first).to_contain_text(f"{len(NOTES)} bytes")


def test_a_dataframe_is_a_table(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    send(page, "table")
    table = assistant(page).first.get_by_role("table", name="Cities")
    expect(table.get_by_role("columnheader")).to_have_text(["city", "population"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first.get_by_role("cell")).to_have_text(["Lyon", "522250"])


def test_a_task_list_updates_while_the_page_is_open(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    send(page, "tasks")
    tasks = chat_log(page).get_by_role("list", name="Build steps")
    items = tasks.get_by_role("listitem")
    expect(items).to_have_text(["Fetch the data", "Write the report"])
    expect(items.first).to_have_attribute("data-status", "running")
    expect(items.nth(1)).to_have_attribute("data-status", "ready")
    # The app marks the first task done 1.5 s later, then the second, with no reload.
    expect(items.first).to_have_attribute("data-status", "done")
    expect(items.nth(1)).to_have_attribute("data-status", "done")
    expect(chat_log(page).locator(".lc-tasklist-status")).to_have_text("Done")
    expect(chat_log(page).get_by_role("list", name="Build steps")).to_have_count(1)


def test_a_side_element_opens_in_the_elements_region_and_closes(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    send(page, "side")
    link = assistant(page).first.get_by_role("link", name="Details")
    side = page.get_by_role("region", name="Elements")
    expect(side).to_be_hidden()  # empty until an element is opened
    expect(page.get_by_text("The details, at the side.")).to_have_count(0)

    link.click()
    expect(side).to_be_visible()
    expect(side.get_by_role("heading", name="Details")).to_be_visible()
    expect(side).to_contain_text("The details, at the side.")
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]+$"))  # the chat did not navigate
    close = side.get_by_role("button", name="Close")
    expect(close).to_be_focused()
    close.click()
    expect(side).to_be_hidden()
    expect(link).to_be_focused()  # back where the reader was

    link.click()  # Escape closes it too
    expect(side).to_be_visible()
    page.keyboard.press("Escape")
    expect(side).to_be_hidden()
    # The chat goes on: the composer still works with the panel closed.
    send(page, "hello")
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("Echo: hello")
    expect(composer(page)).to_be_editable()


def test_a_page_element_opens_on_its_own_page(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    chat_url = page.url
    send(page, "page")
    assistant(page).first.get_by_role("link", name="Report").click()
    expect(page).to_have_url(re.compile(re.escape(chat_url) + r"/elements/[0-9a-f]+/view$"))
    region = page.get_by_role("region", name="Elements")
    expect(region.get_by_role("heading", name="Report", level=1)).to_be_visible()
    expect(region).to_contain_text("A report on a page of its own.")
    page.get_by_role("link", name="Back to the chat").click()
    expect(page).to_have_url(chat_url)
    expect(assistant(page).first.locator(".lc-content")).to_have_text("See Report")
