"""A message the app's own route sends into a chat (``init_http_context``) shows in the
open page at once, without a reload."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, open_chat, send


def post(url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


def test_a_webhook_writes_into_the_open_chat(serve: Serve, page: Page) -> None:
    server = serve("webhook_app.py")
    open_chat(page, server.url)
    send(page, "build main")
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "Building; I will tell you here when it is done."
    )
    thread_id = page.url.rsplit("/", 1)[1]
    assert post(f"{server.url}/hooks/build/{thread_id}", {"status": "passed"}) == 200
    expect(assistant(page).last.locator(".lc-content")).to_have_text("The build passed.")
    with pytest.raises(urllib.error.HTTPError) as missing:
        post(f"{server.url}/hooks/build/{'0' * 32}", {"status": "failed"})
    assert missing.value.code == 404
    missing.value.close()  # an HTTPError holds the response open
