"""examples/25_mcp in Chromium: the chat connects the server the app ships, the question
is answered with its tools, each call a tool step showing its arguments and result, and
"MCP servers" lists the app's server with its tools."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send, wait_until_idle
from tests.helpers import ROOT
from tests.mcp_servers.serving import with_python_path

EXAMPLE = ROOT / "examples" / "25_mcp"


def test_the_mcp_example_answers_with_its_servers_tools(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    # The served app's folder is the test's own (LIGHTCHAT_APP_DIR): its settings and its
    # server go there; `python` is the test interpreter.
    for name in ("lightchat.toml", "server.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    server = serve("examples/25_mcp/app.py", env={"PATH": with_python_path()})
    open_chat(page, server.url)
    send(page, "What's the weather in Paris, in Fahrenheit?")
    expect(assistant(page).last.locator(".lc-content")).to_have_text(
        "Paris: sunny, 21 °C (69.8 °F)."
    )
    wait_until_idle(page)

    log = chat_log(page)
    steps = log.locator('details[data-step-type="tool"]')
    expect(steps).to_have_count(2)
    weather, fahrenheit = steps.nth(0), steps.nth(1)
    expect(weather.locator("summary")).to_contain_text("get_weather")
    expect(weather).to_have_attribute("data-status", "done")
    expect(fahrenheit.locator("summary")).to_contain_text("to_fahrenheit")
    weather.locator("summary").click()
    expect(weather).to_contain_text('"city": "Paris"')
    expect(weather).to_contain_text("Paris: sunny, 21 °C")

    page.get_by_role("button", name="MCP servers").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("weather")
    expect(dialog).to_contain_text("get_weather")
    expect(dialog).to_contain_text("to_fahrenheit")
