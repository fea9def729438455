"""Each page loads only the scripts it needs, in a real browser.

lightchat.js everywhere; lightchat.composer.js where there is a composer; lightchat.framed.js
where a chat page is framed. The copilot's panel is tests/e2e/test_copilot.py; here, a chat
page framed by a plain ``<iframe>`` (as an embedded Chainlit is), which lightchat.js finds
framed and completes with lightchat.framed.js.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, wait_until_idle
from tests.helpers import free_port

EXAMPLE = "examples/13_copilot/app.py"
SCRIPTS = ("lightchat.js", "lightchat.composer.js", "lightchat.framed.js")

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Intranet</title></head>
<body>
  <ul id="received"></ul>
  <iframe title="Framed chat" src="{server}/" width="600" height="500"></iframe>
  <script>
    window.addEventListener("message", function (event) {{
      if (event.origin !== "{server}") return;
      var item = document.createElement("li");
      item.textContent = JSON.stringify(event.data);
      document.getElementById("received").appendChild(item);
    }});
    window.post = function (data) {{
      document.querySelector("iframe").contentWindow.postMessage(data, "{server}");
    }};
  </script>
</body>
</html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Callable[[str, int], str]]:
    """Serve a page framing the app's "/" on a port; returns the page's URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(server_url: str, port: int) -> str:
        folder = tmp_path / "host"
        folder.mkdir()
        (folder / "index.html").write_text(HOST_PAGE.format(server=server_url))
        handler = functools.partial(_Quiet, directory=str(folder))
        static = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=static.serve_forever, daemon=True).start()
        servers.append(static)
        return f"http://127.0.0.1:{port}/index.html"

    yield start
    for static in servers:
        static.shutdown()
        static.server_close()


def loaded(requests: list[str]) -> list[str]:
    """Which of lightchat's scripts these requests fetched (a page's scripts come joined
    in one file, ``/-/static/lightchat.js+lightchat.composer.js+...``)."""
    names = [name for url in requests for name in url.split("?")[0].rsplit("/", 1)[1].split("+")]
    return [name for name in SCRIPTS if name in names]


def test_a_chat_page_in_a_plain_frame_talks_with_the_page_around_it(
    serve: Serve, host: Callable[[str, int], str], page: Page
) -> None:
    port = free_port()
    server = serve(EXAMPLE, env={"LIGHTCHAT_FRAME_ANCESTORS": f"http://127.0.0.1:{port}"})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(host(server.url, port))

    chat = page.frame_locator('iframe[title="Framed chat"]')
    log = chat.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("Open host.html to see me as a copilot")  # not the copilot
    expect(chat.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    received = page.locator("#received li")
    # Framed, the page says it is ready, naming its chat, as in the copilot's panel.
    expect(received.first).to_contain_text('"__lightchat":"ready","chat":"')
    assert loaded(requests) == list(SCRIPTS)

    # Both ways: the page's window message reaches @on_window_message, whose answer and the
    # answer to a message typed in the frame come back to the page.
    page.evaluate("window.post({title: document.title})")
    expect(received.last).to_have_text('{"type":"ack","received":{"title":"Intranet"}}')
    box = chat.get_by_role("textbox", name="Message")
    box.fill("hello")
    box.press("Enter")
    expect(log).to_contain_text("You said: hello (you are looking at Intranet)")
    expect(received.last).to_have_text('{"type":"said","content":"hello"}')


def test_only_a_page_with_a_composer_loads_its_script(serve: Serve, page: Page) -> None:
    server = serve(EXAMPLE)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(server.url + "/")
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    wait_until_idle(page)  # on_chat_start's run is over: Enter sends
    box = page.get_by_role("textbox", name="Message")
    box.fill("hi")
    box.press("Enter")  # the composer's script: Enter sends
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("You said: hi")
    assert loaded(requests) == ["lightchat.js", "lightchat.composer.js"]

    requests.clear()
    page.goto(server.url + "/chat/0123456789abcdef0123456789abcdef")  # no such chat
    page.wait_for_load_state("load")
    assert loaded(requests) == ["lightchat.js"]
    assert page.evaluate("typeof window.lightchat.text") == "function"
