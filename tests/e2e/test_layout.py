"""The page's frame at a phone's, a tablet's and a laptop's size: nothing wider than the
screen, every control of the header, the "More" menu, the history drawer and the composer
on screen and reachable (the point at its centre is the control itself), with and without
JavaScript. Each state is photographed (to tmp_path; to docs/screenshots/ with
LIGHTCHAT_SCREENSHOTS=1) for a person to look at."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Serve, assistant, open_chat, send, wait_until_idle

ROOT = Path(__file__).resolve().parents[2]
APP = "layout_app.py"
VIEWPORTS = {"phone": (390, 844), "tablet": (768, 1024), "laptop": (1280, 800)}
ENV = {
    "LIGHTCHAT_HEADER_LINKS": json.dumps(
        [{"name": "Docs", "display_name": "Documentation", "url": "https://docs.example/"}]
    ),
    "LIGHTCHAT_GITHUB": "https://github.com/example/bot",
}

# The controls a reader must be able to reach: where each is shown, it lies inside the
# screen and the point at its centre belongs to it (nothing covers it).
CONTROLS = (
    "header a, header button, header summary, header select, "
    "#lc-composer button, #lc-composer textarea, #lc-composer .lc-attach"
)
# Over the chat, the drawer: what it holds at its top, and the button that closes it.
DRAWER = "#lc-history > a, #lc-history > form input, .lc-drawer-close"
MENU = ".lc-menu-items a, .lc-menu-items button"
CHECK = """(selector) => {
  const problems = [];
  const width = document.documentElement.scrollWidth;
  if (width > innerWidth) problems.push(`the page is ${width}px wide in ${innerWidth}px`);
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    const shown = el.checkVisibility({ visibilityProperty: true });
    if (r.width <= 1 || r.height <= 1 || !shown) continue;
    const name = (el.getAttribute("aria-label") || el.textContent || el.tagName)
      .trim().slice(0, 40);
    const outside = r.left < -0.5 || r.top < -0.5
      || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5;
    if (outside) {
      problems.push(`${name}: outside the screen (${Math.round(r.left)},${Math.round(r.top)}`
        + `-${Math.round(r.right)},${Math.round(r.bottom)})`);
      continue;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(el.contains(hit) || hit.contains(el) && hit.closest("label"))) {
      problems.push(`${name}: covered by ${hit ? hit.outerHTML.slice(0, 80) : "nothing"}`);
    }
  }
  const box = document.querySelector("#lc-composer textarea");
  if (box && box.placeholder) {
    const style = getComputedStyle(box);
    const context = document.createElement("canvas").getContext("2d");
    context.font = style.font;
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const needed = context.measureText(box.placeholder).width;
    if (needed > room) problems.push(`the placeholder needs ${needed}px, the box has ${room}px`);
  }
  return problems;
}"""


def check(page: Page, controls: str = CONTROLS) -> None:
    problems = page.evaluate(CHECK, controls)
    assert problems == [], problems


# The screenshots the README shows (docs/screenshots/ with LIGHTCHAT_SCREENSHOTS=1).
FOR_README = {"phone-chat", "phone-menu", "phone-history", "laptop-chat", "tablet-dark"}


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    """A screenshot of the screen as it is, to look at; the README's kept in docs/."""
    keep = os.environ.get("LIGHTCHAT_SCREENSHOTS") == "1" and name in FOR_README
    folder = ROOT / "docs" / "screenshots" if keep else tmp_path
    page.screenshot(path=str(folder / f"layout-{name}.png"), animations="disabled")


def settle(page: Page) -> None:
    """Transitions done: what the checks measure is what stays on screen."""
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_the_page_fits_the_screen(
    serve: Serve, browser: Browser, tmp_path: Path, size: str
) -> None:
    (tmp_path / "lightchat.md").write_text("# About\n\nA chat about layouts.\n", encoding="utf-8")
    server = serve(APP, env=ENV)
    width, height = VIEWPORTS[size]
    narrow = width <= 768
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
    try:
        page = context.new_page()
        # An empty chat.
        open_chat(page, server.url)
        # A page opened while the history's store is still opening (the server's first
        # second) loads its list of chats later: open a chat once it is there.
        for _ in range(100):
            if "Loading" not in page.locator("#lc-threads").inner_text():
                break
            open_chat(page, server.url)
        check(page)
        shoot(page, tmp_path, f"{size}-empty")

        # "More": every secondary action, each under its own name.
        more = page.get_by_role("button", name="More")
        more.click()
        menu = page.locator("#lc-menu .lc-menu-items")
        expect(menu).to_be_visible()
        for name in ("Export as Markdown", "Export as JSON"):
            expect(menu.get_by_role("link", name=name)).to_be_visible()
        for name in ("Readme", "Switch to dark theme", "Keyboard shortcuts"):
            expect(menu.get_by_role("button", name=name)).to_be_visible()
        # The app's links are in the header where there is room, in "More" where not.
        docs = page.get_by_role("link", name="Documentation")
        expect(docs).to_have_count(1)
        expect(menu.get_by_role("link", name="Documentation")).to_have_count(1 if narrow else 0)
        check(page)
        check(page, MENU)
        shoot(page, tmp_path, f"{size}-menu")
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()
        expect(more).to_be_focused()

        # A conversation: long words and code stay inside the screen.
        send(page, "Show me a long word")
        expect(assistant(page)).to_have_count(1)
        send(page, "And another one, with a question that goes over more than one line on a phone")
        expect(assistant(page)).to_have_count(2)
        wait_until_idle(page)
        check(page)
        shoot(page, tmp_path, f"{size}-chat")

        # The history: a drawer over the chat on a narrow screen, beside it on a wide one.
        sidebar = page.get_by_role("navigation", name="Chat history")
        history = page.get_by_role("button", name="History", exact=True)
        if narrow:
            expect(sidebar).to_be_hidden()
            history.click()
            expect(sidebar).to_be_visible()
            expect(history).to_have_attribute("aria-expanded", "true")
            settle(page)
            check(page, DRAWER)
            shoot(page, tmp_path, f"{size}-history")
            page.get_by_role("button", name="Close history").click()
            expect(sidebar).to_be_hidden()
            expect(history).to_be_focused()
            history.click()
            expect(sidebar).to_be_visible()
            page.keyboard.press("Escape")
            expect(sidebar).to_be_hidden()
        else:
            expect(sidebar).to_be_visible()
            shoot(page, tmp_path, f"{size}-history")
            history.click()  # the sidebar folds away, and comes back
            expect(sidebar).to_be_hidden()
            check(page)
            history.click()
            expect(sidebar).to_be_visible()

        # The dark theme, from the menu.
        more.click()
        page.get_by_role("button", name="Switch to dark theme").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        expect(page.get_by_role("button", name="Use system theme")).to_be_visible()
        page.keyboard.press("Escape")
        check(page)
        shoot(page, tmp_path, f"{size}-dark")
    finally:
        context.close()


def test_the_page_fits_a_phone_without_javascript(
    serve: Serve, browser: Browser, tmp_path: Path
) -> None:
    server = serve(APP, env=ENV)
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url)
        # A page made while the chat starts reloads itself once it is ready.
        expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
        composer = page.get_by_role("textbox", name="Message")
        expect(composer).to_be_visible()
        check(page)
        shoot(page, tmp_path, "phone-no-js-empty")
        # "More" opens without JavaScript too (a <details>).
        page.get_by_role("button", name="More").click()
        menu = page.locator("#lc-menu .lc-menu-items")
        expect(menu.get_by_role("link", name="Export as Markdown")).to_be_visible()
        expect(menu.get_by_role("button", name="Switch to dark theme")).to_be_visible()
        expect(menu.get_by_role("button", name="Keyboard shortcuts")).to_have_count(0)
        check(page, MENU)
        shoot(page, tmp_path, "phone-no-js-menu")
        page.get_by_role("button", name="More").click()
        # A message, posted as a plain form.
        composer.fill("Show me a long word")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("article[data-type=assistant_message]")).to_have_count(1)
        check(page)
        shoot(page, tmp_path, "phone-no-js-chat")
        # "History" is a link to the history page.
        page.get_by_role("link", name="History").click()
        expect(page.get_by_role("navigation", name="Chat history")).to_be_visible()
    finally:
        context.close()
