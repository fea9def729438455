"""An app's own templates through `lightchat serve`: the page, the streamed answer and the
steps use the overrides, and the chat still works (the UI contract holds)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import APPS, Serve, assistant, chat_log, open_chat, send

APP = APPS / "templates_app"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The app's folder (LIGHTCHAT_APP_DIR), holding its templates/."""
    shutil.copytree(APP / "templates", tmp_path / "templates")
    return tmp_path


@pytest.mark.usefixtures("app_dir")
def test_the_apps_templates_render_the_page_and_the_stream(serve: Serve, page: Page) -> None:
    server = serve("templates_app/app.py")
    open_chat(page, server.url)
    expect(page).to_have_title(re.compile(r"^Custom · "))
    expect(page.get_by_test_id("heading")).to_have_text("Custom heading")
    welcome = assistant(page).first
    expect(welcome.get_by_test_id("signature")).to_have_text("Signed by the template")

    send(page, "hello there")  # arrives over the stream, rendered by the same templates
    answer = assistant(page).nth(1)
    expect(answer.locator(".lc-content")).to_have_text("You said: hello there")
    expect(answer.get_by_test_id("signature")).to_have_count(1)
    step = chat_log(page).locator('details[data-step-type="tool"]')
    expect(step.get_by_test_id("step-mark")).to_have_text("(custom step)")
    expect(step.locator("summary")).to_contain_text("count")
    expect(answer.get_by_role("button", name="Copy")).to_be_visible()  # the rest stays

    page.reload()  # the page renders what the stream showed, the same way
    expect(assistant(page).get_by_test_id("signature")).to_have_count(2)
    expect(chat_log(page).get_by_test_id("step-mark")).to_have_count(1)
