"""A crash mid-answer: the history keeps what was streamed, and the answer shows interrupted.

The history writes a message under way at checkpoints (``CHECKPOINT_S``), not per token:
first on a real ``History`` fed the way a session feeds it (the event applied to the
chat's transcript, then observed); then in-process, a second app on the same folder opening
a chat whose first app is still mid-answer, as a restarted server would; last with real
processes: ``lightchat serve`` killed with SIGKILL mid-answer, started again on the same
folder, and the chat's page read.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import httpx
import pytest

from lightchat import LightChat, Message, Settings
from lightchat.chat.history import History
from lightchat.domain.events import (
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    StepData,
    StepEvent,
    TokenEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.store import MemoryStore, OutputWriter, SQLStore, StepRecord
from tests.helpers import HTMX, ROOT, WAIT_S, LightchatServe, Serve, start_chat

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SCALE_APP = ROOT / "tests" / "e2e" / "apps" / "scale_app.py"
GUARANTEE_S = 1.0
"""A crash loses at most what was streamed in the last second before it."""


@dataclass(frozen=True, slots=True)
class Written:
    """A write of a step: its whole state, or its text alone (``streaming`` None)."""

    when: float
    id: str
    output: str
    streaming: bool | None


class Writes:
    """What a ``SQLStore`` has written of steps, and a way to wait for a write."""

    def __init__(self, store: object) -> None:
        assert isinstance(store, SQLStore)
        self.steps: list[Written] = []
        self._changed = asyncio.Condition()
        upsert_steps, update_outputs = store.upsert_steps, store.update_outputs

        async def note(written: list[Written]) -> None:
            async with self._changed:
                self.steps.extend(written)
                self._changed.notify_all()

        async def upserted(steps: Sequence[StepRecord], *, owners: Mapping[str, str]) -> None:
            await upsert_steps(steps, owners=owners)
            now = time.monotonic()
            await note([Written(now, s.id, s.output, s.streaming) for s in steps])

        async def updated(
            outputs: Sequence[tuple[str, str, str]], *, owners: Mapping[str, str]
        ) -> None:
            await update_outputs(outputs, owners=owners)
            now = time.monotonic()
            await note([Written(now, step_id, text, None) for step_id, _, text in outputs])

        store.upsert_steps = upserted  # type: ignore[method-assign]
        store.update_outputs = updated  # type: ignore[method-assign]

    def of(self, step_id: str) -> list[tuple[str, bool | None]]:
        """The writes of one step, in order: (output, streaming or None for its text alone)."""
        return [(w.output, w.streaming) for w in self.steps if w.id == step_id]

    async def until(self, found: Callable[[str], bool], step_id: str | None = None) -> float:
        """Wait (at most ``WAIT_S``) until a step (this one, if given) is written with an
        output that ``found`` accepts; returns when."""
        async with asyncio.timeout(WAIT_S), self._changed:
            while True:
                for written in self.steps:
                    if step_id in (None, written.id) and found(written.output):
                        return written.when
                await self._changed.wait()


class Chat:
    """One chat as a session shows it and tells the history about it."""

    def __init__(self, history: History, owner: str = "me") -> None:
        self.history = history
        self.owner = owner
        self.thread = uuid.uuid4().hex
        self.shown = Transcript()
        self.seq = 0

    def publish(self, *events: Event) -> None:
        for event in events:
            self.seq += 1
            entry = Entry(self.seq, event)
            self.shown.apply(entry)
            self.history.observe(self.owner, self.thread, entry, self.shown)


def answer(text: str = "", *, streaming: bool = True) -> MessageData:
    return MessageData(
        id=uuid.uuid4().hex,
        author="Bot",
        type="assistant_message",
        content=text,
        streaming=streaming,
    )


@pytest.fixture
async def history(tmp_path: Path, database: str) -> AsyncIterator[History]:
    made = History(database, str(tmp_path))
    await made.start()
    assert await made.wait_ready(), made.failed
    try:
        yield made
    finally:
        await made.close()


# -- the checkpoints --------------------------------------------------------------------------


async def test_tokens_are_written_within_a_second_without_a_write_per_token(
    history: History,
) -> None:
    writes = Writes(history.store)
    chat = Chat(history)
    message = answer("w0 ")
    chat.publish(MessageEvent(message))
    for i in range(1, 200):
        chat.publish(TokenEvent(message.id, f"w{i} "))
    streamed = time.monotonic()
    whole = "".join(f"w{i} " for i in range(200))

    # Nobody flushes: the checkpoint writes the text so far on its own, and that alone.
    written = await writes.until(lambda output: output == whole, message.id)
    assert written - streamed < GUARANTEE_S
    assert writes.of(message.id) == [("w0 ", True), (whole, None)]
    stored = await history.load(chat.thread, chat.owner)
    assert stored is not None
    assert [(step.output, step.streaming) for step in stored.steps] == [(whole, True)]


async def test_a_data_layer_that_cannot_set_a_text_alone_gets_the_whole_state(
    tmp_path: Path,
) -> None:
    made = History("", str(tmp_path), data_layer=MemoryStore)
    await made.start()
    try:
        assert await made.wait_ready(), made.failed
        assert not isinstance(made.store, OutputWriter)
        chat = Chat(made)
        message = answer("Once ")
        chat.publish(MessageEvent(message))
        await made.flush()
        chat.publish(TokenEvent(message.id, "upon "), TokenEvent(message.id, "a time"))
        await made.flush()
        stored = await made.load(chat.thread, chat.owner)
        assert stored is not None
        assert [(s.output, s.streaming) for s in stored.steps] == [("Once upon a time", True)]
    finally:
        await made.close()


async def test_a_text_is_set_only_in_the_owners_thread(history: History) -> None:
    store = history.store
    assert isinstance(store, SQLStore)
    mine, theirs = Chat(history, "me"), Chat(history, "someone")
    message = answer("kept")
    theirs.publish(MessageEvent(message))
    await history.flush()
    # The same ids, claimed by another owner: nothing changes.
    await store.update_outputs([(message.id, theirs.thread, "taken")], owners={theirs.thread: "me"})
    await store.update_outputs([(message.id, mine.thread, "taken")], owners={mine.thread: "me"})
    stored = await store.load_thread(theirs.thread, owner="someone")
    assert stored is not None
    assert [step.output for step in stored.steps] == ["kept"]
    await store.update_outputs(
        [(message.id, theirs.thread, "changed")], owners={theirs.thread: "someone"}
    )
    stored = await store.load_thread(theirs.thread, owner="someone")
    assert stored is not None
    assert [step.output for step in stored.steps] == ["changed"]


async def test_a_flush_writes_the_text_streamed_so_far(history: History) -> None:
    chat = Chat(history)
    message = answer("Once ")
    chat.publish(
        MessageEvent(message), TokenEvent(message.id, "upon "), TokenEvent(message.id, "a")
    )
    await history.flush()
    stored = await history.load(chat.thread, chat.owner)
    assert stored is not None
    assert [(step.output, step.streaming) for step in stored.steps] == [("Once upon a", True)]


async def test_a_checkpoint_never_overwrites_the_finished_message(history: History) -> None:
    writes = Writes(history.store)
    chat = Chat(history)
    message, tool = answer("a"), StepData(id=uuid.uuid4().hex, name="search", status="running")
    chat.publish(MessageEvent(message), StepEvent(tool))
    await history.flush()  # written: their checkpoints are their texts alone
    chat.publish(TokenEvent(message.id, "b"), TokenEvent(tool.id, "found"))
    # A flush takes a checkpoint, which waits for the writer while the answer ends.
    flushing = asyncio.ensure_future(history.flush())
    await asyncio.sleep(0)  # the flush starts (a turn of the loop, not a wait for a write)
    chat.publish(TokenEvent(message.id, "c"))
    chat.publish(
        MessageEvent(replace(cast(MessageData, chat.shown.items[message.id]), streaming=False))
    )
    chat.publish(StepEvent(replace(cast(StepData, chat.shown.items[tool.id]), status="done")))
    await flushing
    await history.flush()

    stored = await history.load(chat.thread, chat.owner)
    assert stored is not None
    assert [(s.output, s.streaming, s.status) for s in stored.steps] == [
        ("abc", False, None),
        ("found", False, "done"),
    ]
    assert writes.of(message.id) == [("a", True), ("abc", False)]


async def test_a_step_removed_while_streaming_is_not_written_again(history: History) -> None:
    chat = Chat(history)
    parent = StepData(id=uuid.uuid4().hex, name="agent")
    child = StepData(id=uuid.uuid4().hex, name="search", parent_id=parent.id)
    chat.publish(StepEvent(parent), StepEvent(child))
    await history.flush()
    chat.publish(TokenEvent(child.id, "halfway"), RemoveEvent(parent.id))
    await history.flush()
    stored = await history.load(chat.thread, chat.owner)
    assert stored is not None
    assert stored.steps == []


async def test_a_chat_taken_over_elsewhere_has_no_checkpoint_written_from_here(
    history: History,
) -> None:
    chat = Chat(history)
    message = answer("mine ")
    chat.publish(MessageEvent(message))
    await history.flush()
    chat.publish(TokenEvent(message.id, "late"))
    history.forget(chat.thread)  # the other worker goes on with it and saves it
    await history.flush()
    stored = await history.load(chat.thread, chat.owner)
    assert stored is not None
    assert [step.output for step in stored.steps] == ["mine "]


# -- a restart, in-process --------------------------------------------------------------------


def slow_app(tmp_path: Path, words: int, release: asyncio.Event, said: list[float]) -> LightChat:
    """Streams ``words`` words, then waits for ``release`` to finish its answer."""
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        for i in range(words):
            await reply.stream_token(f"w{i} ")
        said.append(time.monotonic())
        await release.wait()
        await reply.send()

    return app


async def test_a_chat_reopened_after_its_server_died_keeps_its_answer_interrupted(
    tmp_path: Path,
    serve: Serve,
) -> None:
    release, said = asyncio.Event(), list[float]()
    whole = " ".join(f"w{i}" for i in range(40))
    async with serve(slow_app(tmp_path, 40, release, said), lifespan=True) as first:
        writes = Writes(first.history.store)
        me = first.browser()
        url = await first.chat(me)
        posted = await me.post(f"{url}/messages", data={"content": "go"}, headers=HTMX)
        assert posted.status_code == 204
        written = await writes.until(lambda output: output.strip() == whole)
        assert said
        assert written - said[0] < GUARANTEE_S
        # The first server hangs mid-answer (as good as dead); a second one on the same
        # folder (the same history and cookie secret) opens the chat.
        async with serve(slow_app(tmp_path, 40, asyncio.Event(), []), lifespan=True) as second:
            again = second.browser()
            again.cookies = me.cookies
            page = await again.get(url)
            assert page.status_code == 200
            assert whole in page.text
            assert 'class="lc-interrupted"' in page.text
            assert "data-streaming" not in page.text
            # And it is saved so: no longer streaming, marked interrupted.
            stored = await second.history.load(url.rsplit("/", 1)[1], second.owner(again))
            assert stored is not None
            last = stored.steps[-1]
            assert (last.output.strip(), last.streaming, last.meta) == (
                whole,
                False,
                {"interrupted": True},
            )
        release.set()


# -- a restart, real processes ----------------------------------------------------------------

WORD = re.compile(r"\bw(\d+) ")


@pytest.mark.processes
def test_after_kill_9_the_history_keeps_what_was_streamed_up_to_a_second_before(
    tmp_path: Path, lightchat_serve: LightchatServe
) -> None:
    # 20 words a second, 2,000 of them: the answer is well under way when the server dies.
    env = {"SCALE_WORDS": "2000", "SCALE_DELAY_S": "0.05"}
    env["LIGHTCHAT_APP_DIR"] = str(tmp_path)
    server = lightchat_serve(SCALE_APP, env=env, ready="/-/ready")
    seen: dict[int, float] = {}  # word index: when this client first saw it
    with httpx.Client(base_url=server.url, timeout=10) as client:
        chat = start_chat(client)
        posted = client.post(f"{chat}/messages", data={"content": "go"}, headers=HTMX)
        assert posted.status_code == 204, posted.text
        killed = None
        with (
            contextlib.suppress(httpx.TransportError),
            client.stream("GET", f"{chat}/events", headers=HTMX, timeout=20) as stream,
        ):
            for line in stream.iter_lines():
                now = time.monotonic()
                for found in WORD.finditer(line):
                    seen.setdefault(int(found.group(1)), now)
                if 35 in seen:  # the user has seen 35 words: the server dies now
                    killed = time.monotonic()
                    server.kill()  # SIGKILL: no shutdown, no last write
                    break
        assert killed is not None, f"the stream ended after {sorted(seen)[-3:]}"
        assert server.process.returncode == -9

        # The same folder: the same history and cookie secret.
        again = lightchat_serve(
            SCALE_APP, env={"LIGHTCHAT_APP_DIR": str(tmp_path)}, ready="/-/ready"
        )
        page = httpx.get(f"{again.url}{chat}", cookies=client.cookies, timeout=10)
    assert page.status_code == 200, page.text
    # Every word this client saw a second before the kill was streamed before then.
    due = max(i for i, when in seen.items() if when <= killed - GUARANTEE_S)
    assert due >= 10, seen  # the test proves something only if many words were due
    assert " ".join(f"w{i}" for i in range(due + 1)) in page.text, (due, page.text)
    assert 'class="lc-interrupted"' in page.text
    assert "data-streaming" not in page.text
