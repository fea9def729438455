"""Steps as quiet lines, the time going by in a running step, and a run's timeline: bars in
the order and nesting of the steps, live and after a reload, in both themes. Each state is
photographed (to tmp_path; to docs/screenshots/ with LIGHTCHAT_SCREENSHOTS=1) for a person
to look at."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send, wait_until_idle

ROOT = Path(__file__).resolve().parents[2]
DURATION = re.compile(r"^\d+\.\d\d s$")
TICKING = re.compile(r"^\d+\.\d s$")


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    """A screenshot of the conversation; kept in docs/ when asked for."""
    folder = (
        ROOT / "docs" / "screenshots"
        if os.environ.get("LIGHTCHAT_SCREENSHOTS") == "1"
        else tmp_path
    )
    page.screenshot(path=str(folder / f"steps-{name}.png"), animations="disabled")


def _check_timeline(page: Page) -> None:
    log = chat_log(page)
    timeline = log.locator(".lc-timeline")
    expect(timeline).to_have_count(1)
    # After the run's answer, the last thing the run left in the conversation.
    follows = timeline.evaluate("el => el.previousElementSibling.getAttribute('data-type')")
    assert follows == "assistant_message"
    summary = timeline.locator("summary")
    expect(summary).to_contain_text("Timeline")
    expect(summary).to_contain_text("4 steps")
    rows = timeline.locator(".lc-timeline-row")
    if timeline.locator("details[open]").count() == 0:
        summary.click()
    expect(rows).to_have_count(4)
    # Each row names its step and says its duration (and, for screen readers, its start).
    names = rows.locator(".lc-timeline-name").all_inner_texts()
    assert names == ["plan", "search", "rank", "write"], names
    depths = [row.get_attribute("data-depth") for row in rows.all()]
    assert depths == ["0", "1", "1", "0"], depths
    for row in rows.all():
        expect(row.locator(".lc-timeline-duration")).to_have_text(DURATION)
        expect(row.locator(".lc-visually-hidden")).to_contain_text(re.compile(r"starts at \d"))
    # The bars: a waterfall, each starting where the one before ended (or later).
    bars = [
        (float(x.rstrip("%")), float(w.rstrip("%")))
        for x, w in (
            (bar.get_attribute("x") or "", bar.get_attribute("width") or "")
            for bar in rows.locator("rect").all()
        )
    ]
    (plan_x, plan_w), (search_x, search_w), (rank_x, _), (write_x, write_w) = bars
    assert plan_x == 0, bars
    assert search_x < rank_x < write_x, bars
    assert search_x + search_w <= rank_x + 1, bars  # rank starts once search ended
    assert plan_x + plan_w <= write_x + 1, bars  # write starts once plan ended
    assert write_x + write_w <= 100.01, bars
    # The bar is drawn: as wide on screen as its share of the track.
    track = rows.nth(1).locator("svg").bounding_box()
    bar = rows.nth(1).locator("rect").bounding_box()
    assert track is not None
    assert bar is not None
    assert abs(bar["width"] - track["width"] * search_w / 100) < 2, (bar, track)


def test_a_finished_step_is_one_quiet_line_and_the_run_shows_its_timeline(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 900, "height": 760})
    server = serve("timeline_app.py", env={"TIMELINE_GATE": str(tmp_path / "gate")})
    open_chat(page, server.url)
    send(page, "research")
    expect(assistant(page).first).to_have_text(re.compile("Lighthouses guide ships."))
    wait_until_idle(page)
    log = chat_log(page)

    # A finished step: "Used <name>", its duration, closed, on one short line, no frame.
    write = log.locator('details[data-step-type="llm"]')
    expect(write).to_have_attribute("data-status", "done")
    expect(write).not_to_have_attribute("open", "")
    summary = write.locator(":scope > summary")
    expect(summary.locator(".lc-step-title")).to_have_text("Used write")
    expect(summary.locator(".lc-step-name")).to_have_text("write")
    expect(summary.locator(".lc-step-duration")).to_have_text(DURATION)
    box = summary.bounding_box()
    assert box is not None
    assert box["height"] < 34, box
    style = write.evaluate("el => getComputedStyle(el).borderTopWidth")
    assert style == "0px", style
    # Opened, the nested steps stand indented inside their parent.
    parent = log.locator('details[data-step-type="run"]')
    parent.locator(":scope > summary").click()
    inner = parent.locator('details[data-step-type="tool"]')
    expect(inner).to_have_count(2)
    outer_left = (parent.locator(":scope > summary").bounding_box() or {"x": 0})["x"]
    inner_left = (inner.first.locator(":scope > summary").bounding_box() or {"x": 0})["x"]
    assert inner_left > outer_left + 8, (outer_left, inner_left)

    parent.locator(":scope > summary").click()  # closed again: one quiet line

    _check_timeline(page)  # as the stream sent it when the run ended
    page.mouse.move(0, 0)
    log.locator(".lc-timeline").scroll_into_view_if_needed()
    shoot(page, tmp_path, "timeline-light")
    page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
    shoot(page, tmp_path, "timeline-dark")
    page.evaluate("document.documentElement.setAttribute('data-theme', 'light')")

    page.reload()
    _check_timeline(page)  # as the page renders it

    # A run of one step has no timeline; the earlier one stays where it was.
    send(page, "hello")
    expect(assistant(page)).to_have_count(2)
    wait_until_idle(page)
    expect(log.locator(".lc-timeline")).to_have_count(1)


def test_a_chat_reopened_from_the_history_shows_its_timeline(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    env = {"TIMELINE_GATE": str(tmp_path / "gate")}
    server = serve("timeline_app.py", env=env)
    open_chat(page, server.url)
    send(page, "research")
    expect(assistant(page).first).to_have_text(re.compile("Lighthouses guide ships."))
    wait_until_idle(page)
    chat_path = "/chat/" + page.url.split("/chat/", 1)[1]

    # A server started anew reads the chat from the history: the steps kept their times.
    server.stop()
    server = serve("timeline_app.py", env=env)
    page.goto(server.url + chat_path)
    expect(assistant(page)).to_have_count(1)
    _check_timeline(page)


def test_a_running_step_shows_its_time_going_by(serve: Serve, page: Page, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    server = serve("timeline_app.py", env={"TIMELINE_GATE": str(gate)})
    open_chat(page, server.url)
    send(page, "slow")
    step = chat_log(page).locator('details[data-step-type="tool"]')
    expect(step).to_have_attribute("data-status", "running")
    expect(step.locator(".lc-step-title")).to_have_text("Using crawl")
    clock = step.locator("time.lc-step-elapsed")
    expect(clock).to_have_text(TICKING)
    first = float(clock.inner_text().split()[0])
    # The time goes on by itself, with no event from the server.
    page.wait_for_function(
        "(first) => parseFloat(document.querySelector('time.lc-step-elapsed').textContent) > first",
        arg=first,
    )
    shoot(page, tmp_path, "running")

    gate.write_text("go", encoding="utf-8")
    expect(step).to_have_attribute("data-status", "done")
    expect(step.locator(".lc-step-title")).to_have_text("Used crawl")
    expect(step.locator("time.lc-step-elapsed")).to_have_count(0)
    expect(step.locator(".lc-step-duration")).to_have_text(DURATION)
    expect(assistant(page).first).to_have_text(re.compile("Crawled."))
    expect(chat_log(page).locator(".lc-timeline")).to_have_count(0)  # one step: no timeline
