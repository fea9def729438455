"""Look and brand in the browser: the theme toggle (with and without JavaScript), the
configured colours, the logo of each theme, avatars, and the app's own CSS and JS."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.helpers import Serve, page_menu

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "09_brand"

LIGHT_BG = "rgb(255, 255, 255)"  # lightchat.css's light --lc-bg
DARK_BG = "rgb(21, 24, 28)"  # its dark --lc-bg (#15181c)


def background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def brand_example(tmp_path: Path) -> None:
    """The example's lightchat.toml and public/ in the app folder the server is given."""
    shutil.copy(EXAMPLE / "lightchat.toml", tmp_path / "lightchat.toml")
    shutil.copytree(EXAMPLE / "public", tmp_path / "public")


def test_the_toggle_switches_the_theme_and_the_choice_survives_a_reload(
    serve: Serve, browser: Browser
) -> None:
    server = serve("welcome_app.py")
    context = browser.new_context(color_scheme="light")
    try:
        page = context.new_page()
        page.goto(server.url)
        expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
        expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
        assert background(page) == LIGHT_BG  # system theme, a browser that prefers light
        to_light = page.get_by_role("button", name="Switch to light theme")
        expect(to_light).to_have_count(0)  # hidden: the page is light already
        # The page switches at once; the server, told in the background, sets the cookie
        # that paints the next page dark from its first byte.
        with page.expect_response(lambda r: r.url.endswith("/-/theme") and r.status == 204):
            page_menu(page).get_by_role("button", name="Switch to dark theme").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        expect(page.get_by_role("button", name="Switch to light theme")).to_be_focused()
        assert background(page) == DARK_BG
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert background(page) == DARK_BG
        expect(page.get_by_role("button", name="Switch to dark theme")).to_have_count(0)
        page_menu(page).get_by_role("button", name="Switch to light theme").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert background(page) == LIGHT_BG
    finally:
        context.close()


def test_the_toggle_works_without_javascript(serve: Serve, browser: Browser) -> None:
    server = serve("welcome_app.py")
    context = browser.new_context(java_script_enabled=False, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(server.url)
        expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
        chat = page.url
        assert background(page) == DARK_BG  # system theme, a browser that prefers dark
        page_menu(page).get_by_role("button", name="Switch to light theme").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert page.url == chat  # back on the same chat
        assert background(page) == LIGHT_BG
    finally:
        context.close()


def test_the_brand_example_shows_its_colours_logo_avatar_css_and_js(
    serve: Serve, browser: Browser, tmp_path: Path
) -> None:
    brand_example(tmp_path)
    server = serve("examples/09_brand/app.py")
    context = browser.new_context(color_scheme="light")
    try:
        page = context.new_page()
        refused: list[str] = []

        def note(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                refused.append(message.text)

        page.on("console", note)
        page.goto(server.url)
        expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
        # [ui.theme.light] background = "#f7fbfc", primary = "#0b6e79"
        assert background(page) == "rgb(247, 251, 252)"
        send = page.get_by_role("button", name="Send")
        # The stream's first update may redraw the controls: wait for the button as shown.
        expect(send).to_have_css("background-color", "rgb(11, 110, 121)")
        assert "Georgia" in page.evaluate("getComputedStyle(document.body).fontFamily")
        # The logo of the light theme, named by the app.
        heading = page.get_by_role("heading", level=1)
        light_logo = heading.locator("img.lc-logo-light")
        dark_logo = heading.locator("img.lc-logo-dark")
        expect(light_logo).to_be_visible()
        expect(light_logo).to_have_attribute("alt", "Harbour")
        expect(dark_logo).to_be_hidden()
        assert light_logo.evaluate("img => img.complete && img.naturalWidth > 0")
        # The assistant's avatar beside its message.
        log = page.get_by_role("log", name="Conversation")
        greeting = log.locator("article[data-type=assistant_message]").first
        expect(greeting).to_contain_text("Welcome to Harbour")
        avatar = greeting.locator("img.lc-avatar")
        expect(avatar).to_be_visible()
        expect(avatar).to_have_attribute("alt", "")  # decorative: the name is beside it
        page.wait_for_function(
            "() => document.querySelector('article img.lc-avatar').naturalWidth > 0"
        )  # loaded: served from public/, allowed by the page's policy
        # The app's own stylesheet and script.
        header = page.locator(".lc-header")
        assert header.evaluate("e => getComputedStyle(e).borderBottomWidth") == "3px"
        expect(page.locator("html")).to_have_attribute("data-brand", "harbour")
        # Dark: its own colours and its own logo.
        page_menu(page).get_by_role("button", name="Switch to dark theme").click()
        expect(dark_logo).to_be_visible()
        expect(light_logo).to_be_hidden()
        assert background(page) == "rgb(12, 26, 29)"  # [ui.theme.dark] background
        # Avatars show on answers that stream in too.
        page.get_by_role("textbox", name="Message").fill("Hello")
        send.click()
        answers = log.locator("article[data-type=assistant_message]")
        expect(answers).to_have_count(2)
        expect(answers.last.locator("img.lc-avatar")).to_be_visible()
        assert not refused, refused
    finally:
        context.close()
