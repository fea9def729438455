"""The copilot widget in a real browser: a plain HTML page on another port, one script tag.

The host page is served by a tiny static server (another origin than the app); the app is
the example in examples/13_copilot, told by LIGHTCHAT_FRAME_ANCESTORS which host may frame it.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame, FrameLocator, Page, expect

from tests.e2e.helpers import Serve
from tests.helpers import free_port

EXAMPLE = "examples/13_copilot/app.py"
EXAMPLE_SERVER = "http://localhost:8000"
"""Where the example's host.html loads the app from (tests point it at their server)."""
ROOT = Path(__file__).resolve().parents[2]

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme pricing</title></head>
<body>
  <h1>Acme pricing</h1>
  <ul id="received"></ul>
  <script src="{server}/copilot/index.js"></script>
  {extra}
  <script>
    window.addEventListener("message", function (event) {{
      if (event.origin !== "{server}" || (event.data && event.data.__lightchat)) return;
      var item = document.createElement("li");
      item.textContent = JSON.stringify(event.data);
      document.getElementById("received").appendChild(item);
    }});
  </script>
</body>
</html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


Host = Callable[..., str]
"""The `host` fixture: serve a host page for an app's URL on a port; the page's URL."""


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """Serve a host page loading the widget from an app's address, on a port; returns the
    page's URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(server_url: str, port: int, extra: str = "", html: str | None = None) -> str:
        folder = tmp_path / f"host{len(servers)}"
        folder.mkdir()
        html = HOST_PAGE.format(server=server_url, extra=extra) if html is None else html
        (folder / "index.html").write_text(html)
        handler = functools.partial(_Quiet, directory=str(folder))
        static = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=static.serve_forever, daemon=True).start()
        servers.append(static)
        return f"http://127.0.0.1:{port}/index.html"

    yield start
    for static in servers:
        static.shutdown()
        static.server_close()


def open_panel(page: Page) -> FrameLocator:
    button = page.get_by_role("button", name="Open chat")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("region", name="Chat")).to_be_visible()
    return page.frame_locator('iframe[title="Chat"]')


def chat_frame(page: Page) -> Frame:
    handle = page.locator('iframe[title="Chat"]').element_handle()
    frame = handle.content_frame() if handle is not None else None
    assert frame is not None
    return frame


def test_the_widget_opens_the_chat_and_carries_window_messages_both_ways(
    serve: Serve, host: Host, page: Page
) -> None:
    port = free_port()
    host_origin = f"http://127.0.0.1:{port}"
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"'self' {host_origin}"})
    page.goto(host(server.url, port))

    chat = open_panel(page)
    log = chat.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("I am the copilot of this page")  # client_type == "copilot"
    expect(chat.get_by_role("navigation", name="Chat history")).to_have_count(0)

    # A chat message typed in the panel, answered in the panel (and told to the host page),
    # once the panel's scripts run (htmx marks the composer when they all have).
    expect(chat.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    chat.get_by_role("textbox", name="Message").fill("hello")
    chat.get_by_role("textbox", name="Message").press("Enter")
    expect(log.locator('article[data-type="assistant_message"]').last).to_contain_text(
        "You said: hello"
    )
    received = page.locator("#received li")
    expect(received).to_have_text(['{"type":"said","content":"hello"}'])

    # The host posts a window message: @on_window_message answers with send_window_message.
    page.evaluate("window.postLightchatWindowMessage({title: document.title})")
    expect(received).to_have_text(
        [
            '{"type":"said","content":"hello"}',
            '{"type":"ack","received":{"title":"Acme pricing"}}',
        ]
    )

    # A message from the host page, as if typed (Chainlit's sendChainlitMessage).
    page.evaluate("window.sendChainlitMessage({content: 'from the page'})")
    expect(log.locator('article[data-type="assistant_message"]').last).to_contain_text(
        "You said: from the page (you are looking at Acme pricing)"
    )
    expect(received).to_have_count(3)

    # The chat page reloads: what it posted before is not posted again.
    frame = chat_frame(page)
    frame.evaluate("document.documentElement.dataset.old = ''; location.reload()")
    # The new page's scripts have run (htmx marks the composer once they all have): it
    # listens again.
    ready = chat.locator("html:not([data-old]) #lc-composer[data-htmx-powered]")
    expect(ready).to_have_count(1)
    expect(log).to_contain_text("You said: from the page")
    page.evaluate("window.postLightchatWindowMessage('again')")
    expect(received).to_have_count(4)
    expect(received.last).to_contain_text('{"type":"ack","received":"again"}')

    # Escape in the panel closes it, and the keyboard goes back to the button.
    chat.get_by_role("textbox", name="Message").press("Escape")
    button = page.get_by_role("button", name="Open chat")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    expect(page.get_by_role("region", name="Chat")).to_be_hidden()


def kept_chat(page: Page, server_url: str) -> str | None:
    """The chat id the widget keeps in the host page's sessionStorage."""
    key = f"lightchat-copilot:{server_url}:chat"
    kept: str | None = page.evaluate("key => sessionStorage.getItem(key)", key)
    return kept


def shown_chat(page: Page) -> str:
    """The id of the chat in the panel, from its frame's address (/chat/ID)."""
    return chat_frame(page).url.rsplit("/", 1)[1]


def wait_until_kept(page: Page, server_url: str, chat: str) -> None:
    """The widget keeps the chat once the panel's page says it is ready."""
    deadline = time.monotonic() + 10
    while kept_chat(page, server_url) != chat:
        assert time.monotonic() < deadline, f"the widget keeps {kept_chat(page, server_url)!r}"
        page.wait_for_timeout(50)


def say(chat: FrameLocator, text: str) -> None:
    """Send a message in the panel and wait for the example's answer."""
    expect(chat.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    # No run going (on_chat_start's is over): while one goes, Enter does nothing.
    expect(chat.get_by_role("button", name="Send")).to_be_enabled()
    chat.get_by_role("textbox", name="Message").fill(text)
    chat.get_by_role("textbox", name="Message").press("Enter")
    answers = chat.locator('article[data-type="assistant_message"]')
    expect(answers.last).to_contain_text(f"You said: {text}")


def test_the_panel_keeps_its_chat_when_the_host_page_reloads(
    serve: Serve, host: Host, page: Page
) -> None:
    port = free_port()
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"http://127.0.0.1:{port}"})
    page.goto(host(server.url, port))

    chat = open_panel(page)
    say(chat, "remember me")
    first = shown_chat(page)
    wait_until_kept(page, server.url, first)

    # The host page reloads: the panel opens on the same chat, with what was said in it.
    page.reload()
    chat = open_panel(page)
    log = chat.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("You said: remember me")
    assert shown_chat(page) == first

    # "New chat" in the panel: the new chat is the one kept from now on.
    chat.get_by_role("link", name="New chat").click()
    expect(log).not_to_contain_text("remember me")
    say(chat, "the second one")
    second = shown_chat(page)
    assert second != first
    wait_until_kept(page, server.url, second)

    page.reload()
    chat = open_panel(page)
    log = chat.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("You said: the second one")
    expect(log).not_to_contain_text("remember me")
    assert shown_chat(page) == second


@pytest.mark.parametrize("stored", ["0123456789abcdef0123456789abcdef", "../../logout?x=1"])
def test_a_kept_chat_the_server_does_not_know_gives_a_new_chat(
    serve: Serve, host: Host, page: Page, stored: str
) -> None:
    """An id the server does not know (ended without history, another browser's, made up)
    and a value that is no chat id at all: the panel opens a new chat, which is kept."""
    port = free_port()
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"http://127.0.0.1:{port}"})
    url = host(server.url, port)
    page.goto(url)
    key = f"lightchat-copilot:{server.url}:chat"
    page.evaluate("([key, value]) => sessionStorage.setItem(key, value)", [key, stored])
    page.reload()

    chat = open_panel(page)
    expect(chat.get_by_role("log", name="Conversation")).to_contain_text(
        "I am the copilot of this page"
    )
    fresh = shown_chat(page)
    assert fresh != stored
    wait_until_kept(page, server.url, fresh)


def test_a_host_the_app_does_not_allow_gets_no_chat_and_no_messages(
    serve: Serve, host: Host, page: Page
) -> None:
    allowed = f"http://127.0.0.1:{free_port()}"
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"'self' {allowed}"})
    page.goto(host(server.url, free_port()))  # another port: not the one allowed
    # The browser refuses to show the chat in the frame: an error page takes its place.
    with page.expect_event("framenavigated", lambda frame: frame.url.startswith("chrome-error:")):
        open_panel(page)
    page.evaluate("window.postLightchatWindowMessage('hello?')")
    chat = page.frame_locator('iframe[title="Chat"]')
    expect(chat.get_by_role("log", name="Conversation")).to_have_count(0)
    expect(page.locator("#received li")).to_have_count(0)


def test_a_chainlit_page_mounts_the_widget_with_its_own_call(
    serve: Serve, host: Host, page: Page
) -> None:
    port = free_port()
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"http://127.0.0.1:{port}"})
    mount = f'<script>window.mountChainlitWidget({{chainlitServer: "{server.url}"}});</script>'
    page.goto(host(server.url, port, mount))
    page.wait_for_load_state("load")
    expect(page.get_by_role("button", name="Open chat")).to_have_count(1)
    page.evaluate("window.toggleChainlitCopilot()")
    chat = page.frame_locator('iframe[title="Chat"]')
    expect(chat.get_by_role("log", name="Conversation")).to_contain_text("copilot of this page")


def test_the_chat_calls_a_function_of_the_host_page_and_shows_its_answer(
    serve: Serve, host: Host, page: Page
) -> None:
    """The example's own host.html, pointed at this server: its get_price function looks
    the plan up in the page's price table."""
    port = free_port()
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"'self' http://127.0.0.1:{port}"})
    example_page = (ROOT / "examples" / "13_copilot" / "host.html").read_text()
    page.goto(host(server.url, port, html=example_page.replace(EXAMPLE_SERVER, server.url)))

    chat = open_panel(page)
    log = chat.get_by_role("log", name="Conversation")
    expect(chat.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    answers = log.locator('article[data-type="assistant_message"]')
    box = chat.get_by_role("textbox", name="Message")

    # "price pro": the app calls the page's get_price, which answers from its arguments.
    box.fill("price pro")
    box.press("Enter")
    expect(answers.last).to_contain_text("The page says Pro costs $20 a month.")

    box.fill("price gold")
    box.press("Enter")
    expect(answers.last).to_contain_text("The page has no plan called gold.")
    # The calls are no window messages: the host page's "message" list stays empty.
    expect(page.locator("#received li")).to_have_count(0)
