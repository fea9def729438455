"""Autoscroll: the conversation follows a streaming answer, unless the reader scrolled up."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send, wait_for_text

DISTANCE_TO_BOTTOM = "el => el.scrollHeight - el.scrollTop - el.clientHeight"

# Scrolls #lc-main to the top the way a reader would, and resolves once the page has seen
# that scroll (its scroll event fires at the next frame) with the position still at the
# top. A stream update that lands before the scroll event may legitimately pull the view
# back down (the reader had not scrolled yet as far as the page knew); then it tries again.
SCROLL_UP = """
async (el) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const deadline = performance.now() + 5000;
  while (performance.now() < deadline) {
    el.scrollTop = 0;
    await frame();
    await frame();
    if (el.scrollTop === 0) return true;
  }
  return false;
}
"""


def test_view_follows_the_stream_then_stays_where_the_reader_scrolled(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 900, "height": 500})
    gate = tmp_path / "scrolled"  # the second answer waits for it after its tenth paragraph
    server = serve("scroll_app.py", env={"SCROLL_GATE": str(gate)})
    open_chat(page, server.url)
    main = page.locator("#lc-main")
    streaming = chat_log(page).locator("article[data-streaming]")

    send(page, "long please")
    expect(assistant(page).first.locator(".lc-content")).to_contain_text("The end.")
    expect(streaming).to_have_count(0)
    assert main.evaluate("el => el.scrollHeight > 3 * el.clientHeight")  # it did overflow
    assert main.evaluate("el => el.scrollTop") > 0
    assert main.evaluate(DISTANCE_TO_BOTTOM) < 5, "the view did not follow the answer"

    send(page, "again")
    second = assistant(page).nth(1)
    wait_for_text(page, "article[data-streaming]", "Paragraph 5 ")
    assert main.evaluate(SCROLL_UP), "could not scroll up"
    length_at_scroll = len(second.inner_text())
    assert second.get_attribute("data-streaming") is not None, "the answer ended too soon"
    gate.touch()

    expect(second.locator(".lc-content")).to_contain_text("The end.")
    expect(streaming).to_have_count(0)
    assert len(second.inner_text()) > length_at_scroll  # it grew after the reader scrolled
    assert main.evaluate("el => el.scrollTop") == 0, "the view jumped back down"
    assert main.evaluate(DISTANCE_TO_BOTTOM) > 1000
