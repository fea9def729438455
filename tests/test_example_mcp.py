"""examples/25_mcp, served as ``lightchat serve`` serves it: the chat connects the server
the app declares (``server.py``, over stdio), and a scripted model answers with its tools,
each call a tool step; the server's process ends with the chat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightchat.cli import load_app
from lightchat.domain.events import StepData
from tests.helpers import Serve
from tests.mcp_servers.serving import with_python_path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "25_mcp"

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(60),
    pytest.mark.usefixtures("isolated_import"),
]


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python`` (the server's command) is the test interpreter, as in lightchat's
    virtualenv."""
    monkeypatch.setenv("PATH", with_python_path())


async def test_the_example_answers_with_its_servers_tools_as_steps(
    serve: Serve, tmp_path: Path
) -> None:
    app = load_app(str(EXAMPLE / "app.py"))
    assert app.settings.mcp
    (server,) = app.settings.mcp_servers
    assert (server.name, server.kind, server.origin) == ("weather", "stdio", "app")
    app.configure(history=False)
    async with serve(app, lifespan=True) as site:
        browser = site.browser()
        url = await site.chat(browser, "What's the weather in Paris, in Fahrenheit?")
        session = site.session(browser, url)
        assert [answer.content for answer in site.answers(browser, url)] == [
            "Paris: sunny, 21 °C (69.8 °F)."
        ]
        steps = [item for item in session.transcript.items.values() if isinstance(item, StepData)]
        assert [(s.name, s.type, s.status) for s in steps] == [
            ("get_weather", "tool", "done"),
            ("to_fahrenheit", "tool", "done"),
        ]
        assert json.loads(steps[0].input) == {"city": "Paris"}
        assert steps[0].output == "Paris: sunny, 21 °C"
        assert steps[1].output == "69.8 °F"

        page = await browser.get(url)
        assert "Paris: sunny, 21 °C (69.8 °F)." in page.text
        assert "to_fahrenheit" in page.text

        posted = await browser.post(f"{url}/messages", data={"content": "And in Oslo?"})
        assert posted.status_code == 303
        assert site.answers(browser, url)[-1].content == "Oslo: snowing, -3 °C."

        (view,) = session.mcp.list()
        assert (view.name, view.status) == ("weather", "connected")
        assert [tool.name for tool in view.tools] == ["get_weather", "to_fahrenheit"]
        link = session.mcp_sessions["weather"][1]
    assert link.closed  # the server stopped: its chats ended, with their connections
