"""Untrusted text in the newer fields stays text: chat profiles, starters, settings widgets,
commands, modes, actions, elements, task lists, file questions and the user's display name.

Nothing may open a dialog or become an element: the page's Content-Security-Policy would
block inline handlers anyway, so the test looks for the elements themselves.
"""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, Locator, Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, send
from tests.xss_payloads import PAYLOADS

ENV = {"LIGHTCHAT_AUTH_SECRET": "e2e-secret-" + "s" * 40}
# As in apps/xss_more_app.py (not imported: that would register its callbacks here).
IMG, SCRIPT, SVG, LINK, HX = PAYLOADS[2], PAYLOADS[0], PAYLOADS[3], PAYLOADS[6], PAYLOADS[41]
QUOTE = '"><img src=x onerror=alert(9) id=pwn>'
INJECTED = (
    "img[onerror], [onload], [onclick], [onmouseover], [onfocus], [ontoggle], iframe, "
    'object, embed, #pwn, a[href^="javascript" i], [hx-on\\:click], [hx-get="/x"]'
)


def hostile(what: str, payload: str) -> str:
    return f"{what} {payload}"


def assert_inert(page: Page) -> None:
    expect(page.locator(INJECTED)).to_have_count(0)
    expect(chat_log(page).locator("script")).to_have_count(0)
    # lightchat's own icons (the messages' actions among them) are the only svg on the page;
    # none comes from the app's text.
    expect(page.locator("svg:not([aria-hidden='true'])")).to_have_count(0)
    sources = page.locator("script").evaluate_all("els => els.map(e => e.src)")
    assert sources
    assert all(re.search(r"/-/static/[^/]+\.js(\?v=[0-9a-f]+)?$", src) for src in sources), sources


def text_of(locator: Locator) -> str:
    return " ".join((locator.text_content() or "").split())


def test_hostile_text_in_newer_fields_is_shown_as_text(serve: Serve, page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    server = serve("xss_more_app.py", env=ENV)
    page.goto(server.url)
    page.get_by_label("Username").fill("eve")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}"))
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)

    # The user's display name, the profiles and their description, the starters.
    expect(page.get_by_role("button", name=hostile("Eve", IMG))).to_be_visible()
    picker = page.get_by_label("Chat profile")
    options = [" ".join(o.split()) for o in picker.locator("option").all_text_contents()]
    assert hostile("Profile A", SCRIPT) in options
    assert hostile("Profile B", QUOTE) in options
    description = page.locator(".lc-profile-description")
    expect(description).to_contain_text("Description")
    expect(description.locator("img, svg, a[href^='javascript' i]")).to_have_count(0)
    for label in (hostile("Starter A", IMG), hostile("Starter B", QUOTE)):
        expect(page.get_by_role("button", name=label, exact=True)).to_be_visible()

    # Commands and modes in the composer.
    expect(page.get_by_role("button", name="Search")).to_have_attribute(
        "title", hostile("Command help", IMG)
    )
    command_options = page.get_by_label("Command").locator("option").all_text_contents()
    assert any(hostile("Command help", IMG) in " ".join(o.split()) for o in command_options)
    tone = page.get_by_label(hostile("Tone", SCRIPT), exact=True)
    tone_options = [" ".join(o.split()) for o in tone.locator("option").all_text_contents()]
    assert tone_options == [hostile("Calm", IMG), hostile("Loud", QUOTE)]
    assert_inert(page)

    # Settings: labels, descriptions and tooltips.
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    name_box = dialog.get_by_label(hostile("Setting label", IMG), exact=True)
    expect(name_box).to_be_visible()
    expect(name_box).to_have_attribute("title", hostile("Setting tip", QUOTE))
    expect(dialog).to_contain_text(hostile("Setting help", SCRIPT))
    expect(dialog.get_by_label(hostile("Model", SVG), exact=True)).to_be_visible()
    expect(dialog).to_contain_text(hostile("Model help", HX))
    assert_inert(page)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # Actions, elements, a task list and a file question.
    send(page, "go")
    log = chat_log(page)
    question = log.get_by_label(hostile("Question", IMG), exact=True)
    expect(question).to_have_count(1)
    expect(question).to_have_attribute("accept", f".txt,{QUOTE},text/plain")
    expect(log).to_contain_text(f"(.txt, {QUOTE}, text/plain)")
    first = log.get_by_role("button", name=hostile("Action", IMG), exact=True)
    expect(first).to_be_visible()
    expect(first).to_have_attribute("title", hostile("Tip", QUOTE))
    second = log.get_by_role("button", name=hostile("Action 2", HX), exact=True)
    expect(second).to_have_attribute("title", SCRIPT)
    answer = assistant(page).filter(has_text="Elements")
    expect(answer).to_contain_text(hostile("Text", IMG))
    expect(answer.get_by_role("link", name=hostile("File", QUOTE))).to_have_attribute(
        "download", hostile("File", QUOTE)
    )
    expect(answer.get_by_role("img", name=hostile("Image", SVG))).to_be_visible()
    tasks = log.get_by_role("list", name=hostile("Tasks", SCRIPT))
    expect(tasks).to_be_visible()
    expect(tasks.locator("li")).to_have_text(hostile("Task", IMG))
    assert_inert(page)

    # A reload renders it all again from the server.
    page.reload()
    expect(chat_log(page).get_by_role("list", name=hostile("Tasks", SCRIPT))).to_be_visible()
    assert_inert(page)
    assert dialogs == []
