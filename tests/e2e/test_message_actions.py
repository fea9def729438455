"""A message's actions in Chromium: icon buttons under their contract names, out of view
until the message is hovered or focused (always in view on touch screens), "Regenerate"
on the last answer only (live and after a reload), copying a message and a code block,
code blocks' language lines, and avatars. Each scene is photographed (to tmp_path; to
docs/screenshots/ with LIGHTCHAT_SCREENSHOTS=1) for a person to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    composer,
    open_chat,
    send,
    user_messages,
    wait_until_idle,
)
from tests.helpers import ROOT

APP = "message_actions_app.py"
TOOL_NAMES = ("Copy", "Regenerate", "Helpful", "Not helpful")


def shots(tmp_path: Path) -> Path:
    if os.environ.get("LIGHTCHAT_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path


def button(message: Locator, name: str) -> Locator:
    return message.get_by_role("button", name=name, exact=True)


def rest(page: Page) -> None:
    """The mouse away from the log and the keyboard focus on the composer."""
    page.mouse.move(1, 1)
    composer(page).focus()


def shown(control: Locator) -> None:
    expect(control).to_have_css("opacity", "1")


def out_of_view(control: Locator) -> None:
    expect(control).to_have_css("opacity", "0")
    expect(control).to_have_css("visibility", "visible")  # still there for the keyboard


@pytest.fixture
def clipboard(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    yield context
    context.close()


def test_actions_are_named_icons_shown_on_hover_and_focus(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    server = serve(APP)
    page.set_viewport_size({"width": 1000, "height": 760})
    open_chat(page, server.url)
    send(page, "hello")
    answer = assistant(page).nth(1)
    expect(answer).to_contain_text("Answer 1 to hello")
    for name in TOOL_NAMES:
        control = button(answer, name)
        expect(control).to_have_count(1)
        expect(control).to_have_attribute("title", name)  # the tooltip
        expect(control.locator("svg").first).to_have_attribute("aria-hidden", "true")
    expect(button(answer, "Helpful")).to_have_attribute("aria-pressed", "false")
    expect(button(answer, "Not helpful")).to_have_attribute("aria-pressed", "false")
    mine = user_messages(page).first
    edit = button(mine, "Edit")
    expect(edit).to_have_count(1)
    expect(edit).to_have_attribute("title", "Edit")

    # At rest: out of view, and nothing moves when they show.
    rest(page)
    for name in TOOL_NAMES:
        out_of_view(button(answer, name))
    out_of_view(edit)
    box = answer.locator(".lc-content").bounding_box()
    # The sidebar has listed the chat (it comes with the history's first write).
    history = page.get_by_role("navigation", name="Chat history")
    expect(history.get_by_role("link", name="hello")).to_be_visible()
    page.screenshot(path=str(shots(tmp_path) / "message-actions-rest.png"))

    answer.hover()
    for name in TOOL_NAMES:
        shown(button(answer, name))
    out_of_view(button(assistant(page).first, "Copy"))  # only the message hovered
    assert answer.locator(".lc-content").bounding_box() == box
    page.screenshot(path=str(shots(tmp_path) / "message-actions-hover.png"))
    mine.hover()
    shown(edit)

    # The keyboard: a focused button shows the message's actions.
    rest(page)
    button(answer, "Copy").focus()
    for name in TOOL_NAMES:
        shown(button(answer, name))

    # A verdict stays in view.
    button(answer, "Helpful").click()
    expect(button(answer, "Helpful")).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_role("textbox", name="Feedback comment")).to_be_visible()
    rest(page)
    shown(button(answer, "Helpful"))
    out_of_view(button(answer, "Not helpful"))
    out_of_view(button(answer, "Copy"))
    page.screenshot(path=str(shots(tmp_path) / "message-actions-pressed.png"))

    # The dark theme.
    page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
    answer.hover()
    shown(button(answer, "Copy"))
    page.screenshot(path=str(shots(tmp_path) / "message-actions-dark.png"))


def test_touch_screens_show_the_actions_at_rest(serve: Serve, browser: Browser) -> None:
    server = serve(APP)
    context = browser.new_context(
        has_touch=True, is_mobile=True, viewport={"width": 390, "height": 720}
    )
    try:
        page = context.new_page()
        open_chat(page, server.url)
        assert page.evaluate("matchMedia('(hover: none)').matches")
        send(page, "hello")
        answer = assistant(page).nth(1)
        expect(answer).to_contain_text("Answer 1")
        for name in TOOL_NAMES:
            shown(button(answer, name))
        shown(button(user_messages(page).first, "Edit"))
    finally:
        context.close()


def test_regenerate_is_on_the_last_answer_only(serve: Serve, page: Page) -> None:
    server = serve(APP)
    open_chat(page, server.url)
    welcome = assistant(page).first
    expect(welcome).to_contain_text("Welcome")
    expect(button(welcome, "Copy")).to_have_count(1)
    expect(button(welcome, "Regenerate")).to_have_count(0)  # on_chat_start's welcome

    send(page, "one")
    first = assistant(page).nth(1)
    expect(first).to_contain_text("Answer 1 to one")
    expect(button(first, "Regenerate")).to_have_count(1)
    send(page, "two")
    second = assistant(page).nth(2)
    expect(second).to_contain_text("Answer 2 to two")
    expect(button(second, "Regenerate")).to_have_count(1)
    expect(button(first, "Regenerate")).to_have_count(0)  # the stream took it away
    expect(chat_log(page).get_by_role("button", name="Regenerate")).to_have_count(1)
    page.reload()
    wait_until_idle(page)
    expect(chat_log(page).get_by_role("button", name="Regenerate")).to_have_count(1)
    expect(button(assistant(page).nth(2), "Regenerate")).to_have_count(1)

    # A question back to the user has none, and the answer before it lost its own.
    send(page, "ask")
    question = assistant(page).nth(3)
    expect(question).to_contain_text("Which colour?")
    expect(chat_log(page).get_by_role("button", name="Regenerate")).to_have_count(0)
    composer(page).fill("red")
    composer(page).press("Enter")
    colour = assistant(page).nth(4)
    expect(colour).to_contain_text("Colour: red")
    expect(chat_log(page).get_by_role("button", name="Regenerate")).to_have_count(1)
    expect(button(colour, "Regenerate")).to_have_count(1)

    # Regenerating the last answer replaces it, and the new one has the button.
    send(page, "three")
    expect(assistant(page).last).to_contain_text("Answer 4 to three")
    button(assistant(page).last, "Regenerate").click()
    expect(assistant(page).last).to_contain_text("Answer 5 to three")
    expect(chat_log(page).get_by_role("button", name="Regenerate")).to_have_count(1)
    expect(button(assistant(page).last, "Regenerate")).to_have_count(1)


def test_copying_a_message_and_a_code_block(
    serve: Serve, clipboard: BrowserContext, tmp_path: Path
) -> None:
    page = clipboard.new_page()
    server = serve(APP)
    page.set_viewport_size({"width": 1000, "height": 760})
    open_chat(page, server.url)
    send(page, "code")
    answer = assistant(page).nth(1)
    block = answer.locator(".lc-code-block")
    # While the answer still streams, its finished code block has its language and button.
    expect(answer).to_have_attribute("data-streaming", "")
    expect(block.locator(".lc-code-lang")).to_have_text("python")
    copy_code = block.get_by_role("button", name="Copy code")
    expect(copy_code).to_be_visible()
    expect(copy_code).to_have_attribute("title", "Copy code")
    expect(answer).not_to_have_attribute("data-streaming", "", timeout=20_000)
    wait_until_idle(page)
    expect(copy_code).to_be_visible()
    shown(copy_code)  # in view at rest: it is part of the block

    copy_code.click()
    expect(copy_code).to_have_attribute("data-copied", "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == (
        "def greet(name):\n    return f'Hello {name}'"
    )
    page.screenshot(path=str(shots(tmp_path) / "message-code-block.png"))
    expect(copy_code).not_to_have_attribute("data-copied", "Copied")  # for a moment only

    copy = button(answer, "Copy")
    answer.hover()
    copy.click()
    expect(copy).to_have_attribute("data-copied", "Copied")
    expect(copy).to_have_accessible_name("Copy")  # "Copied" is shown, not named
    expect(page.get_by_role("status").filter(has_text="Copied")).to_have_count(1)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Here is the code:\n\ndef greet(name):")  # no language line
    assert "python" not in copied
    assert copied.endswith("and more")


def test_code_copy_needs_javascript(serve: Serve, browser: Browser) -> None:
    server = serve(APP)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url)
        # While the welcome is being written the page reloads itself: type once it is done.
        expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
        composer(page).fill("code")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Send").click()
        assert posted.value.status == 303, posted.value.status
        page.wait_for_load_state()
        answer = assistant(page).nth(1)
        expect(answer.locator(".lc-code-lang")).to_have_text("python")
        expect(answer.get_by_role("button", name="Copy code")).to_have_count(0)  # hidden
        expect(answer.get_by_role("button", name="Copy")).to_have_count(0)
        expect(button(answer, "Helpful")).to_have_count(1)  # a form
    finally:
        context.close()


def test_edit_opens_in_place_and_cancels(serve: Serve, page: Page, tmp_path: Path) -> None:
    server = serve(APP)
    page.set_viewport_size({"width": 1000, "height": 760})
    open_chat(page, server.url)
    send(page, "hello")
    expect(assistant(page).nth(1)).to_contain_text("Answer 1 to hello")
    mine = user_messages(page).first
    edit = mine.get_by_role("button", name="Edit")
    box = mine.get_by_role("textbox", name="Edit message")
    expect(box).to_be_hidden()
    edit.click()
    expect(box).to_be_visible()
    expect(box).to_be_focused()
    expect(mine.locator(".lc-content")).to_be_hidden()  # the form takes its place
    expect(mine.get_by_role("button", name="Save and send")).to_be_visible()
    box.fill("changed")
    page.screenshot(path=str(shots(tmp_path) / "message-edit.png"))

    mine.get_by_role("link", name="Cancel").click()
    expect(box).to_be_hidden()
    expect(mine.locator(".lc-content")).to_have_text("hello")
    expect(edit).to_be_focused()
    edit.click()
    expect(box).to_have_value("hello")  # as it was
    box.press("Escape")
    expect(box).to_be_hidden()


def test_avatars(serve: Serve, page: Page, tmp_path: Path) -> None:
    avatars = tmp_path / "public" / "avatars"
    avatars.mkdir(parents=True)
    (avatars / "you.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<circle cx="5" cy="5" r="5" fill="#2e7a6b"/></svg>',
        encoding="utf-8",
    )
    server = serve(APP)
    page.set_viewport_size({"width": 1000, "height": 760})
    open_chat(page, server.url)
    send(page, "hello")
    answer = assistant(page).nth(1)
    expect(answer).to_contain_text("Answer 1")
    # The assistant has no file: its initial in a circle, hidden from screen readers.
    initial = answer.locator(".lc-avatar")
    expect(initial).to_have_text("A")
    expect(initial).to_have_attribute("aria-hidden", "true")
    expect(initial).to_have_css("border-radius", "50%")
    left = initial.bounding_box()
    content = answer.locator(".lc-content").bounding_box()
    assert left is not None
    assert content is not None
    assert left["x"] + left["width"] <= content["x"]  # beside the text, on the left
    # The user has a file: shown on the right of the bubble, decorative.
    mine = user_messages(page).first
    image = mine.locator("img.lc-avatar")
    expect(image).to_have_attribute("alt", "")
    page.wait_for_function(
        "() => document.querySelector('article[data-type=user_message] img.lc-avatar')"
        ".naturalWidth > 0"
    )
    right = image.bounding_box()
    bubble = mine.locator(".lc-content").bounding_box()
    assert right is not None
    assert bubble is not None
    assert bubble["x"] + bubble["width"] <= right["x"]
    page.screenshot(path=str(shots(tmp_path) / "message-avatars.png"))
