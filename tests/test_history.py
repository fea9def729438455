"""History: what sessions publish reaches the store once per state, and comes back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lightchat import LightChat, Message, Settings
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.chat.history import History
from lightchat.chat.session import ChatSession
from lightchat.chat.threads import ThreadLink, recency_groups, thread_dict
from lightchat.domain.events import Entry
from lightchat.store import StepRecord

pytestmark = pytest.mark.anyio


async def _history(tmp_path: Path) -> History:
    history = History("", str(tmp_path))
    await history.start()
    assert await history.wait_ready()
    return history


def _chats(app: LightChat, history: History) -> Chats:
    def record(session: ChatSession, entry: Entry) -> None:
        history.observe(session.owner, session.thread_id, entry)

    return Chats(
        app,
        MemoryBus(),
        Settings(token_batch_ms=5),
        message_factory=Message.from_data,
        observer=record,
    )


async def test_a_streamed_answer_is_saved_whole_without_a_write_per_token(tmp_path: Path) -> None:
    app = LightChat()
    writes: list[str] = []

    @app.on_message
    async def answer(message: Message) -> None:
        reply = Message(content="")
        for token in ["one ", "two ", "three"]:
            await reply.stream_token(token)
        await reply.send()

    history = await _history(tmp_path)
    chats = _chats(app, history)
    store = history.store
    assert store is not None
    one, many = store.upsert_step, store.upsert_steps  # type: ignore[attr-defined]

    async def count_one(step: StepRecord, *, owner: str | None) -> None:
        writes.append(step.id)
        await one(step, owner=owner)

    async def count_many(steps: list[StepRecord], *, owners: dict[str, str]) -> None:
        writes.extend(step.id for step in steps)
        await many(steps, owners=owners)

    store.upsert_step = count_one  # type: ignore[method-assign]
    store.upsert_steps = count_many  # type: ignore[attr-defined]
    try:
        async with asyncio.timeout(10):
            session = chats.create("browser-1")
            await session.send_user_message("count please")
            await history.flush()
            stored = await history.load(session.id, "browser-1")
        assert stored is not None
        outputs = [(step.type, step.output) for step in stored.steps]
        assert outputs == [("user_message", "count please"), ("assistant_message", "one two three")]
        assert stored.thread.name == "count please"
        # The streamed message is written when it starts and when it ends: at most twice.
        reply_id = stored.steps[1].id
        assert 1 <= writes.count(reply_id) <= 2
        assert await history.load(session.id, "someone-else") is None
    finally:
        await chats.close_all()
        await history.close()


async def test_a_resumed_chat_shows_its_past_and_runs_on_chat_resume(tmp_path: Path) -> None:
    app = LightChat()
    resumed: list[dict[str, Any]] = []
    resumed_event = asyncio.Event()

    @app.on_message
    async def answer(message: Message) -> None:
        await Message(content=f"re: {message.content}").send()

    @app.on_chat_resume
    async def resume(thread: dict[str, object]) -> None:
        resumed.append(thread)
        resumed_event.set()

    history = await _history(tmp_path)
    chats = _chats(app, history)
    try:
        async with asyncio.timeout(10):
            first = chats.create("b")
            await first.send_user_message("hello")
            await first.close()
            stored = await history.load(first.id, "b")
            assert stored is not None
            again = chats.resume(first.id, "b", history.items(stored), thread_dict(stored))
            assert again.id == first.id
            assert not again.read_only
            texts = [getattr(item, "content", None) for item in again.transcript.roots()]
            assert texts == ["hello", "re: hello"]
            await resumed_event.wait()
        assert [step["output"] for step in resumed[0]["steps"]] == ["hello", "re: hello"]
    finally:
        await chats.close_all()
        await history.close()


def test_recency_groups_sort_threads_into_the_sidebars_sections() -> None:
    now = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    links = [
        ThreadLink("a", "today", now - timedelta(hours=1)),
        ThreadLink("b", "yesterday", now - timedelta(days=1)),
        ThreadLink("c", "last week", now - timedelta(days=5)),
        ThreadLink("d", "long ago", now - timedelta(days=40)),
    ]
    groups = recency_groups(links, now)
    assert [(label, [link.id for link in group]) for label, group in groups] == [
        ("Today", ["a"]),
        ("Yesterday", ["b"]),
        ("Previous 7 days", ["c"]),
        ("Older", ["d"]),
    ]
