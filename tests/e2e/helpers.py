"""Small helpers shared by the browser tests: find the chat's parts, send a message, and
record what the page showed over time.

The recorder answers questions that a single look at the page cannot ("was this message
ever shown half-written?") without racing the stream: a MutationObserver installed before
any page script runs writes down every state it sees, and the test reads the record once
the event it waits for has happened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from playwright.sync_api import Locator, Page, expect

from tests.helpers import Server

APPS = Path(__file__).parent / "apps"
"""The tiny apps of the browser tests, one per scenario."""


class Serve(Protocol):
    """The `serve` fixture of the browser tests: ``serve("app.py", env={...})`` starts the
    app (in tests/e2e/apps/, or a path from the repo root) and returns its server."""

    def __call__(self, app: str | Path, env: Mapping[str, str] | None = None) -> Server: ...


# Installed with page.add_init_script, so it also runs again after a reload. For each
# assistant message it keeps the distinct states it went through: whether it was marked
# as streaming, and its text (words only, so markup boundaries do not matter). It also
# notes any element the page should never contain inside the log.
RECORDER = r"""
(() => {
  const seen = [];
  const forbidden = [];
  const last = new Map();
  window.__lcSeen = seen;
  window.__lcForbidden = forbidden;
  const BAD = 'img, script, iframe, object, embed, [onerror], [onload], '
    + 'a[href^="javascript" i]';
  function snapshot() {
    const log = document.getElementById("lc-log");
    if (!log) return;
    for (const article of log.querySelectorAll('article[data-type="assistant_message"]')) {
      const content = article.querySelector(".lc-content");
      const words = (content ? content.textContent : "").split(/\s+/).filter(Boolean);
      const state = {
        id: article.id,
        streaming: article.hasAttribute("data-streaming"),
        text: words.join(" "),
      };
      const key = JSON.stringify(state);
      if (last.get(article.id) !== key) {
        last.set(article.id, key);
        seen.push(state);
      }
    }
    for (const step of log.querySelectorAll("details[data-status]")) {
      // A running step's clock ticks by itself: its time is not a state of the step.
      const summary = step.querySelector("summary");
      const shown = summary ? summary.cloneNode(true) : null;
      if (shown) shown.querySelectorAll("time.lc-step-elapsed").forEach((t) => t.remove());
      const state = {
        id: step.id,
        status: step.getAttribute("data-status"),
        summary: (shown ? shown.textContent : "").split(/\s+/).filter(Boolean).join(" "),
      };
      const key = JSON.stringify(state);
      if (last.get(step.id) !== key) {
        last.set(step.id, key);
        seen.push(state);
      }
    }
    for (const el of log.querySelectorAll(BAD)) forbidden.push(el.outerHTML);
  }
  new MutationObserver(snapshot).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
})();
"""


def collect_errors(page: Page) -> list[str]:
    """A list that fills with the page's uncaught JavaScript errors (as the `page` fixture
    checks them), for pages made outside that fixture."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def record(page: Page) -> None:
    """Record the states the chat goes through on this page (see ``seen``)."""
    page.add_init_script(RECORDER)


def seen(page: Page, element_id: str) -> list[dict[str, Any]]:
    """The distinct states recorded for one message or step, oldest first."""
    states: list[dict[str, Any]] = page.evaluate("window.__lcSeen")
    return [s for s in states if s["id"] == element_id]


def forbidden(page: Page) -> list[str]:
    """Elements that should never appear in the log, if any ever did."""
    found: list[str] = page.evaluate("window.__lcForbidden")
    return found


def words(text: str) -> str:
    """Text with its whitespace collapsed, as the recorder stores it."""
    return " ".join(text.split())


def chat_log(page: Page) -> Locator:
    """The conversation."""
    return page.get_by_role("log", name="Conversation")


def assistant(page: Page) -> Locator:
    """The assistant's messages, in order."""
    return chat_log(page).locator('article[data-type="assistant_message"]')


def user_messages(page: Page) -> Locator:
    """The user's messages, in order."""
    return chat_log(page).locator('article[data-type="user_message"]')


def composer(page: Page) -> Locator:
    """The message box."""
    return page.get_by_role("textbox", name="Message")


def send_button(page: Page) -> Locator:
    """The composer's "Send" button."""
    return page.get_by_role("button", name="Send")


def page_menu(page: Page) -> Locator:
    """The header's "More" menu, opened: the exports, "Share", "Readme", the theme switch."""
    menu = page.locator("#lc-menu")
    if menu.get_attribute("open") is None:
        page.get_by_role("button", name="More").click()
    expect(menu.locator(".lc-menu-items")).to_be_visible()
    return menu


def wait_until_idle(page: Page) -> None:
    """Wait until no run is going: "Send" is enabled (while a run goes, Enter does nothing)."""
    expect(send_button(page)).to_be_enabled()


def open_chat(page: Page, url: str) -> None:
    """Start a new chat; wait until its stream is connected and on_chat_start is done."""
    page.goto(url)
    expect(page).to_have_url(_chat_url_pattern(url))
    # htmx marks an element it has processed; before that, a submit is a plain form post.
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    wait_until_idle(page)


def send(page: Page, text: str) -> None:
    """Type a message and press Enter once the chat is idle; waits until it is shown."""
    before = user_messages(page).count()
    # Enter sends once the page's scripts have taken the composer over (htmx marks it).
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    wait_until_idle(page)
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(user_messages(page)).to_have_count(before + 1)


def wait_for_text(page: Page, selector: str, text: str) -> None:
    """Wait, checking every frame, until the element at ``selector`` contains ``text``.

    For acting in the middle of a stream: ``expect`` retries with growing pauses (up to a
    second), which can miss a moment that lasts only that long.
    """
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.textContent.includes(text)",
        arg=[selector, text],
    )


def _chat_url_pattern(url: str) -> re.Pattern[str]:
    return re.compile(re.escape(url) + r"/chat/[0-9a-f]+$")
