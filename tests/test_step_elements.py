"""A step's elements (``cl.Step(elements=...)``, ``step.elements``): shown in the step, live
and on the page, their side panel and files served to their chat only, written to the
history and shown again when the chat is reopened."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.domain.events import (
    ElementData,
    StepData,
    StepEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import HTMX, Serve, assert_inert, steps_in, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def sources_app(settings: Settings) -> LightChat:
    """Answers with a retrieval step holding a source (a side text, set in sync code) and
    a tool step holding an inline text and a file (set in async code)."""
    app = LightChat(settings=settings)

    @app.on_message
    async def main(message: Message) -> None:
        with cl.Step(name="retrieve", type="retrieval") as step:
            step.elements = [cl.Text(name="Source 1", content=HOSTILE, display="side")]
            step.output = "Source 1"
        async with cl.Step(name="lookup", type="tool") as lookup:
            lookup.elements = [
                cl.Text(name="excerpt", content="Paris is the capital of France."),
                cl.File(name="notes.txt", content=b"the notes"),
            ]
        await Message(content=f"Answer to {message.content}").send()

    return app


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(name="Bot", app_dir=str(tmp_path), **overrides)


def side_link(page: str, name: str) -> str:
    found = re.search(rf'href="([^"]+/view)"[^>]*hx-target="#lc-side"[^>]*>{name}<', page)
    assert found is not None, name
    return found.group(1)


def download_link(page: str, name: str) -> str:
    found = re.search(rf'<a class="lc-file" href="([^"]+)" download="{name}">', page)
    assert found is not None, name
    return found.group(1)


async def test_a_steps_elements_show_in_it_live_and_on_the_page(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(sources_app(settings_for(tmp_path))) as site:
        me = site.browser()
        url = await site.chat(me, "capital?")
        session = site.session(me, url)
        shown = {s.name: s for s in steps_in(await site.idle(session)) if s.status == "done"}
        retrieve, lookup = shown["retrieve"], shown["lookup"]
        assert [(e.name, e.display) for e in retrieve.elements] == [("Source 1", "side")]
        assert [(e.name, e.kind) for e in lookup.elements] == [
            ("excerpt", "text"),
            ("notes.txt", "file"),
        ]
        assert lookup.elements[1].key is not None  # its bytes kept in the chat's storage

        page = (await me.get(url)).text
        step_html = page[page.index(f'id="step-{retrieve.id}"') :]
        assert f'id="step-{retrieve.id}-elements"' in step_html
        assert "Paris is the capital of France." in page
        panel = await me.get(side_link(page, "Source 1"), headers=HTMX)
        assert panel.status_code == 200
        assert "&lt;script&gt;alert(" in panel.text  # the node's text, escaped
        assert_inert(panel.text)
        assert (await me.get(download_link(page, "notes.txt"))).content == b"the notes"

        # The live stream draws each step's partial with its elements, linked to the chat.
        view = StreamView(
            Renderer(Settings(), "v1"), Transcript(), base="", chat_url=url, interval=1
        )
        live = "".join(chunk.data for chunk in view.feed(await session.bus.read(session.id), 0.0))
        assert f'id="step-{lookup.id}-elements"' in live
        assert f'href="{url}/elements/' in live

        # Another browser gets nothing of them.
        other = site.browser()
        await site.new_chat(other)
        assert (await other.get(side_link(page, "Source 1"))).status_code == 404
        assert (await other.get(download_link(page, "notes.txt"))).status_code == 404


def test_a_step_with_elements_crosses_processes_whole() -> None:
    step = StepData(
        id="s1",
        name="retrieve",
        elements=[ElementData(id="e1", kind="text", name="Source 1", content="text")],
    )
    again = event_from_json(event_to_json(StepEvent(step)))
    assert isinstance(again, StepEvent)
    assert again.step == step
    assert isinstance(again.step.elements[0], ElementData)


async def test_a_steps_elements_are_saved_and_shown_again_when_the_chat_is_reopened(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    app = sources_app(settings_for(tmp_path, database_url=database))
    async with serve(app, lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "capital?")
        owner = site.owner(me)
        thread = url.rsplit("/", 1)[1]
        await site.history.flush()
        stored = await site.history.load(thread, owner)
        assert stored is not None
        steps = {s.name: s.id for s in stored.steps}
        assert sorted((e.name, e.for_id) for e in stored.elements) == [
            ("Source 1", steps["retrieve"]),
            ("excerpt", steps["lookup"]),
            ("notes.txt", steps["lookup"]),
        ]

        await site.services.chats.end(thread, owner)  # as after a restart
        page = (await me.get(url)).text
        assert f'id="step-{steps["lookup"]}-elements"' in page
        assert "Paris is the capital of France." in page
        assert (await me.get(download_link(page, "notes.txt"))).content == b"the notes"
        panel = await me.get(side_link(page, "Source 1"), headers=HTMX)
        assert panel.status_code == 200


async def test_a_sync_step_shows_its_text_at_once_and_its_file_once_sent_from_async_code(
    tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=settings_for(tmp_path))
    seen: list[list[str]] = []

    @app.on_message
    async def main(message: Message) -> None:
        step = cl.Step(name="draw", type="tool")
        with step:
            step.elements = [
                cl.Text(name="caption", content="a chart"),
                cl.File(name="chart.csv", content=b"x,y"),
            ]
        shown = cl.context.session.transcript.items[step.id]
        assert isinstance(shown, StepData)
        seen.append([e.name for e in shown.elements])
        await step.update()

    async with serve(app) as site:
        me = site.browser()
        url = await site.chat(me, "draw")
        session = site.session(me, url)
        events = await wait_for_log(
            session.bus, session.id, lambda ev: any(len(s.elements) == 2 for s in steps_in(ev))
        )
    assert seen == [["caption"]]  # the file's bytes were not kept yet
    (step,) = {s.id: s for s in steps_in(events)}.values()
    assert [e.name for e in step.elements] == ["caption", "chart.csv"]
