"""Toasts (cl.context.emitter.send_toast) in Chromium: a live region ("status", "alert" for
an error) that shows under the header, clear of the composer on a phone, and goes away
after a while or when clicked."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import Serve, composer, open_chat, send

APP = "layout_app.py"


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return {"x": found["x"], "y": found["y"], "width": found["width"], "height": found["height"]}


def apart(a: Locator, b: Locator) -> bool:
    """Whether the two elements' boxes do not overlap."""
    one, two = box(a), box(b)
    return (
        one["y"] + one["height"] <= two["y"]
        or two["y"] + two["height"] <= one["y"]
        or one["x"] + one["width"] <= two["x"]
        or two["x"] + two["width"] <= one["x"]
    )


def test_toasts_show_clear_of_the_composer_and_go(
    serve: Serve, browser: Browser, tmp_path: Path
) -> None:
    server = serve(APP)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page: Page = context.new_page()
        open_chat(page, server.url)
        send(page, "toast Saved to your notes")
        toast = page.get_by_role("status").filter(has_text="Saved to your notes")
        expect(toast).to_be_visible()
        form = page.locator("#lc-composer")
        assert apart(toast, form), "the toast covers the composer"
        assert apart(toast, page.locator("header")), "the toast covers the header"
        width = page.evaluate("innerWidth")
        assert box(toast)["x"] >= 0
        assert box(toast)["x"] + box(toast)["width"] <= width
        page.screenshot(path=str(tmp_path / "toast.png"), animations="disabled")
        toast.click()  # a click dismisses it
        expect(toast).to_have_count(0)

        send(page, "error The upload failed")
        alert = page.get_by_role("alert").filter(has_text="The upload failed")
        expect(alert).to_be_visible()
        assert apart(alert, form)
        composer(page).fill("typing on")  # the page stays usable meanwhile
        expect(alert).to_have_count(0, timeout=15_000)  # it goes by itself
    finally:
        context.close()
