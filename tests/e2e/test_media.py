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

    # Plotly: its own page in a sandboxed frame, where plotly.js draws the bars.
    frame = answer.locator('iframe[title="bar chart"]')
    expect(frame).to_have_attribute("sandbox", "allow-scripts")
    bars = page.frame_locator('iframe[title="bar chart"]').locator(".plotly .bars path")
    expect(bars).to_have_count(3, timeout=15_000)
    assert not [e for e in errors if "plotly" in e.lower()], errors
