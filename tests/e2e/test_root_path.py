"""An app served under a path prefix behind a reverse proxy, as ``lightchat run --root-path``
is meant for: the proxy (tests/proxy.py) takes ``/assistant`` off each path, the app writes
every link, form, script and stream under it, and nothing reaches past it."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from tests.e2e.helpers import APPS, assistant, open_chat, send
from tests.helpers import LightchatServe
from tests.proxy import proxy_in_thread

PREFIX = "/assistant"


def test_a_chat_under_a_prefix_behind_a_reverse_proxy(
    lightchat_serve: LightchatServe, page: Page, tmp_path: Path
) -> None:
    server = lightchat_serve(
        APPS / "scale_app.py",
        "--root-path",
        PREFIX,
        env={"LIGHTCHAT_APP_DIR": str(tmp_path), "SCALE_WORDS": "5"},
    )
    with proxy_in_thread([("127.0.0.1", server.port)], prefix=PREFIX) as proxy:
        outside: list[str] = []
        failed: list[str] = []

        def check(response: Response) -> None:
            path = response.url.removeprefix(proxy.url)
            if path != PREFIX and not path.startswith(PREFIX + "/"):
                outside.append(path)
            if response.status >= 400:
                failed.append(f"{response.status} {path}")

        page.on("response", check)
        open_chat(page, proxy.url + PREFIX)
        expect(assistant(page).first.locator(".lc-content")).to_have_text("Hello")
        send(page, "hi")  # through htmx, its stream and the streamed tokens
        expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("w0 w1 w2 w3 w4")
        page.get_by_role("button", name="Ping").click()  # an action: a CSRF-checked post
        expect(assistant(page).nth(2).locator(".lc-content")).to_have_text("Pong")
        page.reload()
        expect(assistant(page)).to_have_count(3)
        history = page.get_by_role("navigation", name="Chat history")
        expect(history.get_by_role("link", name="hi")).to_have_attribute(
            "href", f"{PREFIX}{page.url.split(PREFIX, 1)[1]}"
        )
        assert outside == []  # every request the page made stayed under the prefix
        assert failed == []

        # Without the prefix the proxy answers itself: the app is not reachable there.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(proxy.url + "/-/health", timeout=5)
        assert refused.value.code == 404
        refused.value.close()  # an HTTPError holds the response open
