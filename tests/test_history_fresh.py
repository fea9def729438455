"""Opening a new chat with history on costs no wait for the database: the chat page
reads no feedback for a chat that started in this process and has not been written yet
(the store holds nothing of it), and the sidebar lists the owner's chats still waiting
for their first write from memory instead of waiting for the writer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lightchat import LightChat, Message, Settings
from lightchat.bus import MemoryBus
from lightchat.chat import history as history_module
from lightchat.chat.chats import Chats
from lightchat.chat.history import History
from lightchat.chat.session import ChatSession
from lightchat.domain.events import Entry
from lightchat.store import Pagination

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

OWNER = "browser-1"


async def test_a_new_chat_reads_no_feedback_until_it_is_written(tmp_path: Path) -> None:
    app = LightChat()

    @app.on_message
    async def answer(message: Message) -> None:
        await Message(content=f"echo: {message.content}").send()

    history = History("", str(tmp_path))
    await history.start()
    assert await history.wait_ready()
    store = history.store
    assert store is not None
    reads: list[str] = []
    listed = store.list_feedback

    async def list_feedback(thread_id: str, *, owner: str | None) -> Any:
        reads.append(thread_id)
        return await listed(thread_id, owner=owner)

    store.list_feedback = list_feedback  # type: ignore[method-assign]

    def record(session: ChatSession, entry: Entry) -> None:
        history.observe(session.owner, session.thread_id, entry)

    chats = Chats(app, MemoryBus(), Settings(), message_factory=Message.from_data, observer=record)
    try:
        async with asyncio.timeout(10):
            session = chats.create(OWNER)
            assert session.fresh
            # Its page, before anything of it is written: no read.
            assert await history.feedback(session.thread_id, OWNER, fresh=True) == {}
            assert reads == []
            await session.send_user_message("hello")
            await history.flush()
            answer_id = [
                item.id
                for item in session.transcript.items.values()
                if getattr(item, "type", "") == "assistant_message"
            ][-1]
            given = await history.give_feedback(session.thread_id, answer_id, OWNER, value=1)
            assert given is not None
            reads.clear()
            # Written now: its pages read the feedback, and show it.
            shown = await history.feedback(session.thread_id, OWNER, fresh=True)
            assert shown[answer_id].value == 1
            assert reads == [session.thread_id]
            # A chat reopened from the history (not fresh) always reads.
            assert await history.feedback("reopened", OWNER) == {}
            assert reads == [session.thread_id, "reopened"]
    finally:
        await chats.close_all()
        await history.close()


async def test_the_sidebar_lists_a_chat_waiting_for_its_first_write_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_module, "WRITE_DELAY_S", 60.0)  # the writer gathers, idle
    app = LightChat()

    @app.on_message
    async def answer(message: Message) -> None:
        await Message(content=f"echo: {message.content}").send()

    history = History("", str(tmp_path))
    await history.start()
    assert await history.wait_ready()
    store = history.store
    assert store is not None

    def record(session: ChatSession, entry: Entry) -> None:
        history.observe(session.owner, session.thread_id, entry)

    chats = Chats(app, MemoryBus(), Settings(), message_factory=Message.from_data, observer=record)
    try:
        async with asyncio.timeout(10):
            first = chats.create(OWNER)
            await first.send_user_message("Plan a trip   to\nOslo")
            await history.flush()  # this one is in the store
            second = chats.create(OWNER)
            await second.send_user_message("What is the weather in Paris?")
            third = chats.create(OWNER)  # only its welcome, if any: no name yet
            links = await history.threads(OWNER)
            # Listed at once, newest first, named as the store names a chat...
            assert [(link.id, link.name) for link in links] == [
                (second.id, "What is the weather in Paris?"),
                (first.id, "Plan a trip to Oslo"),
            ]
            assert third.id not in [link.id for link in links]
            # ...while its write still waits: nobody waited for the writer.
            stored = await store.list_threads(OWNER, Pagination(first=50))
            assert [thread.id for thread in stored.threads] == [first.id]
            assert await history.threads("someone-else") == []
            await history.flush()
            written = await history.threads(OWNER)
            assert [(link.id, link.name) for link in written] == [
                (second.id, "What is the weather in Paris?"),
                (first.id, "Plan a trip to Oslo"),
            ]
    finally:
        await chats.close_all()
        await history.close()


async def test_the_history_says_when_its_store_is_open(tmp_path: Path) -> None:
    # lightchat serve freezes what the store's import brought, once it is open.
    history = History("", str(tmp_path))
    opened: list[bool] = []
    history.on_open = lambda: opened.append(history.store is not None)
    await history.start()
    try:
        assert await history.wait_ready()
        assert opened == [True]
    finally:
        await history.close()
