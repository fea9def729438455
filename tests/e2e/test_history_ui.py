"""History in the browser: rename, delete (with confirmation), search, feedback, export; with
JavaScript and without; on SQLite and, for real, on PostgreSQL.

Set LIGHTCHAT_TEST_DATABASE=postgresql to run every test here on PostgreSQL (each test
gets a database of its own); the restart test runs on PostgreSQL always.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    open_chat,
    page_menu,
    send,
    user_messages,
)
from tests.helpers import Server
from tests.pg import postgres_database

APP = "history_ui_app.py"


@pytest.fixture
def database() -> Iterator[dict[str, str]]:
    """The environment that picks the database: SQLite unless asked for PostgreSQL."""
    if os.environ.get("LIGHTCHAT_TEST_DATABASE") == "postgresql":
        with postgres_database() as url:
            yield {"LIGHTCHAT_DATABASE_URL": url}
    else:
        yield {}


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def sidebar(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Chat history")


def thread(page: Page, name: str) -> Locator:
    """A thread's list item in the sidebar, found by its link."""
    return (
        sidebar(page)
        .get_by_role("listitem")
        .filter(has=page.get_by_role("link", name=name, exact=True))
    )


def ask(page: Page, server: Server, question: str) -> str:
    """A new chat with one question answered; returns its URL."""
    open_chat(page, server.url)
    send(page, question)
    expect(assistant(page).last).to_contain_text("Answer 1:")
    return page.url


def plain_ask(page: Page, server: Server, question: str) -> str:
    """The same without JavaScript: the form post returns once the answer is there."""
    page.goto(server.url)
    # While on_chat_start runs, the page reloads itself every second: wait until it is done.
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    page.get_by_role("textbox", name="Message").fill(question)
    page.get_by_role("button", name="Send").click()
    expect(assistant(page).last).to_contain_text("Answer 1:")
    return page.url


# -- rename ---------------------------------------------------------------------------------


def test_rename_in_the_sidebar(serve: Serve, page: Page, database: dict[str, str]) -> None:
    server = serve(APP, database)
    ask(page, server, "first topic")
    chat_url = ask(page, server, "second topic")
    page.reload()  # the sidebar lists a chat once it has a name

    thread(page, "first topic").get_by_role("button", name="Rename").click()
    name = sidebar(page).get_by_role("textbox", name="Chat name")
    expect(name).to_be_focused()
    expect(name).to_have_value("first topic")
    name.fill("Holidays <2026>")
    name.press("Enter")
    expect(thread(page, "Holidays <2026>")).to_have_count(1)
    expect(sidebar(page).get_by_role("textbox", name="Chat name")).to_have_count(0)
    assert page.url == chat_url  # renamed in place

    # The open chat stays marked as the current page once renamed.
    thread(page, "second topic").get_by_role("button", name="Rename").click()
    sidebar(page).get_by_role("textbox", name="Chat name").fill("Work")
    sidebar(page).get_by_role("button", name="Save").click()
    expect(sidebar(page).get_by_role("link", name="Work")).to_have_attribute("aria-current", "page")
    # A blank name is refused in place, with a message.
    thread(page, "Work").get_by_role("button", name="Rename").click()
    sidebar(page).get_by_role("textbox", name="Chat name").fill("   ")
    sidebar(page).get_by_role("button", name="Save").click()
    expect(sidebar(page).get_by_role("alert")).to_have_text("Give the chat a name.")
    sidebar(page).get_by_role("link", name="Cancel").click()
    expect(thread(page, "Work")).to_have_count(1)
    # Escape gives up a rename.
    thread(page, "Work").get_by_role("button", name="Rename").click()
    sidebar(page).get_by_role("textbox", name="Chat name").fill("Never saved")
    sidebar(page).get_by_role("textbox", name="Chat name").press("Escape")
    expect(sidebar(page).get_by_role("textbox", name="Chat name")).to_have_count(0)
    expect(thread(page, "Work")).to_have_count(1)

    page.reload()
    links = sidebar(page).get_by_role("link")
    expect(links).to_have_text(["New chat", "Work", "Holidays <2026>"])


# -- delete ---------------------------------------------------------------------------------


def test_delete_asks_in_a_dialog(serve: Serve, page: Page, database: dict[str, str]) -> None:
    server = serve(APP, database)
    other = ask(page, server, "keep this one")
    current = ask(page, server, "delete me later")
    ask_url = ask(page, server, "delete me now")
    page.goto(current)

    # Cancel keeps it.
    thread(page, "delete me now").get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this chat?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("“delete me now” will be deleted")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert page.url == current

    # Another chat: it leaves the list, the page stays.
    thread(page, "delete me now").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(thread(page, "delete me now")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.url == current
    assert page.request.get(ask_url).status == 404

    # The open chat: the browser goes to a new chat.
    thread(page, "delete me later").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page).not_to_have_url(current)
    expect(page).to_have_url(re.compile(re.escape(server.url) + r"/chat/[0-9a-f]{32}$"))
    expect(chat_log(page).locator("article")).to_have_count(0)
    expect(sidebar(page).get_by_role("link")).to_have_text(["New chat", "keep this one"])
    assert page.request.get(current).status == 404
    assert page.request.get(other).status == 200


# -- search ---------------------------------------------------------------------------------


def test_search_filters_the_sidebar_as_you_type(
    serve: Serve, page: Page, database: dict[str, str]
) -> None:
    server = serve(APP, database)
    for question in ["Paris art", "Berlin food", "Rome by night"]:
        ask(page, server, question)
    page.reload()
    search = sidebar(page).get_by_role("searchbox", name="Search chats")
    links = sidebar(page).get_by_role("listitem").get_by_role("link")
    expect(links).to_have_count(3)

    search.fill("berlin")
    expect(links).to_have_text(["Berlin food"])
    # Content counts too: the tool step's output of "Rome by night" says "13 letters".
    search.fill("13 letters")
    expect(links).to_have_text(["Rome by night"])
    search.fill("nowhere")
    expect(links).to_have_count(0)
    expect(sidebar(page).get_by_role("status")).to_have_text("No chats match “nowhere”.")
    search.fill("")
    expect(links).to_have_text(["Rome by night", "Berlin food", "Paris art"])


def test_search_rename_and_delete_without_javascript(
    serve: Serve, no_js_page: Page, database: dict[str, str]
) -> None:
    page = no_js_page
    server = serve(APP, database)
    plain_ask(page, server, "alpha plans")
    chat_url = plain_ask(page, server, "beta plans")

    # Search: a GET form to a page of results.
    search = sidebar(page).get_by_role("searchbox", name="Search chats")
    search.fill("alpha")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/history\?"))
    results = sidebar(page).get_by_role("listitem").get_by_role("link")
    expect(results).to_have_text(["alpha plans"])
    page.get_by_role("link", name="Back to the chat").click()
    assert page.url == chat_url

    # Rename: a page with the form, then back to the chat.
    thread(page, "alpha plans").get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="Rename chat")).to_be_visible()
    page.get_by_label("Chat name").fill("Alpha, renamed")
    page.get_by_role("button", name="Save").click()
    assert page.url == chat_url
    expect(thread(page, "Alpha, renamed")).to_have_count(1)

    # An empty name is refused with a message.
    thread(page, "Alpha, renamed").get_by_role("button", name="Rename").click()
    page.get_by_label("Chat name").fill(" ")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("Give the chat a name.")
    page.get_by_role("link", name="Cancel").click()
    assert page.url == chat_url

    # Delete: a confirmation page; deleting the open chat leads to a new one.
    thread(page, "beta plans").get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete this chat?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Delete").click()
    assert page.url != chat_url
    assert re.fullmatch(re.escape(server.url) + r"/chat/[0-9a-f]{32}", page.url)
    expect(sidebar(page).get_by_role("listitem").get_by_role("link")).to_have_text(
        ["Alpha, renamed"]
    )


# -- feedback -------------------------------------------------------------------------------


def pressed(answer: Locator) -> list[str | None]:
    return [
        answer.get_by_role("button", name=name, exact=True).get_attribute("aria-pressed")
        for name in ("Helpful", "Not helpful")
    ]


def test_feedback_persists_across_reload_and_reopening(
    serve: Serve, page: Page, database: dict[str, str]
) -> None:
    server = serve(APP, database)
    chat_url = ask(page, server, "rate this")
    answer = assistant(page).first
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    not_helpful = answer.get_by_role("button", name="Not helpful", exact=True)
    expect(helpful).to_have_attribute("aria-pressed", "false")
    expect(answer.get_by_role("textbox", name="Feedback comment")).to_have_count(0)

    helpful.click()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    comment = answer.get_by_role("textbox", name="Feedback comment")
    comment.fill("Short and right")
    # The box shows what was typed before it is saved: wait for the answer to the save.
    with page.expect_response(lambda r: r.request.method == "POST") as saved:
        answer.get_by_role("button", name="Save comment").click()
    assert saved.value.status == 200

    page.reload()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(not_helpful).to_have_attribute("aria-pressed", "false")
    expect(answer.get_by_role("textbox", name="Feedback comment")).to_have_value("Short and right")

    # Reopened from the history.
    ask(page, server, "another chat")
    sidebar(page).get_by_role("link", name="rate this").click()
    assert page.url == chat_url
    expect(helpful).to_have_attribute("aria-pressed", "true")

    # The other verdict replaces it; the same again takes it back.
    not_helpful.click()
    expect(not_helpful).to_have_attribute("aria-pressed", "true")
    expect(helpful).to_have_attribute("aria-pressed", "false")
    not_helpful.click()
    expect(not_helpful).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(user_messages(page)).to_have_count(1)
    assert pressed(assistant(page).first) == ["false", "false"]


def test_feedback_is_a_form_without_javascript(
    serve: Serve, no_js_page: Page, database: dict[str, str]
) -> None:
    page = no_js_page
    server = serve(APP, database)
    chat_url = plain_ask(page, server, "judge me")

    def post(button: str) -> None:
        """Press a button of the feedback form; return once the chat page is back."""
        with page.expect_response(lambda r: r.request.method == "GET") as back:
            assistant(page).first.get_by_role("button", name=button, exact=True).click()
        assert back.value.request.redirected_from is not None  # the 303 after the POST
        assert back.value.url == chat_url  # the fragment (#msg-...) stays in the browser
        page.wait_for_load_state()
        assert page.url.startswith(chat_url + "#msg-")

    post("Not helpful")
    assert pressed(assistant(page).first) == ["false", "true"]
    assistant(page).first.get_by_role("textbox", name="Feedback comment").fill("too vague")
    post("Save comment")
    assert assistant(page).first.get_by_role("textbox", name="Feedback comment").input_value() == (
        "too vague"
    )
    assert pressed(assistant(page).first) == ["false", "true"]
    post("Not helpful")  # the same again takes it back
    assert pressed(assistant(page).first) == ["false", "false"]
    assert assistant(page).first.get_by_role("textbox", name="Feedback comment").count() == 0


# -- export ---------------------------------------------------------------------------------


def download(page: Page, link: str) -> str:
    with page.expect_download() as info:
        page_menu(page).get_by_role("link", name=link).click()
    path = info.value.path()
    assert path is not None
    return Path(path).read_text(encoding="utf-8")


def test_export_contents_match_the_chat(serve: Serve, page: Page, database: dict[str, str]) -> None:
    server = serve(APP, database)
    ask(page, server, "What about `code`?")
    send(page, "And a second one")
    expect(assistant(page)).to_have_count(2)
    expect(assistant(page).last).to_contain_text("Answer 2: And a second one")
    assistant(page).first.get_by_role("button", name="Helpful", exact=True).click()
    expect(assistant(page).first.get_by_role("textbox", name="Feedback comment")).to_be_visible()

    questions = user_messages(page).locator(".lc-content").all_inner_texts()
    answers = assistant(page).locator(".lc-content").all_inner_texts()
    steps = chat_log(page).locator("details[data-step-type]")
    expect(steps).to_have_count(2)
    step_names = steps.locator(".lc-step-name").all_inner_texts()

    markdown = download(page, "Export as Markdown")
    assert markdown.startswith("# What about `code`?\n")
    assert "Tags: e2e." in markdown
    # The user's messages too show rendered (user_message_markdown); the export keeps them.
    assert questions == ["What about code?", "And a second one"]
    assert "## You\n\nWhat about `code`?\n" in markdown
    assert "## You\n\nAnd a second one\n" in markdown
    # The page shows the answers rendered; the export keeps their markdown.
    assert "## Assistant\n\nAnswer 1: **What about `code`?**\n" in markdown
    assert "## Assistant\n\nAnswer 2: **And a second one**\n" in markdown
    assert [a.replace("`", "") for a in answers] == [
        "Answer 1: What about code?",
        "Answer 2: And a second one",
    ]
    assert markdown.count("### Step: lookup (tool)") == 2 == len(step_names)
    assert "Input:\n\n```\nWhat about `code`?\n```" in markdown
    assert "Output:\n\n18 letters" in markdown
    assert "> Feedback: Helpful" in markdown

    data = json.loads(download(page, "Export as JSON"))
    assert data["name"] == "What about `code`?"
    assert data["tags"] == ["e2e"]
    messages = [(s["name"], s["output"]) for s in data["steps"] if s["type"].endswith("_message")]
    assert messages == [
        ("You", "What about `code`?"),
        ("Assistant", "Answer 1: **What about `code`?**"),
        ("You", "And a second one"),
        ("Assistant", "Answer 2: **And a second one**"),
    ]
    tools = [(s["name"], s["input"], s["output"]) for s in data["steps"] if s["type"] == "tool"]
    assert tools == [
        ("lookup", "What about `code`?", "18 letters"),
        ("lookup", "And a second one", "16 letters"),
    ]
    assert data["steps"][2]["feedback"] == {"value": 1, "comment": None}


# -- PostgreSQL, for real -------------------------------------------------------------------


def test_a_chat_survives_a_restart_on_postgresql(serve: Serve, page: Page) -> None:
    with postgres_database() as url:
        env = {"LIGHTCHAT_DATABASE_URL": url}
        server = serve(APP, env)
        chat_url = ask(page, server, "kept in postgres")
        send(page, "and resumed")
        expect(assistant(page).last).to_contain_text("Answer 2: and resumed")
        assistant(page).first.get_by_role("button", name="Helpful", exact=True).click()
        expect(
            assistant(page).first.get_by_role("textbox", name="Feedback comment")
        ).to_be_visible()

        server.stop()
        server = serve(APP, env)  # the fixture keeps the test's history folder (and secret)
        page.goto(chat_url.replace(chat_url.split("/chat/")[0], server.url))
        expect(user_messages(page).locator(".lc-content")).to_have_text(
            ["kept in postgres", "and resumed"]
        )
        assert pressed(assistant(page).first) == ["true", "false"]
        expect(sidebar(page).get_by_role("link", name="kept in postgres")).to_have_attribute(
            "aria-current", "page"
        )
        # on_chat_resume rebuilt the count from the thread's metadata.
        send(page, "third")
        expect(assistant(page).last).to_contain_text("Answer 3: third")
        server.stop()
