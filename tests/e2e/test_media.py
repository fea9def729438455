"""Audio, video, PDF, and plots from Matplotlib and Plotly, as Chromium shows them."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, collect_errors, open_chat, send


def test_media_and_plots_are_shown(serve: Serve, page: Page) -> None:
    errors = collect_errors(page)
    server = serve("media_app.py")
    open_chat(page, server.url)
    send(page, "media")
    answer = assistant(page).first
    expect(answer.locator('audio[controls][aria-label="silence.wav"]')).to_have_count(1)
    expect(answer.locator('video[controls][aria-label="clip.webm"]')).to_have_count(1)
    expect(answer.locator('iframe[title="doc.pdf"]')).to_have_attribute(
        "src", re.compile(r"/elements/\w+#page=1$")
    )
    # The audio file is served and plays as audio (its duration is known once loaded).
    audio = answer.locator("audio")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0.4", arg=audio.element_handle())

    # Pyplot: a PNG image the browser decodes.
    chart = answer.get_by_role("img", name="line chart")
    page.wait_for_function("i => i.complete && i.naturalWidth > 100", arg=chart.element_handle())

    # Plotly: each figure in a frame of its own, where plotly.js draws it.
    bars = page.frame_locator('iframe[title="bar chart"]').locator(".plotly .bars path")
    expect(bars).to_have_count(3, timeout=15_000)
    line = page.frame_locator('iframe[title="line plot"]').locator(".plotly .scatterlayer path")
    expect(line.first).to_be_visible(timeout=15_000)
    assert not [e for e in errors if "plotly" in e.lower()], errors
    # plotly.js crossed the network once for both figures, and not again after a reload.
    assert sorted(plotly_from_network(page)) == [False, True]
    page.reload()
    expect(page.frame_locator('iframe[title="line plot"]').locator(".plotly")).to_have_count(1)
    expect(page.frame_locator('iframe[title="bar chart"]').locator(".plotly")).to_have_count(1)
    assert plotly_from_network(page) == [False, False]


def plotly_from_network(page: Page) -> list[bool]:
    """For each figure's frame, whether its plotly.js came from the server (True) or from
    the browser's cache (False: no bytes transferred), as its Resource Timing says."""
    sizes: list[int] = page.evaluate(
        """() => [...document.querySelectorAll("iframe.lc-plot")].map((frame) => {
          const found = frame.contentWindow.performance.getEntriesByType("resource")
            .filter((entry) => entry.name.includes("/-/plotly/plotly.min.js"));
          return found.length === 1 ? found[0].transferSize : -1;
        })"""
    )
    assert len(sizes) == 2, sizes
    assert -1 not in sizes, sizes  # each frame loaded it once
    return [size > 0 for size in sizes]
