"""Commands ("/" menu, buttons) and mode pickers in the composer, in Chromium."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, collect_errors, composer, open_chat


def last_answer(page: Page, n: int) -> None:
    expect(assistant(page)).to_have_count(n)


def test_slash_opens_a_filtered_menu_and_enter_picks_a_command(serve: Serve, page: Page) -> None:
    errors = collect_errors(page)
    server = serve("composer_extras_app.py")
    open_chat(page, server.url)
    expect(assistant(page).first).to_contain_text("Ready")
    box = composer(page)

    box.press_sequentially("/s")
    menu = page.get_by_role("listbox", name="Commands")
    expect(menu.get_by_role("option")).to_have_count(2)  # Search, Summarize
    box.press_sequentially("u")
    expect(menu.get_by_role("option")).to_have_count(1)
    box.press("Enter")  # picks the command; does not send
    expect(menu).to_have_count(0)
    expect(page.get_by_label("Command", exact=True)).to_have_value("Summarize")
    expect(box).to_have_value("")
    box.press_sequentially("this page")
    box.press("Enter")
    expect(assistant(page).nth(1)).to_contain_text("text=this page command=Summarize model=large")
    # Not persistent: the next message has no command.
    expect(page.get_by_label("Command", exact=True)).to_have_value("")
    assert not errors, errors


def test_command_buttons_modes_and_persistent_commands(serve: Serve, page: Page) -> None:
    server = serve("composer_extras_app.py")
    open_chat(page, server.url)
    expect(assistant(page).first).to_contain_text("Ready")
    box = composer(page)

    picture = page.get_by_role("button", name="Picture")
    picture.click()
    expect(picture).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Model").select_option("small")
    box.fill("a cat")
    box.press("Enter")
    expect(assistant(page).nth(1)).to_contain_text("text=a cat command=Picture model=small")
    expect(picture).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_label("Model")).to_have_value("small")  # the chosen mode stays

    page.get_by_label("Command", exact=True).select_option("Search")
    box.fill("docs")
    box.press("Enter")
    expect(assistant(page).nth(2)).to_contain_text("command=Search")
    expect(page.get_by_label("Command", exact=True)).to_have_value("Search")  # persistent


def test_commands_without_javascript(serve: Serve, page: Page) -> None:
    server = serve("composer_extras_app.py")
    context = page.context.browser.new_context(java_script_enabled=False)  # type: ignore[union-attr]
    plain = context.new_page()
    plain.goto(server.url)
    expect(plain.get_by_role("article").first).to_contain_text("Ready")
    # Without JavaScript the page reloads itself while a callback runs: wait for the end.
    expect(plain.get_by_role("button", name="Stop")).to_have_count(0)
    plain.get_by_label("Message", exact=True).fill("/Search the web")
    plain.get_by_role("button", name="Send").click()
    expect(plain.get_by_role("article").last).to_contain_text(
        "text=the web command=Search model=large"
    )
    context.close()
