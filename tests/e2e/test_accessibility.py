"""Accessibility, checked by axe-core (tests/e2e/a11y.py) in both themes: the sign-in page,
the chat in each of its states (empty with starters, streaming, steps running and done,
elements, actions, questions back to the user, feedback, editing, an error), the dialogs of
the header (settings, readme, MCP servers, the page menu), the history sidebar and page.

Each theme is the browser's preference (``prefers-color-scheme``), which the default theme
follows; colour contrast is among the rules checked. A test goes through all its states
and fails at the end with every problem found, state by state.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect

from lightchat.store import default_database_url
from tests.analytics_data import seed
from tests.e2e.a11y import check, shown_theme, violations
from tests.e2e.helpers import APPS, Serve, assistant, chat_log, collect_errors, user_messages
from tests.helpers import LightchatServe, Server
from tests.mcp_servers.serving import PYTHON, with_python_path

APP = "a11y_app.py"
README = (
    "# About this assistant\n\nIt answers **every** question, [see more](https://example.com).\n"
)

pytestmark = pytest.mark.parametrize("theme", ["light", "dark"])


class Audit:
    """The problems found so far, state by state; a problem already listed for an earlier
    state (the same rule on the same element) is not listed again."""

    def __init__(self, page: Page, theme: str) -> None:
        self.page = page
        self.theme = theme
        self.found: list[str] = []
        self.seen: set[tuple[str, str]] = set()

    def check(self, what: str, include: str | None = None) -> None:
        # The page shows the theme asked for (a check of the check).
        assert shown_theme(self.page) == self.theme
        listing = []
        for problem in violations(self.page, include):
            new = [
                (target, failure)
                for target, failure in zip(problem.targets, problem.failures, strict=True)
                if (problem.id, target) not in self.seen
            ]
            self.seen.update((problem.id, target) for target, _ in new)
            if new:
                listing.append(f"[{problem.impact}] {problem.id}: {problem.help}")
                listing.extend(f"    {target}: {failure}" for target, failure in new)
        if listing:
            place = f"{what}, {self.theme} theme ({self.page.url})"
            self.found.append(f"-- {place}:\n" + "\n".join(listing))

    def assert_clean(self) -> None:
        assert not self.found, "axe found accessibility problems:\n" + "\n".join(self.found)


@pytest.fixture
def themed(browser: Browser, theme: str) -> Iterator[Page]:
    """A page whose browser prefers the theme under test."""
    # Without transitions, axe never sees a colour half-way through a fade.
    context = browser.new_context(
        color_scheme="dark" if theme == "dark" else "light", reduced_motion="reduce"
    )
    page = context.new_page()
    errors = collect_errors(page)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def server(serve: Serve, tmp_path: Path) -> Server:
    (tmp_path / "lightchat.md").write_text(README, encoding="utf-8")
    gates = tmp_path / "gates"
    gates.mkdir()
    env = {
        "A11Y_GATES": str(gates),
        "LIGHTCHAT_AUTH_SECRET": "e2e-a11y-secret-" + "z" * 32,
        "LIGHTCHAT_ALLOW_THREAD_SHARING": "true",
        "LIGHTCHAT_MCP": "true",
        "LIGHTCHAT_MCP_ALLOWED_EXECUTABLES": PYTHON,
        "PATH": with_python_path(),
    }
    return serve(APP, env=env)


def release(tmp_path: Path, name: str) -> None:
    """Let the app's "stream" or "steps" go on."""
    (tmp_path / "gates" / name).touch()


def wait_until_idle(page: Page) -> None:
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message", exact=True)


def send(page: Page, text: str) -> None:
    """Type a message and press Enter once the chat is idle; waits until it is shown."""
    before = user_messages(page).count()
    wait_until_idle(page)
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(user_messages(page)).to_have_count(before + 1)


def new_chat(page: Page, server: Server) -> None:
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    wait_until_idle(page)


def open_steps(page: Page) -> None:
    """Open every step in the log, nested ones too, and runs' timelines, so that their
    content is checked."""
    page.evaluate(
        "() => document.querySelectorAll('#lc-log :is(details[data-step-type],"
        " .lc-timeline details)').forEach(d => { d.open = true; })"
    )


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)


def test_the_check_finds_problems_despite_the_pages_policy(
    server: Server, themed: Page, theme: str
) -> None:
    """axe runs on the real page, under its Content Security Policy, and reports what it
    finds: an image without a text alternative and text too faint to read, added here."""
    page = themed
    page.goto(server.url)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    policy = page.evaluate(
        "() => fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    assert "script-src" in policy
    check(page, "the sign-in page")
    page.evaluate(
        """() => {
        const main = document.querySelector("main");
        const img = document.createElement("img");
        img.src = "data:,";
        img.width = img.height = 10;
        const faint = document.createElement("p");
        faint.textContent = "Hardly readable";
        faint.style.color = "rgb(128 128 128 / .25)";
        main.append(img, faint);
    }"""
    )
    found = {v.id: v for v in violations(page)}
    assert set(found) >= {"image-alt", "color-contrast"}, found
    assert found["image-alt"].impact == "critical"
    assert found["color-contrast"].targets == ["p"], found["color-contrast"]
    with pytest.raises(AssertionError, match=r"\[critical\] image-alt: .*\n    img: "):
        check(page, "a page with problems")


def test_sign_in_page(server: Server, themed: Page, theme: str) -> None:
    page = themed
    audit = Audit(page, theme)
    page.goto(server.url)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    audit.check("the sign-in page")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check("the sign-in page after a failed sign-in")
    audit.assert_clean()


def header_control(page: Page, name: str) -> Locator:
    """The header's button or link named ``name``, opening the page menu ("More") first if
    it sits there."""
    control = page.get_by_role("banner").get_by_role("button", name=name, exact=True)
    control = control.or_(page.get_by_role("banner").get_by_role("link", name=name, exact=True))
    control = control.or_(page.get_by_role("menuitem", name=name, exact=True))
    if not control.first.is_visible():
        page.get_by_role("button", name="More", exact=True).click()
    expect(control.first).to_be_visible()
    return control.first


def test_empty_chat_and_the_header_dialogs(server: Server, themed: Page, theme: str) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    expect(page.get_by_role("button", name="Write a poem", exact=True)).to_be_visible()
    audit.check("the empty chat with starters")

    page.get_by_role("button", name="Settings", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    audit.check("the settings dialog")
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    expect(dialog).to_have_count(0)

    more = page.get_by_role("button", name="More", exact=True)
    if more.count():
        menu_item = page.get_by_role("link", name="Export as Markdown", exact=True)
        more.click()
        expect(menu_item).to_be_visible()
        audit.check("the page menu open")
        more.click()
        expect(menu_item).to_be_hidden()

    header_control(page, "Readme").click()
    readme = page.get_by_role("dialog", name="Readme", exact=True)
    expect(readme).to_be_visible()
    audit.check("the readme dialog")
    readme.get_by_role("button", name="Close", exact=True).click()
    expect(readme).to_have_count(0)

    if page.locator("[data-lc-shortcuts]").count():
        header_control(page, "Keyboard shortcuts").click()
        keys = page.get_by_role("dialog", name="Keyboard shortcuts", exact=True)
        expect(keys).to_be_visible()
        audit.check("the keyboard shortcuts dialog")
        page.keyboard.press("Escape")
        expect(keys).to_be_hidden()

    header_control(page, "MCP servers").click()
    mcp = page.get_by_role("dialog", name="MCP servers", exact=True)
    expect(mcp).to_be_visible()
    audit.check("the MCP servers dialog")
    page.keyboard.press("Escape")
    expect(mcp).to_be_hidden()

    # The other theme, chosen with the header's switch (a cookie) instead of the browser's.
    other = "light" if theme == "dark" else "dark"
    header_control(page, f"Switch to {other} theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", other)
    audit.theme = other
    page.reload()
    expect(page.get_by_role("button", name="Write a poem", exact=True)).to_be_visible()
    audit.check("the empty chat in the theme chosen with the switch")
    audit.assert_clean()


def test_streaming_and_steps(server: Server, themed: Page, theme: str, tmp_path: Path) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    send(page, "stream")
    expect(assistant(page).last).to_contain_text("word4", timeout=15_000)
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    audit.check("the chat while an answer streams")
    release(tmp_path, "stream")
    expect(assistant(page).last).to_contain_text("end.")
    wait_until_idle(page)

    send(page, "steps")
    running = chat_log(page).locator('details[data-status="running"] > summary')
    expect(running.filter(has_text="fetch page")).to_have_count(1)
    open_steps(page)
    audit.check("the chat with nested steps running")
    release(tmp_path, "steps")
    expect(assistant(page).last).to_contain_text("Plan said")
    wait_until_idle(page)
    open_steps(page)
    timeline = chat_log(page).locator(".lc-timeline")
    if timeline.count():
        expect(timeline.locator("details")).to_have_attribute("open", "")
    audit.check("the chat with nested steps done (and the run's timeline)")
    audit.assert_clean()


def test_elements_and_toasts(server: Server, themed: Page, theme: str) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    send(page, "elements")
    expect(chat_log(page)).to_contain_text("Everything: see Details")
    expect(chat_log(page).get_by_role("img", name="red square", exact=True)).to_be_visible()
    expect(chat_log(page).get_by_role("list", name="Build steps", exact=True)).to_be_visible()
    audit.check("the chat with elements")
    page.get_by_role("log").get_by_role("link", name="Details", exact=True).or_(
        chat_log(page).get_by_role("button", name="Details", exact=True)
    ).first.click()
    side = page.get_by_role("region", name="Elements", exact=True)
    expect(side).to_contain_text("The details, at the side.")
    audit.check("the chat with a side element open")

    for kind, role in (("info", "status"), ("error", "alert")):
        send(page, f"toast {kind}")
        toast = page.get_by_role("alert" if role == "alert" else "status")
        expect(toast.filter(has_text=f"A {kind} notice")).to_be_visible()
        audit.check(f"the chat showing an {kind} toast")
    audit.assert_clean()


def test_actions_and_questions(server: Server, themed: Page, theme: str) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    send(page, "actions")
    expect(chat_log(page).get_by_role("button", name="One", exact=True)).to_be_visible()
    audit.check("the chat with actions")

    send(page, "ask text")
    expect(assistant(page).last).to_contain_text("Your favourite colour?")
    audit.check("the chat asking for text")
    composer(page).fill("blue")
    composer(page).press("Enter")
    expect(assistant(page).last).to_contain_text("Colour: blue")

    send(page, "ask file")
    upload = chat_log(page).get_by_label("Upload a text file")
    expect(upload).to_have_count(1)
    audit.check("the chat asking for a file")
    upload.set_input_files(files={"name": "a.txt", "mimeType": "text/plain", "buffer": b"text"})
    chat_log(page).get_by_role("button", name="Upload", exact=True).click()
    expect(assistant(page).last).to_contain_text("Got 1 file(s)")

    send(page, "ask action")
    expect(chat_log(page).get_by_role("button", name="Yes", exact=True)).to_be_visible()
    audit.check("the chat asking for an action")
    chat_log(page).get_by_role("button", name="Yes", exact=True).click()
    expect(assistant(page).last).to_contain_text("Chosen: yes")
    audit.assert_clean()


def test_message_tools_feedback_editing_and_an_error(
    server: Server, themed: Page, theme: str
) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    send(page, "hello")
    answer = assistant(page).last
    expect(answer).to_contain_text("Answer: hello")
    wait_until_idle(page)
    answer.hover()  # the message's tools show on hover
    expect(answer.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    audit.check("the chat with a message's tools shown")
    answer.get_by_role("button", name="Helpful", exact=True).click()
    expect(answer.get_by_role("textbox", name="Feedback comment", exact=True)).to_be_visible()
    answer.hover()
    audit.check("the chat with feedback given")
    user_messages(page).last.get_by_role("button", name="Edit", exact=True).click()
    expect(page.get_by_role("textbox", name="Edit message", exact=True)).to_be_visible()
    audit.check("the chat editing a message")
    page.get_by_role("textbox", name="Edit message", exact=True).press("Escape")

    send(page, "boom")
    error = chat_log(page).locator('article[data-type="error"]')
    expect(error).to_have_count(1)
    wait_until_idle(page)
    audit.check("the chat after an error")
    audit.assert_clean()


def test_history_sidebar_and_page(server: Server, themed: Page, theme: str) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    send(page, "first topic")
    expect(assistant(page).last).to_contain_text("Answer: first topic")
    new_chat(page, server)
    send(page, "second topic")
    expect(assistant(page).last).to_contain_text("Answer: second topic")
    page.reload()
    history = page.get_by_role("navigation", name="Chat history", exact=True)
    expect(history.get_by_role("link", name="first topic", exact=True)).to_be_visible()
    audit.check("the chat with the history sidebar")
    item = history.get_by_role("listitem").filter(
        has=page.get_by_role("link", name="first topic", exact=True)
    )
    item.hover()
    item.get_by_role("button", name="Rename", exact=True).click()
    expect(history.get_by_role("textbox", name="Chat name", exact=True)).to_be_focused()
    audit.check("the history sidebar renaming a chat")
    history.get_by_role("textbox", name="Chat name", exact=True).press("Escape")
    expect(history.get_by_role("textbox", name="Chat name", exact=True)).to_have_count(0)
    item.hover()
    item.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.get_by_role("dialog")
    expect(confirm.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    audit.check("the dialog confirming a chat's deletion")
    page.keyboard.press("Escape")
    expect(confirm).to_have_count(0)
    page.goto(f"{server.url}/history")
    expect(page.get_by_role("link", name="second topic", exact=True).first).to_be_visible()
    audit.check("the history page")
    audit.assert_clean()


def test_the_pages_shown_without_javascript(server: Server, themed: Page, theme: str) -> None:
    """The pages a browser without JavaScript gets instead of the dialogs."""
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    send(page, "elements")
    expect(chat_log(page).get_by_role("list", name="Build steps", exact=True)).to_be_visible()
    chat = page.url
    element = chat_log(page).get_by_role("link", name="Details", exact=True)
    view = element.get_attribute("href")
    assert view is not None
    chat_id = chat.rsplit("/", 1)[-1]
    pages = {
        "the chat settings page": f"{chat}/settings",
        "the MCP servers page": f"{chat}/mcp",
        "the readme page": f"{server.url}/readme?chat={chat_id}",
        "the rename page": f"{chat}/rename",
        "the delete confirmation page": f"{chat}/delete",
        "a side element's own page": f"{server.url}{view}" if view.startswith("/") else view,
    }
    for what, url in pages.items():
        response = page.goto(url)
        assert response is not None, (what, url)
        assert response.ok, (what, url, response.status)
        audit.check(what)
    audit.assert_clean()


def test_chat_profiles_and_files_attached_in_the_composer(
    serve: Serve, themed: Page, theme: str
) -> None:
    page = themed
    audit = Audit(page, theme)
    server = serve("profiles_app.py")
    new_chat(page, server)
    expect(page.get_by_label("Chat profile", exact=True)).to_be_visible()
    audit.check("a chat with chat profiles")
    files: list[FilePayload] = [
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"notes"},
        {"name": "data.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"},
    ]
    page.get_by_label("Attach files", exact=True).set_input_files(files=files)
    attached = page.get_by_role("list", name="Attached files", exact=True)
    expect(attached.get_by_role("listitem")).to_have_count(2)
    audit.check("the composer with two files attached")
    audit.assert_clean()


def test_a_narrow_screen(server: Server, browser: Browser, theme: str) -> None:
    """A phone's width: the header's icons, the page menu and the history as a drawer."""
    context = browser.new_context(
        color_scheme="dark" if theme == "dark" else "light",
        reduced_motion="reduce",
        viewport={"width": 390, "height": 800},
    )
    try:
        page = context.new_page()
        errors = collect_errors(page)
        audit = Audit(page, theme)
        sign_in(page, server)
        send(page, "hello")
        expect(assistant(page).last).to_contain_text("Answer: hello")
        wait_until_idle(page)
        audit.check("the chat on a narrow screen")
        more = page.get_by_role("button", name="More", exact=True)
        if more.count():
            more.click()
            expect(header_control(page, "Readme")).to_be_visible()
            audit.check("the page menu open on a narrow screen")
            more.click()
        page.get_by_role("banner").get_by_role("button", name="History", exact=True).or_(
            page.get_by_role("banner").get_by_role("link", name="History", exact=True)
        ).click()
        history = page.get_by_role("navigation", name="Chat history", exact=True)
        expect(history.get_by_role("link", name="hello", exact=True)).to_be_visible()
        audit.check("the history drawer open on a narrow screen")
        audit.assert_clean()
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


def test_sharing_a_chat(server: Server, themed: Page, theme: str, tmp_path: Path) -> None:
    page = themed
    audit = Audit(page, theme)
    sign_in(page, server)
    release(tmp_path, "steps")
    send(page, "steps")
    expect(assistant(page).last).to_contain_text("Plan said")
    wait_until_idle(page)
    header_control(page, "Share").click()
    dialog = page.get_by_role("dialog", name="Share this chat", exact=True)
    expect(dialog).to_be_visible()
    link = dialog.get_by_role("link")
    expect(link).to_have_text(re.compile(r"/share/[0-9a-f]{32}$"))
    audit.check("the dialog sharing a chat")
    url = link.inner_text()
    page.goto(url)
    expect(assistant(page).last).to_contain_text("Plan said")
    open_steps(page)
    audit.check("a shared chat")
    response = page.goto(url.rsplit("/", 1)[0] + "/" + "0" * 32)
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check("a shared chat that does not exist")
    audit.assert_clean()


def test_debug_mode(
    lightchat_serve: LightchatServe, tmp_path: Path, themed: Page, theme: str
) -> None:
    """``--debug``: step timings, a traceback under an error, "Run details" and the replay."""
    page = themed
    audit = Audit(page, theme)
    server = lightchat_serve(
        APPS / "debug_app.py", "--debug", env={"LIGHTCHAT_APP_DIR": str(tmp_path)}
    )
    new_chat(page, server)
    send(page, "boom")
    error = chat_log(page).locator('article[data-type="error"]')
    expect(error.get_by_role("alert")).to_contain_text("ValueError")
    wait_until_idle(page)
    open_steps(page)
    error.locator("details.lc-traceback > summary").click()
    details = page.get_by_role("region", name="Run details", exact=True)
    details.locator("summary").first.click()
    expect(details.locator('li[data-kind="run"]').last).to_contain_text("running=false")
    audit.check("the chat in debug mode, its run details and a traceback open")
    details.get_by_role("link", name="Replay this chat", exact=True).click()
    controls = page.get_by_role("navigation", name="Replay controls", exact=True)
    controls.get_by_role("link", name="Last", exact=True).click()
    expect(chat_log(page).locator('article[data-type="error"]')).to_have_count(1)
    audit.check("the replay of a chat")
    audit.assert_clean()


def test_the_analytics_page(serve: Serve, themed: Page, theme: str, tmp_path: Path) -> None:
    """An admin's analytics: the figures of a period, and a chat opened from them."""
    page = themed
    audit = Audit(page, theme)
    with ThreadPoolExecutor(1) as pool:  # the known history, on a loop of its own
        pool.submit(asyncio.run, seed(default_database_url(tmp_path))).result()
    server = serve("analytics_app.py", env={"LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "a" * 40})
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("secret")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))
    for what, path in (
        ("the analytics page", "/analytics"),
        (
            "the analytics of a custom period",
            "/analytics?period=custom&from=2027-01-10&to=2027-01-12",
        ),
        ("a chat opened from the analytics", "/analytics/threads/t1"),
    ):
        response = page.goto(f"{server.url}{path}")
        assert response is not None
        assert response.ok, (what, response.status)
        audit.check(what)
    audit.assert_clean()
