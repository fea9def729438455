"""Chainlit's emitter and context, as apps call them: ``task_start``/``task_end``,
``update_token_count``, ``init_thread``, ``emit``, ``send_window_message``, ``send_call_fn``,
``context.current_run`` and ``context.loop``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.domain.events import (
    AppEvent,
    Entry,
    RunEvent,
    WindowEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import APP_EVENT, StreamView
from tests.helpers import WAIT_S, Serve, events_of, new_session

pytestmark = pytest.mark.anyio


def runs(events: Sequence[object]) -> list[bool]:
    """The busy/idle changes a chat's log shows, in order."""
    return [event.running for event in events if isinstance(event, RunEvent)]


async def test_task_start_holds_the_chat_busy_past_its_run_until_task_end() -> None:
    app = LightChat()
    go_on = asyncio.Event()
    jobs: list[asyncio.Task[None]] = []

    async def job() -> None:
        await cl.context.emitter.task_start()
        await go_on.wait()
        await cl.context.emitter.task_end()

    @app.on_message
    async def main(message: cl.Message) -> None:
        jobs.append(asyncio.create_task(job()))

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("start the job")
        await session.settled()
        # The run has ended, but the job it started holds the chat busy.
        assert runs(await events_of(session)) == [True]
        assert session.transcript.running
        go_on.set()
        await jobs[0]
    assert runs(await events_of(session)) == [True, False]
    assert not session.transcript.running
    await session.close()


async def test_task_end_during_a_run_waits_for_the_run() -> None:
    app = LightChat()
    busy: list[bool] = []

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.task_start()
        await cl.context.emitter.task_end()
        busy.append(cl.context.session.transcript.running)  # the run itself still goes

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("hello")
        await session.settled()
    assert busy == [True]
    assert runs(await events_of(session)) == [True, False]
    await session.close()


async def test_stop_lets_go_of_a_busy_state_no_callback_holds() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.task_start()  # and never task_end

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("hello")
        await session.settled()
    assert session.transcript.running
    assert await session.stop() is False  # nothing to cancel...
    assert not session.transcript.running  # ...but the page is no longer stuck busy
    await session.close()


async def test_update_token_count_adds_up() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.update_token_count(120)
        await cl.context.emitter.update_token_count(30)
        with pytest.raises(cl.ConfigError, match="whole number"):
            await cl.context.emitter.update_token_count("12")  # type: ignore[arg-type]

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("count")
    assert session.token_count == 150
    await session.close()


async def test_emit_passes_an_event_to_open_pages_once() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.emit("progress", {"done": 50, "label": "</script>"})
        with pytest.raises(cl.ConfigError, match="event's name"):
            await cl.context.emitter.emit("no spaces", {})
        with pytest.raises(cl.ConfigError, match="emitted event's data"):
            await cl.context.emitter.emit("progress", {"when": object()})

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("go")
    (event,) = [e for e in await events_of(session) if isinstance(e, AppEvent)]
    assert event == AppEvent("progress", {"done": 50, "label": "</script>"})
    assert event_from_json(event_to_json(event)) == event
    # Never replayed to a page opened later, or kept through a compacted log.
    assert event not in session.transcript.snapshot_events()
    view = StreamView(Renderer(Settings(), "v1"), Transcript(), base="", chat_url="/c", interval=1)
    (chunk,) = view.feed([Entry(7, event)], now=0.0)
    assert chunk.event == APP_EVENT
    assert json.loads(chunk.data) == {"seq": 7, "name": "progress", "data": event.data}
    await session.close()


async def test_window_messages_and_page_calls_through_the_emitter() -> None:
    app = LightChat()
    answers: list[object] = []

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.send_window_message({"heard": message.content})
        # No page answers: Chainlit's emitter gives None once the wait is over.
        answers.append(await cl.context.emitter.send_call_fn("title", {}, timeout=0.05))

    session = new_session(app)
    session.client_type = "copilot"
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("hi")
    assert WindowEvent({"heard": "hi"}) in await events_of(session)
    assert answers == [None]
    await session.close()


async def test_current_run_is_the_callbacks_run() -> None:
    app = LightChat()
    seen: list[tuple[str, str, str | None, bool]] = []

    @app.on_chat_start
    async def start() -> None:
        run = cl.context.current_run
        assert run is not None
        seen.append((run.name, run.type, run.parent_id, run is cl.context.current_run))

    @app.on_message
    async def main(message: cl.Message) -> None:
        run = cl.context.current_run
        assert run is not None
        assert cl.context.loop is asyncio.get_running_loop()
        seen.append((run.name, run.type, run.parent_id, run.id != message.id))

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.start()
        await session.send_user_message("hi")
    user_message = next(
        item
        for item in session.transcript.items.values()
        if getattr(item, "type", "") == "user_message"
    )
    assert seen == [
        ("on_chat_start", "run", None, True),
        ("on_message", "run", user_message.id, True),
    ]
    assert cl.context.current_run is None  # outside any run
    await session.close()


async def test_init_thread_names_the_thread(tmp_path: Path, database: str, serve: Serve) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), database_url=database))

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.init_thread("  Trip\n to   Lisbon  ")
        await cl.Message(content="Booked.").send()

    async with serve(app, lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "I want to go to Portugal in May")
        await site.history.flush()
        link = await site.history.thread(url.rsplit("/", 1)[1], site.owner(me))
        assert link is not None
        assert link.name == "Trip to Lisbon"  # not the first message's words


@pytest.mark.parametrize("auto_tag", [True, False])
async def test_a_thread_is_tagged_with_its_chat_profile(
    tmp_path: Path, database: str, serve: Serve, auto_tag: bool
) -> None:
    settings = Settings(app_dir=str(tmp_path), database_url=database, auto_tag_thread=auto_tag)
    app = LightChat(settings=settings)

    @app.set_chat_profiles
    async def profiles() -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name="Quick", markdown_description="Short answers.")]

    @app.on_message
    async def main(message: cl.Message) -> None:
        cl.user_session.set("tags", ["billing"])
        await cl.Message(content="Done.").send()

    async with serve(app, lifespan=True) as site:
        me = site.browser()
        url = (await me.get("/", params={"profile": "Quick"})).headers["location"]
        posted = await me.post(f"{url}/messages", data={"content": "refund"})
        assert posted.status_code == 303
        await site.history.flush()
        stored = await site.history.load(url.rsplit("/", 1)[1], site.owner(me))
        assert stored is not None
        assert stored.thread.tags == (["billing", "Quick"] if auto_tag else ["billing"])
