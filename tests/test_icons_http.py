"""Lucide icons by name, drawn on the server: Chainlit's spellings of a name, the SVG (hidden
from screen readers, the label stays the name), commands, actions, starters and chat
profiles that show them, an unknown name logged once, and ``set_commands``' ``selected``."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.ui.icons import icon_html, lucide_data, lucide_key, lucide_svg, ui_icon_data
from tests.helpers import Serve

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

IMAGE_SVG = re.compile(r'<svg aria-hidden="true" focusable="false"[^>]*lucide-image"><rect ')


def test_names_are_found_as_chainlit_spells_them() -> None:
    assert lucide_key("image") == "image"
    assert lucide_key("chevron-right") == lucide_key("ChevronRight") == "chevron-right"
    assert lucide_key("ChEvRoN-rIgHt") == "chevron-right"  # Chainlit lowercases each part
    assert lucide_key("IMAGE") == "image"
    assert lucide_key("plus-circle") == "circle-plus"  # an alias of lucide-react's
    assert lucide_key("ImageIcon") == lucide_key("LucideImage") == "image"
    assert lucide_key("no-such-icon") is None
    assert lucide_key("../image") is None
    assert lucide_key("") is None
    assert lucide_data()["version"] == "0.555.0"


ROOT = Path(__file__).resolve().parent.parent
LITERAL_ICON = re.compile(r'(?:\bicon|lucide_svg)\(\s*"([a-z0-9-]+)"')


def test_the_pages_own_icons_are_lucides_and_all_there() -> None:
    own = ui_icon_data()
    full = lucide_data()
    assert own["version"] == full["version"]
    assert own["svg"] == full["svg"]
    for key, children in own["icons"].items():
        assert children == full["icons"][key], key
    package = ROOT / "lightchat"
    sources = [*(package / "templates").glob("*.html"), *package.rglob("*.py")]
    named = {name for path in sources for name in LITERAL_ICON.findall(path.read_text())}
    assert {"copy", "thumbs-up", "arrow-up", "ellipsis"} <= named
    assert named <= set(own["icons"]), sorted(named - set(own["icons"]))


def test_a_chat_page_does_not_read_the_whole_icon_set() -> None:
    code = (
        "import lightchat as cl\n"
        "from starlette.testclient import TestClient\n"
        "from lightchat.ui.icons import lucide_data\n"
        "app = cl.LightChat()\n"
        "with TestClient(app) as client:\n"
        "    page = client.get('/', follow_redirects=True)\n"
        "    assert page.status_code == 200, page.status_code\n"
        "    assert 'lucide-arrow-up' in page.text\n"
        "print(lucide_data.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "0"


def test_an_icon_is_svg_hidden_from_screen_readers() -> None:
    svg = str(lucide_svg("image"))
    assert IMAGE_SVG.match(svg)
    assert svg.endswith("</svg>")
    assert 'stroke="currentColor"' in svg
    assert 'viewBox="0 0 24 24"' in svg
    # What an icon draws comes from the vendored data: only shapes, no script, no link.
    for tag in re.findall(r"<(\w+)", svg):
        assert tag in ("svg", "path", "rect", "circle", "line", "polyline", "polygon", "ellipse")
    assert str(icon_html("👍")) == '<span class="lc-icon" aria-hidden="true">👍</span>'
    assert "lucide-x" in str(icon_html("x"))  # a Lucide name of one letter is not an emoji
    assert str(icon_html("https://x.example/a.png")) == ""  # no image where Chainlit has none
    assert str(icon_html("https://x.example/a.png", images=True)) == (
        '<img class="lc-icon" src="https://x.example/a.png" alt="">'
    )
    assert str(icon_html("javascript:alert(1)", images=True)) == ""


def test_an_unknown_name_draws_nothing_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        assert str(lucide_svg("definitely-not-an-icon")) == ""
        assert str(lucide_svg("definitely-not-an-icon")) == ""
    said = [r.getMessage() for r in caplog.records if "definitely-not-an-icon" in r.getMessage()]
    assert said == ["Icon 'definitely-not-an-icon' is not a Lucide icon name; it is not shown."]


def icon_app(tmp_path: Path) -> LightChat:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), history=False))

    @app.on_chat_start
    async def start() -> None:
        await cl.context.emitter.set_commands(
            [
                {"id": "Picture", "icon": "image", "description": "Draw", "button": True},
                {"id": "Search", "icon": "globe", "button": True, "selected": True},
                {"id": "Mystery", "icon": "not-an-icon-at-all", "button": True},
                {"id": "Tea", "icon": "🍵", "button": True},
            ]
        )
        actions = [cl.Action(name="like", label="Like", icon="thumbs-up", payload={})]
        await Message(content="Hello", actions=actions).send()

    @app.set_starters
    async def starters(user: Any, language: Any) -> list[cl.Starter]:
        return [
            cl.Starter(label="Draw a cat", message="Draw a cat", icon="image"),
            cl.Starter(label="Logo", message="Show the logo", icon="/public/logo.svg"),
        ]

    @app.set_chat_profiles
    async def profiles(user: Any, language: Any) -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name="Artist", icon="palette"), cl.ChatProfile(name="Plain")]

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"command: {message.command}").send()

    return app


def button(page: str, marker: str) -> str:
    """The first ``<button>`` holding ``marker``, whole."""
    for found in re.finditer(r"<button\b.*?</button>", page, re.S):
        if marker in found.group(0):
            return found.group(0)
    raise AssertionError(f"no button with {marker!r}")


async def test_commands_actions_starters_and_profiles_show_their_icons(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(icon_app(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text

        picture = button(page, 'data-command="Picture"')
        assert IMAGE_SVG.search(picture)
        assert picture.endswith("</svg>Picture</button>")  # the name stays the label
        assert "lucide-globe" in button(page, 'data-command="Search"')
        assert "<svg" not in button(page, 'data-command="Mystery"')
        assert '<span class="lc-icon" aria-hidden="true">🍵</span>' in button(page, "Tea")
        assert "lucide-thumbs-up" in button(page, 'data-action-name="like"')
        draw = button(page, "Draw a cat")
        assert IMAGE_SVG.sub("", draw).count("<svg") == 0
        assert IMAGE_SVG.search(draw)
        assert '<img class="lc-starter-icon" src="/public/logo.svg" alt="">' in button(page, "Logo")
        profile = page.split('<form class="lc-profile"')[1].split("</form>")[0]
        assert "lucide-palette" in profile

        # The same icons in what the stream sends.
        renderer = site.services.renderer
        session = site.session(client, url)
        extras = renderer.composer_extras(session.transcript.commands, [])
        assert IMAGE_SVG.search(extras)
    unknown = [r for r in caplog.records if "not-an-icon-at-all" in r.getMessage()]
    assert len(unknown) == 1


async def test_a_selected_command_is_chosen_from_the_start(tmp_path: Path, serve: Serve) -> None:
    async with serve(icon_app(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        picker = page.split('<select name="command"')[1].split("</select>")[0]
        assert re.findall(r'<option value="(\w*)"[^>]*\sselected[ >]', picker) == ["Search"]
        assert 'aria-pressed="true"' in button(page, 'data-command="Search"')
        assert 'aria-pressed="false"' in button(page, 'data-command="Picture"')
        # Without JavaScript the form sends the chosen command with the message.
        posted = await client.post(
            f"{url}/messages", data={"content": "find tea", "command": "Search"}
        )
        assert posted.status_code == 303
        assert "command: Search" in (await client.get(url)).text
