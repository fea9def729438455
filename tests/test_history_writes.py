"""How the history writes: what waits goes in batches, in order; a bad write costs only itself.

A real ``History`` on a real SQLite file; the states are noted as sessions note them
(``observe``), all at once, so the writer finds them waiting together.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest

from lightchat.chat import history as history_module
from lightchat.chat.history import History
from lightchat.domain.events import (
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    StepData,
    StepEvent,
)
from lightchat.store import SQLStore, StepRecord, record_from_item

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[History]:
    made = History("", str(tmp_path))
    await made.start()
    assert await made.wait_ready(), made.failed
    try:
        yield made
    finally:
        await made.close()


def batches(history: History) -> list[list[str]]:
    """Record the ids of every batch written from now on."""
    store = history.store
    assert isinstance(store, SQLStore)
    seen: list[list[str]] = []
    original = store.upsert_steps

    async def upsert_steps(steps: Sequence[StepRecord], *, owners: Mapping[str, str]) -> None:
        seen.append([step.id for step in steps])
        await original(steps, owners=owners)

    store.upsert_steps = upsert_steps  # type: ignore[method-assign]
    return seen


def note(history: History, owner: str, thread: str, *events: Event) -> None:
    for event in events:
        history.observe(owner, thread, Entry(0, event))


def question(text: str) -> MessageData:
    return MessageData(id=uuid.uuid4().hex, author="You", type="user_message", content=text)


def reply(text: str, *, streaming: bool = False) -> MessageData:
    return MessageData(
        id=uuid.uuid4().hex,
        author="Bot",
        type="assistant_message",
        content=text,
        streaming=streaming,
    )


async def test_what_waits_is_written_in_one_transaction(history: History) -> None:
    seen = batches(history)
    chats = [(f"browser-{n}", uuid.uuid4().hex) for n in range(30)]
    for n, (owner, thread) in enumerate(chats):
        note(history, owner, thread, MessageEvent(question(f"question {n}")))
        tool = StepData(id=uuid.uuid4().hex, name="search", type="tool", status="running")
        answer = reply("", streaming=True)
        note(history, owner, thread, StepEvent(tool), MessageEvent(answer))
        tool.status, tool.output = "done", "3 results"
        answer.content, answer.streaming = f"answer {n}", False
        note(history, owner, thread, StepEvent(tool), MessageEvent(answer))

    await history.flush()

    assert [len(batch) for batch in seen] == [90]  # 150 states, 90 steps, one transaction
    store = history.store
    assert store is not None
    for n, (owner, thread) in enumerate(chats):
        loaded = await store.load_thread(thread, owner=owner)
        assert loaded is not None
        assert loaded.thread.name == f"question {n}"
        assert [(s.type, s.output, s.status) for s in loaded.steps] == [
            ("user_message", f"question {n}", None),
            ("tool", "3 results", "done"),
            ("assistant_message", f"answer {n}", None),
        ]
    # The sidebar's order is the order the chats were written in.
    links = await history.threads("browser-29")
    assert [link.id for link in links] == [chats[29][1]]


async def test_batches_are_bounded(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_module, "MAX_BATCH", 4)
    seen = batches(history)
    thread = uuid.uuid4().hex
    note(history, "me", thread, *(MessageEvent(question(f"q{n}")) for n in range(10)))
    await history.flush()
    assert [len(batch) for batch in seen] == [4, 4, 2]
    loaded = await history.load(thread, "me")
    assert loaded is not None
    assert len(loaded.steps) == 10


async def test_a_removal_keeps_its_place_in_the_batch(history: History) -> None:
    thread = uuid.uuid4().hex
    gone, kept, late = question("gone"), question("kept"), question("late")
    note(history, "me", thread, MessageEvent(gone), MessageEvent(kept), RemoveEvent(gone.id))
    note(history, "me", thread, MessageEvent(late))
    await history.flush()
    loaded = await history.load(thread, "me")
    assert loaded is not None
    assert [step.output for step in loaded.steps] == ["kept", "late"]


async def test_a_bad_write_in_a_batch_costs_only_itself(
    history: History, caplog: pytest.LogCaptureFixture
) -> None:
    store = history.store
    assert store is not None
    elsewhere = await store.create_thread("someone")
    taken = question("in another thread")
    await store.upsert_step(record_from_item(taken, elsewhere.id), owner="someone")

    thread = uuid.uuid4().hex
    before, after = question("before"), question("after")
    with caplog.at_level(logging.ERROR, logger="lightchat"):
        note(history, "me", thread, *(MessageEvent(m) for m in (before, taken, after)))
        await history.flush()

    loaded = await history.load(thread, "me")
    assert loaded is not None
    assert [step.output for step in loaded.steps] == ["before", "after"]
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.getMessage() == f"Could not save to chat history (thread {thread})"
    assert "belongs to another thread" in str(failure.exc_info[1] if failure.exc_info else "")
    steps = await store.get_thread_steps(elsewhere.id, owner="someone")
    assert [step.output for step in steps] == ["in another thread"]


async def test_what_a_chat_said_before_the_store_opened_is_kept_on_shutdown(
    tmp_path: Path,
) -> None:
    early = History("", str(tmp_path))
    await early.start()
    owner, thread = "browser-1", uuid.uuid4().hex
    # The server stops at once: the store is still opening in the background.
    note(early, owner, thread, MessageEvent(question("hello")), MessageEvent(reply("hi")))
    assert not early.ready
    await early.close()

    again = History("", str(tmp_path))
    await again.start()
    try:
        assert await again.wait_ready(), again.failed
        loaded = await again.load(thread, owner)
        assert loaded is not None
        assert [step.output for step in loaded.steps] == ["hello", "hi"]
    finally:
        await again.close()


async def test_a_chat_taken_over_elsewhere_has_nothing_more_written_from_here(
    history: History,
) -> None:
    # This worker was taken for dead and its chat goes on on another one: the states still
    # waiting here would overwrite what the new owner saves, so they are dropped.
    kept, lost = uuid.uuid4().hex, uuid.uuid4().hex
    note(history, "me", kept, MessageEvent(question("stays")))
    note(history, "me", lost, MessageEvent(question("moved on")))
    history.note_session("me", lost, {"tags": ["late"]})
    history.forget(lost)
    await history.flush()
    store = history.store
    assert store is not None
    stored = await store.load_thread(kept, owner="me")
    assert stored is not None
    assert [step.output for step in stored.steps] == ["stays"]
    assert await store.load_thread(lost, owner="me") is None
