"""The history sidebar follows the chats live: two pages of the same browser (two tabs),
each on its own chat. A chat's first message lists it in both, a rename or a delete in one
shows in the other, and each page marks its own chat as the current one, without a reload.
"""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Locator, Page, Route, expect

from tests.e2e.helpers import Serve, assistant, open_chat, send

APP = "history_ui_app.py"

# Counts the sidebar lists a page's stream brings (before lightchat.js holds one back).
COUNT_LIVE_LISTS = """() => {
  window.lcLiveLists = 0;
  window.addEventListener("htmx:before:swap", (event) => {
    for (const task of (event.detail && event.detail.tasks) || []) {
      const root = task.fragment && task.fragment.firstElementChild;
      if (root && root.id === "lc-threads" && root.hasAttribute("data-lc-live")) {
        window.lcLiveLists += 1;
      }
    }
  }, true);
}"""


def sidebar(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Chat history")


def link(page: Page, name: str) -> Locator:
    return sidebar(page).get_by_role("link", name=name, exact=True)


def thread(page: Page, name: str) -> Locator:
    """A thread's list item in the sidebar, found by its link."""
    found = page.get_by_role("link", name=name, exact=True)
    return sidebar(page).get_by_role("listitem").filter(has=found)


def highlighted(found: Locator) -> bool:
    """The link stands out: its background is not the sidebar's."""
    return bool(
        found.evaluate(
            """(a) => {
                const own = getComputedStyle(a).backgroundColor;
                const around = getComputedStyle(a.closest("nav")).backgroundColor;
                return own !== "rgba(0, 0, 0, 0)" && own !== around;
            }"""
        )
    )


def test_two_tabs_follow_each_others_chats(
    serve: Serve, page: Page, context: BrowserContext
) -> None:
    server = serve(APP)
    other = context.new_page()
    open_chat(page, server.url)
    open_chat(other, server.url)
    for tab in (page, other):
        expect(sidebar(tab)).to_contain_text("Your chats will appear here.")

    # The first message lists the chat in both tabs; it is the current one in its own.
    send(page, "first topic")
    expect(link(page, "first topic")).to_have_attribute("aria-current", "page")
    expect(link(other, "first topic")).to_have_count(1)
    expect(link(other, "first topic")).not_to_have_attribute("aria-current", "page")
    assert highlighted(link(page, "first topic"))
    assert not highlighted(link(other, "first topic"))
    expect(assistant(page).last).to_contain_text("Answer 1:")

    # The other tab's first message: listed on top in both, current in that tab.
    send(other, "second topic")
    for tab in (page, other):
        expect(sidebar(tab).locator(".lc-thread-link")).to_have_text(
            ["second topic", "first topic"]
        )
    expect(link(other, "second topic")).to_have_attribute("aria-current", "page")
    expect(link(page, "first topic")).to_have_attribute("aria-current", "page")

    # A rename in one tab shows in the other, still marked current there.
    thread(other, "first topic").get_by_role("button", name="Rename").click()
    sidebar(other).get_by_role("textbox", name="Chat name").fill("Holidays <2026>")
    sidebar(other).get_by_role("textbox", name="Chat name").press("Enter")
    expect(link(page, "Holidays <2026>")).to_have_attribute("aria-current", "page")
    expect(link(other, "Holidays <2026>")).to_have_count(1)

    # While a tab's reader renames a chat, a change from elsewhere waits for them.
    thread(page, "second topic").get_by_role("button", name="Rename").click()
    name = sidebar(page).get_by_role("textbox", name="Chat name")
    expect(name).to_be_focused()
    open_chat(other, server.url)  # a new chat in that tab
    send(other, "third topic")
    expect(link(other, "third topic")).to_have_attribute("aria-current", "page")
    expect(name).to_be_visible()  # still renaming: the list was held back
    name.press("Escape")
    expect(sidebar(page).locator(".lc-thread-link")).to_have_text(
        ["third topic", "second topic", "Holidays <2026>"]
    )

    # A delete in one tab takes the chat out of the other's list.
    thread(page, "second topic").get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(link(page, "second topic")).to_have_count(0)
    expect(link(other, "second topic")).to_have_count(0)
    expect(sidebar(other).locator(".lc-thread-link")).to_have_text(
        ["third topic", "Holidays <2026>"]
    )
    expect(link(other, "third topic")).to_have_attribute("aria-current", "page")

    # A change that arrives while the rename form is on its way waits for it too (else the
    # new list would take the place of the thread the form is for).
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(lambda url: "/rename" in url, hold)
    page.evaluate(COUNT_LIVE_LISTS)
    thread(page, "Holidays <2026>").get_by_role("button", name="Rename").click()
    page.wait_for_function("() => !!document.querySelector('#lc-threads .htmx-request')")
    open_chat(other, server.url)
    send(other, "fourth topic")
    expect(link(other, "fourth topic")).to_have_attribute("aria-current", "page")
    page.wait_for_function("() => window.lcLiveLists > 0")
    assert len(held) == 1
    held[0].continue_()
    name = sidebar(page).get_by_role("textbox", name="Chat name")
    expect(name).to_be_focused()
    expect(name).to_have_value("Holidays <2026>")
    name.press("Escape")
    expect(sidebar(page).locator(".lc-thread-link")).to_have_text(
        ["fourth topic", "third topic", "Holidays <2026>"]
    )
