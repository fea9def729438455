"""Chainlit's JSX custom elements (public/elements/<Name>.jsx) run unchanged: in a
sandboxed frame, with Chainlit's globals (updateElement, callAction, sendUserMessage,
deleteElement, submitElement, cancelElement), shadcn-named components and Lucide icons;
AskElementMessage waits for the element's submission."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.helpers import (
    APPS,
    Serve,
    assistant,
    chat_log,
    open_chat,
    page_menu,
    send,
    user_messages,
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The app's folder (LIGHTCHAT_APP_DIR), holding its public/elements/*.jsx."""
    shutil.copytree(APPS / "jsx" / "public", tmp_path / "public")
    return tmp_path


def element(page: Page, name: str) -> FrameLocator:
    return chat_log(page).locator(f'iframe.lc-jsx[title="{name}"]').content_frame


@pytest.mark.usefixtures("app_dir")
def test_a_jsx_element_updates_calls_sends_and_removes_itself(serve: Serve, page: Page) -> None:
    server = serve("jsx_app.py")
    open_chat(page, server.url)
    counter = element(page, "Counter")
    expect(counter.locator("#count")).to_have_text("1")
    # A Lucide icon imported by name, drawn as an SVG inside the button.
    expect(counter.get_by_role("button", name="Increment").locator("svg path")).not_to_have_count(0)

    note = counter.get_by_role("textbox", name="Note")
    note.fill("kept")
    counter.get_by_role("button", name="Increment").click()
    expect(counter.locator("#count")).to_have_text("2")
    counter.get_by_role("button", name="Increment").click()
    expect(counter.locator("#count")).to_have_text("3")
    expect(note).to_have_value("kept")  # the element's own state outlives new props
    frame = chat_log(page).locator("iframe.lc-jsx")
    expect(frame).to_have_count(1)
    height = frame.evaluate("f => f.getBoundingClientRect().height")
    assert height > 150, "the frame is as tall as its content"
    # Chainlit's layout classes (Tailwind's names) lay the element out.
    layout = counter.locator("#jsx-counter").evaluate("e => getComputedStyle(e).flexDirection")
    assert layout == "column"
    page_menu(page).get_by_role("button", name="Switch to dark theme").click()
    expect(counter.locator("html")).to_have_attribute("data-theme", "dark")  # it follows

    counter.get_by_role("button", name="Celebrate").click()
    expect(assistant(page).filter(has_text="Celebrating 3")).to_have_count(1)

    note.fill("hello there")
    counter.get_by_role("button", name="Send note").click()
    expect(user_messages(page).filter(has_text="Note: hello there")).to_have_count(1)
    expect(assistant(page).filter(has_text="You said: Note: hello there")).to_have_count(1)

    page.reload()  # the new props are the chat's state
    expect(element(page, "Counter").locator("#count")).to_have_text("3")

    element(page, "Counter").get_by_role("button", name="Remove").click()
    expect(chat_log(page).locator("iframe.lc-jsx")).to_have_count(0)
    page.reload()
    expect(chat_log(page).get_by_text("A counter")).to_be_visible()
    expect(chat_log(page).locator("iframe.lc-jsx")).to_have_count(0)


@pytest.mark.usefixtures("app_dir")
def test_ask_element_message_returns_what_the_element_submits(serve: Serve, page: Page) -> None:
    server = serve("jsx_app.py")
    open_chat(page, server.url)
    send(page, "ticket")
    expect(element(page, "Ticket").get_by_role("button", name="Submit")).to_be_visible()
    page.reload()  # the question waits on, its element shown again
    ticket = element(page, "Ticket")
    submit = ticket.get_by_role("button", name="Submit")
    expect(submit).to_be_disabled()
    ticket.get_by_label("Summary").fill("Fix the login")
    ticket.get_by_label("Priority").select_option("High")
    submit.click()
    expect(assistant(page).filter(has_text="Ticket Fix the login (High)")).to_have_count(1)
    question = assistant(page).filter(has_text="Thanks for submitting")
    expect(question).to_have_count(1)  # the question says how it ended, as in Chainlit
    expect(chat_log(page).locator('iframe[title="Ticket"]')).to_have_count(0)

    send(page, "ticket")
    element(page, "Ticket").get_by_role("button", name="Cancel").click()
    expect(assistant(page).filter(has_text="No ticket")).to_have_count(1)
    expect(assistant(page).filter(has_text="Cancelled")).to_have_count(1)


@pytest.mark.usefixtures("app_dir")
def test_hostile_props_are_text_in_a_jsx_element(serve: Serve, page: Page) -> None:
    server = serve("jsx_app.py")
    open_chat(page, server.url)
    send(page, "hostile")
    echo = element(page, "Echo")
    hostile = '</script><img src=x onerror="parent.__lcPwned=1">"\'&<b>bold</b>'
    expect(echo.locator("#echo")).to_have_text(hostile)
    expect(echo.locator("#echo-title")).to_have_attribute("title", hostile)
    assert echo.locator("img, b").count() == 0
    assert chat_log(page).locator("img[onerror], b").count() == 0
    page.reload()
    expect(element(page, "Echo").locator("#echo")).to_have_text(hostile)
    assert page.evaluate("window.__lcPwned === undefined")


@pytest.mark.usefixtures("app_dir")
def test_the_page_hears_a_frame_only_with_its_key(serve: Serve, page: Page) -> None:
    """A page the frame was sent to (a link in the element) has the frame's opaque origin
    but not its key: what it posts is not heard."""
    server = serve("jsx_app.py")
    open_chat(page, server.url)
    expect(element(page, "Counter").locator("#count")).to_have_text("1")
    frame = chat_log(page).locator('iframe[title="Counter"]').element_handle()
    assert frame is not None
    inside = frame.content_frame()
    assert inside is not None

    def call(content: str, key: str) -> str:
        data = f"{{content: '{content}'}}"
        message = f"{{lc: 'jsx', type: 'call', id: 90, op: 'message', data: {data}"
        return f"parent.postMessage({message}{key}}}, '*')"

    inside.evaluate(call("forged", ""))  # a page without the key (as a page a link led to)
    data = "JSON.parse(document.getElementById('lc-jsx-data').textContent)"
    inside.evaluate(call("signed", f", key: {data}.key"))
    expect(user_messages(page).filter(has_text="signed")).to_have_count(1)
    expect(assistant(page).filter(has_text="You said: signed")).to_have_count(1)
    assert user_messages(page).filter(has_text="forged").count() == 0
