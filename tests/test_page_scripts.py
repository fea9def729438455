"""Which of lightchat's scripts each page loads, and that each is served.

lightchat.js runs on every page; lightchat.composer.js only where there is a composer (a
chat that is not read-only, a host page embedding a chat); lightchat.framed.js only on the
copilot's chat page (lightchat.js adds it to any other chat page it finds in a frame, see
tests/e2e/test_page_scripts.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from lightchat import LightChat, Message, Settings
from tests.helpers import Serve, echo_app

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

PACKAGE = Path(__file__).resolve().parents[1] / "lightchat"
SCRIPT = re.compile(r'<script src="([^"]+)"(?: defer)?></script>')
CORE = "lightchat.js"
COMPOSER = "lightchat.composer.js"
FRAMED = "lightchat.framed.js"


def scripts(page: str) -> list[str]:
    """The page's lightchat scripts, by file name, in order (a page's scripts come joined
    in one file, ``/-/static/lightchat.js+lightchat.composer.js+...``)."""
    names = [
        name
        for src in SCRIPT.findall(page)
        for name in src.split("?")[0].rsplit("/", 1)[1].split("+")
    ]
    return [name for name in names if name.startswith("lightchat.")]


def test_each_script_says_what_it_does_and_runs_in_strict_mode() -> None:
    for name in (CORE, COMPOSER, FRAMED):
        text = (PACKAGE / "static" / name).read_text()
        assert text.startswith("// lightchat"), name
        assert '(function () {\n  "use strict";' in text, name


async def test_a_chat_page_loads_the_composer_and_the_other_pages_do_not(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        page = await client.get(await site.new_chat(client))
        assert scripts(page.text) == [CORE, COMPOSER]
        versions = set(re.findall(r"/-/static/[^\"?]+\?v=(\w+)", page.text))
        assert len(versions) == 1  # one version for the files that go together
        assert len(SCRIPT.findall(page.text)) == 1  # the scripts come in one request
        for src in SCRIPT.findall(page.text):
            served = await client.get(src)
            assert served.status_code == 200, src
            assert "javascript" in served.headers["content-type"], src
        assert (await client.get(f"/-/static/{FRAMED}")).status_code == 200

        missing = await client.get("/chat/0123456789abcdef0123456789abcdef")
        assert missing.status_code == 404
        assert scripts(missing.text) == [CORE]


async def test_the_copilot_chat_page_loads_what_runs_in_a_frame(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(echo_app(Settings(name="Echo", app_dir=str(tmp_path), history=False))) as site:
        client = site.browser()
        url = (await client.get("/?client=copilot")).headers["location"]
        page = await client.get(url)
        assert 'class="lc-app lc-copilot"' in page.text
        assert scripts(page.text) == [CORE, COMPOSER, FRAMED]


async def test_a_read_only_chat_has_no_composer_script(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"echo {message.content}").send()

    async with serve(app, lifespan=True) as site:
        me = site.browser()
        url = (await me.get("/?client=copilot")).headers["location"]
        assert (await me.post(f"{url}/messages", data={"content": "hi"})).status_code == 303
        await site.services.chats.end(url.rsplit("/", 1)[1], site.owner(me))
        assert (await me.get(f"{url}/copilot")).headers["location"] == url
        page = (await me.get(url)).text
        assert 'class="lc-read-only"' in page  # no on_chat_resume: read-only
        assert scripts(page) == [CORE, FRAMED]

        history = await me.get("/history")
        assert history.status_code == 200
        assert scripts(history.text) == [CORE]


def test_a_host_page_embedding_a_chat_loads_the_composer_but_not_the_frame_script() -> None:
    env = Environment(autoescape=True, loader=FileSystemLoader(PACKAGE / "embed_templates"))
    page = env.from_string(
        '{% from "lightchat/embed.html" import head %}{{ head("/chat", version="1.0") }}'
    ).render()
    assert scripts(page) == [CORE, COMPOSER]
    assert '<script src="/chat/-/static/lightchat.composer.js?v=1.0" defer></script>' in page
