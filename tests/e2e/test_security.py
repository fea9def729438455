"""The form token in a real browser: htmx sends it in a header, plain forms in a field, and
a write without it is refused even from the same browser (with its cookies)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Serve, assistant, composer, open_chat, send_button


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def page_token(page: Page) -> str:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    return token


def test_htmx_requests_carry_the_pages_form_token(serve: Serve, page: Page) -> None:
    server = serve("actions_app.py")
    open_chat(page, server.url)
    token = page_token(page)

    with page.expect_request(lambda r: r.method == "POST") as clicked:
        page.get_by_role("button", name="One").click()
    assert clicked.value.headers["hx-request"] == "true"
    assert clicked.value.headers["x-csrf-token"] == token
    expect(assistant(page).last.locator(".lc-content")).to_have_text("You picked 1")

    composer(page).fill("go")
    with page.expect_request(lambda r: r.method == "POST") as sent:
        send_button(page).click()
    assert sent.value.headers["x-csrf-token"] == token
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "POST") as stopped:
        page.get_by_role("button", name="Stop").click()
    assert stopped.value.status == 204
    assert stopped.value.request.headers["x-csrf-token"] == token

    # The same browser, with its cookies, but without the token: refused, nothing sent.
    before = assistant(page).count()
    api = page.context.request
    refused = api.post(f"{page.url}/messages", form={"content": "forged"})
    assert refused.status == 403
    assert "security token" in refused.text()
    wrong = api.post(f"{page.url}/messages", form={"content": "forged", "csrf_token": "x" + token})
    assert wrong.status == 403
    page.reload()
    expect(assistant(page)).to_have_count(before)
    assert "forged" not in page.get_by_role("log", name="Conversation").inner_text()


def test_plain_forms_carry_the_token_without_javascript(serve: Serve, no_js_page: Page) -> None:
    page = no_js_page
    server = serve("actions_app.py")
    page.goto(server.url)
    token = page_token(page)
    assert page.locator('#lc-composer input[name="csrf_token"]').get_attribute("value") == token

    with page.expect_response(lambda r: r.request.method == "POST") as clicked:
        page.get_by_role("button", name="One").click()
    assert clicked.value.status == 303
    assert clicked.value.request.headers.get("hx-request") is None
    assert f"csrf_token={token}" in (clicked.value.request.post_data or "")
    page.wait_for_load_state()
    expect(assistant(page).last.locator(".lc-content")).to_have_text("You picked 1")
