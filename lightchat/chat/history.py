"""Chat history: what chats show, written to the store, read back for the sidebar and resume.

Besides writing and reading chats, ``History`` is where the history's UI meets the store:
search, rename and delete a thread, feedback on answers, and the tags and metadata a
chat's ``user_session`` gives its thread. Every read and write names the owner.

Concurrency: a session calls ``observe`` from its publish path. It only notes the item's
latest state in a dict (no I/O, no await), so the token stream never waits on the database:
a message is written when it starts, at checkpoints while it streams (below) and when it
completes (or is stopped), never per token. One writer task drains the dict; a new state of
an item that is still waiting replaces the old one, so a burst of updates costs one write.
The writer lets states gather for ``WRITE_DELAY_S`` before each batch (at once when someone
waits for the writes: ``flush``), and writes what it finds together: with the default
store, in one transaction (up to ``MAX_BATCH`` steps). Under load the writes thus cost a
few statements every tenth of a second, instead of a transaction per message competing
with the token streams.

Checkpoints: a token only marks its message (or step) as streamed since its last write,
keeping the chat's transcript, which holds the text so far (a dict entry per token batch,
no copy). Every ``CHECKPOINT_S`` while anything streams, the marked items go to the writer
with the other states waiting: only their text, for items written before, when the data
layer can set it alone (``OutputWriter``: one ``UPDATE`` per item, all in one transaction),
else their whole state. So when the process dies mid-answer (a crash, ``kill -9``), the
history keeps every token streamed up to a second before it; the message, saved still
streaming, is marked interrupted when its chat is reopened (``Chats.resume``). A state
noted later replaces the checkpoint: it never overwrites the finished message.

The data layer is the default ``SQLStore`` or the app's own (``@data_layer``). The store
(SQLAlchemy, the drivers) takes about half a second to import, so it is imported (and the
database migrated, if needed) in a worker thread after the server has started, when first
needed (a read, a flush, the readiness check) or ``OPEN_AFTER_S`` after the start: the
first page does not wait for it, nor share the interpreter with that import while it is
answered. Until it is ready, history is empty and writes wait in the dict.
A data layer that cannot be opened turns history off, with the reason in the log; one
whose operations fail has each failure logged, and the chat goes on.

One concept, kept whole: ``History`` writes and queries through the same data layer, which
it opens in the background, and its queries see the writes still waiting (a rename or a
delete settles what is pending for the thread first). What threads are, as plain values
and rules, is ``lightchat.chat.threads``.

Changes to a list of chats: once a write changes what an owner's sidebar lists (a chat's
first message, or a message in a chat other than the one that moved to the top last, a
name the app gave, a rename, a delete), ``on_change`` is called with the owner, after the
write, so that any worker reading the store then sees the change (the app announces it on
the bus, which wakes that owner's pages). Never per token.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from lightchat.domain.events import (
    ElementData,
    Entry,
    FavoriteData,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    StepData,
    StepEvent,
    TokenEvent,
)
from lightchat.domain.transcript import Item, Transcript
from lightchat.errors import ConfigError
from lightchat.files import FileStorage, LocalFileStorage

if TYPE_CHECKING:
    from lightchat.store import (
        BatchWriter,
        DataLayer,
        FavoriteSteps,
        McpServerKeeper,
        OutputWriter,
        StepRecord,
        StoredThread,
        ThreadFields,
        ThreadLister,
        ThreadSharing,
        ThreadsWriter,
    )

from lightchat.chat.threads import (
    Feedback,
    ThreadLink,
    feedback_after,
    feedback_of,
    thread_fields,
    thread_link,
)

logger = logging.getLogger("lightchat")

_Key = tuple[str, str, str]  # owner, thread id, item id
_Thread = tuple[str, str]  # owner, thread id
_Fields = tuple[list[str] | None, dict[str, Any], str | None]  # tags, metadata, name


MAX_BATCH = 500
"""The most steps the history writes in one transaction."""

WRITE_DELAY_S = 0.1
"""How long the writer lets new states gather before it writes them."""

CHECKPOINT_S = 0.5
"""How often a message (or step) still streaming has its text so far written. With the
gathering delay and the write itself, a token is saved well within a second of being
streamed, which is what a crash may lose (see the module docstring)."""


MAX_REMEMBERED = 10_000
"""How many owners' top chats, and names given to chats, the history remembers to tell
which writes change a list of chats (past it, it forgets them all and starts again)."""

OPEN_AFTER_S = 1.0
"""When nothing needs the store sooner, how long after the start it opens (see the module
docstring): the server's first pages are answered by then."""

CLOSE_WAIT_S = 10
"""On shutdown, how long the history may take to open (if it is still opening) and write
what is pending before the server stops anyway."""


class History:
    """Writes chats to the data layer and reads them back.

    The data layer is ``SQLStore`` on ``url`` (SQLite in ``<app_dir>/.lightchat/chat.db``
    when it is empty), or what ``data_layer`` returns (the app's ``@data_layer``
    function, sync or async, called once when history starts). ``files`` is where the
    chats' element files are kept (the app passes its own; by default a
    ``LocalFileStorage`` in ``<app_dir>/.lightchat/files``): deleting a thread, or a
    message, deletes the files of its elements there.
    """

    def __init__(
        self,
        url: str,
        app_dir: str = ".",
        *,
        data_layer: Callable[[], Any] | None = None,
        files: FileStorage | None = None,
    ) -> None:
        self.url = url
        self.app_dir = app_dir
        self.data_layer = data_layer
        self.on_open: Callable[[], None] | None = None
        """Called once the store is open (``lightchat serve`` freezes what its import
        brought out of the garbage collector's way)."""
        self.on_change: Callable[[str], None] | None = None
        """Called with an owner once a write changed their list of chats (see "Changes to
        a list of chats" above)."""
        self._top: dict[str, str] = {}
        """Per owner, the chat a user message last moved to the top of their list."""
        self._names: dict[_Thread, str] = {}
        """The names the app gave threads (``emitter.init_thread``), as last written."""
        self._store: DataLayer | None = None
        self._batches: BatchWriter | None = None
        self._module: ModuleType | None = None
        self._pending: dict[_Key, Item | None] = {}
        self._streamed: dict[_Key, Transcript] = {}
        """Items with tokens not written yet, with the transcript that holds their text."""
        self._outputs: dict[_Key, str] = {}
        """The text so far of items written before, to set at the next batch."""
        self._output_writer: OutputWriter | None = None
        self._threads_writer: ThreadsWriter | None = None
        self._lister: ThreadLister | None = None
        self._checkpoint: asyncio.TimerHandle | None = None
        self._threads: set[_Thread] = set()
        self._writing: dict[_Key, Item | None] = {}
        """The batch being written now (its chats may not be in the store yet)."""
        self._elements: dict[str, dict[str, ElementData]] = {}
        """The elements written per message id, as they were written."""
        self._fields: dict[_Thread, _Fields] = {}
        self._fields_written: dict[_Thread, str] = {}
        self._clients: dict[_Thread, str] = {}
        """The client each chat runs in (``client_type``), written with its tags once."""
        self._client_kept: dict[_Thread, str] = {}
        self._asked: dict[_Thread, str] = {}
        """Per chat, the user message just published, until the run it starts begins."""
        self._questions: dict[_Thread, tuple[_Key, float | None]] = {}
        """Per chat, the question whose run goes on, and when its answer's first text
        appeared (None: not yet)."""
        self._times: dict[_Key, tuple[float | None, float]] = {}
        """Questions whose run ended: when the answer's first text appeared and when the
        run ended, written with the question's row (its ``started_at`` and ``ended_at``)."""
        if files is None:
            files = LocalFileStorage(Path(app_dir, ".lightchat", "files"))
        self.files: FileStorage = files
        """Where element files are kept; deleting a thread deletes its files there."""
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()  # ends the gathering delay
        self._flushers = 0  # how many wait for the writes: no gathering delay meanwhile
        self._idle = asyncio.Event()
        self._idle.set()
        self._ready = asyncio.Event()
        self._wanted = asyncio.Event()  # something waits for the store: open it now
        self._task: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None
        """Why history is off, when the data layer could not be opened."""

    @property
    def ready(self) -> bool:
        """True once the data layer is open."""
        return self._store is not None

    @property
    def store(self) -> DataLayer | None:
        """The data layer in use, once open (None before, or when it failed to open)."""
        return self._store

    async def ping(self) -> None:
        """Raise ``ConnectionError`` with the reason when history cannot be used now: its
        data layer is still opening, failed to open, or its database does not answer (the
        readiness check, ``/-/ready``). A data layer of the app's own without a ``ping``
        method counts as answering once open."""
        if self._store is None:
            if self.failed is not None:
                raise ConnectionError("the history's database could not be opened")
            self._wanted.set()
            raise ConnectionError("the history's database is still opening")
        ping = getattr(self._store, "ping", None)
        if ping is None:
            return
        try:
            await ping()
        # Any failure of the driver (refused, timed out, authentication) means not ready;
        # the reason goes to the log, never to the answer (it may name hosts or users).
        except Exception as exc:
            logger.warning("The history's database does not answer: %s", exc)
            raise ConnectionError("the history's database does not answer") from None

    async def start(self) -> None:
        """Open the data layer in the background and start writing."""
        self._task = asyncio.create_task(self._run(), name="lightchat-history")

    async def wait_ready(self) -> bool:
        """Wait until the data layer is open (or failed to open); True if it is usable."""
        self._wanted.set()
        await self._ready.wait()
        return self._store is not None

    async def close(self) -> None:
        """Write what is pending (waiting for the data layer to open, if it is still
        opening: what chats said in the first moments is kept too), then close it."""
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(self.flush(), CLOSE_WAIT_S)
            except TimeoutError:
                logger.error(
                    "The chat history did not open or write within %s s of shutting down; "
                    "what it had not written is lost.",
                    CLOSE_WAIT_S,
                )
        if self._checkpoint is not None:
            self._checkpoint.cancel()
            self._checkpoint = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        if self._store is not None:
            store, self._store = self._store, None
            try:
                await store.close()
            except Exception as exc:  # shutting down: say so, and let the rest shut down
                logger.error("Could not close the chat history's data layer", exc_info=exc)

    async def flush(self) -> None:
        """Wait until everything observed so far is written (tokens included)."""
        self._take_checkpoint()
        if self._store is None and not self._ready.is_set():
            self._wanted.set()
            await self._ready.wait()
        if self._store is not None and not self._idle.is_set():
            self._flushers += 1
            self._hurry.set()
            try:
                await self._idle.wait()
            finally:
                self._flushers -= 1

    async def catch_up(self, limit: float = 0.25) -> None:
        """Let pending writes land, for at most ``limit`` seconds.

        For lists (the sidebar): under load the writer may be behind by every chat's
        writes, and a page should not wait for all of them.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), limit)

    def observe(
        self, owner: str, thread_id: str, entry: Entry, shown: Transcript | None = None
    ) -> None:
        """Note a published event; messages and steps are written soon after, in order.

        ``shown`` is the chat's transcript, with the event applied: with it, the text that
        tokens add to a message or step is written at the next checkpoint (``CHECKPOINT_S``).
        """
        event = entry.event
        if isinstance(event, TokenEvent | MessageEvent | RunEvent):
            self._time_question(owner, thread_id, event, shown)
        if isinstance(event, TokenEvent):
            if shown is not None:
                self._streamed[(owner, thread_id, event.id)] = shown
                if self._checkpoint is None:
                    loop = asyncio.get_running_loop()
                    self._checkpoint = loop.call_later(CHECKPOINT_S, self._take_checkpoint)
        elif isinstance(event, MessageEvent):
            self._note((owner, thread_id, event.message.id), event.message)
        elif isinstance(event, StepEvent):
            self._note((owner, thread_id, event.step.id), event.step)
        elif isinstance(event, RemoveEvent):
            self._note((owner, thread_id, event.id), None)

    def _time_question(
        self,
        owner: str,
        thread_id: str,
        event: TokenEvent | MessageEvent | RunEvent,
        shown: Transcript | None,
    ) -> None:
        """Time the runs questions start, for the analytics page: a user message followed
        by the start of a run opens one; the first text of an assistant message after it
        is its first token; the run's end closes it, and the question is written again
        with both times (see ``StepRecord``)."""
        thread = (owner, thread_id)
        if isinstance(event, MessageEvent) and event.message.type == "user_message":
            self._asked[thread] = event.message.id
            return
        if isinstance(event, RunEvent):
            asked = self._asked.pop(thread, None)
            if event.running and asked is not None:
                self._questions[thread] = ((owner, thread_id, asked), None)
            elif not event.running and thread in self._questions:
                self._end_question(thread, shown)
            return
        self._asked.pop(thread, None)  # a question is followed by its run at once
        opened = self._questions.get(thread)
        if opened is None or opened[1] is not None:
            return
        if isinstance(event, MessageEvent):
            message: Item | None = event.message
        else:
            message = shown.items.get(event.id) if shown is not None else None
        answer = isinstance(message, MessageData) and message.type == "assistant_message"
        if answer and (isinstance(event, TokenEvent) or cast(MessageData, message).content):
            self._questions[thread] = (opened[0], time.time())

    def _end_question(self, thread: _Thread, shown: Transcript | None) -> None:
        key, answered = self._questions.pop(thread)
        self._times[key] = (answered, time.time())
        question = shown.items.get(key[2]) if shown is not None else None
        if isinstance(question, MessageData) and key not in self._pending:
            self._note(key, replace(question))

    def note_session(
        self,
        owner: str,
        thread_id: str,
        data: Mapping[str, Any],
        name: str | None = None,
        tag: str | None = None,
        *,
        keep_env: bool = False,
        client_type: str | None = None,
    ) -> None:
        """Note a chat's ``user_session`` at the end of a run: its tags and metadata are
        written to the thread soon after (see ``thread_fields``), with the name the app
        gave the chat (``emitter.init_thread``), if any, and one more tag (its chat
        profile's, ``Settings.auto_tag_thread``); ``keep_env`` keeps the user's keys in
        the metadata (``Settings.persist_user_env``); ``client_type`` is the client the chat
        runs in (kept once, when the data layer can: ``set_client_type``)."""
        if client_type and self._client_kept.get((owner, thread_id)) != client_type:
            self._clients[(owner, thread_id)] = client_type
        tags, metadata = thread_fields(data, keep_env=keep_env)
        if tag and tag not in (tags or []):
            tags = [*(tags or []), tag]
        self._fields[(owner, thread_id)] = (tags, metadata, name)
        self._idle.clear()
        self._wake.set()

    def forget(self, thread_id: str) -> None:
        """Drop what waits to be written for a thread: its chat went on on another worker
        (this one was taken for dead), which writes it now; late states from here would
        overwrite what that worker saved. A batch already being written goes on."""
        for key in [key for key in self._pending if key[1] == thread_id]:
            del self._pending[key]
        for key in [key for key in self._streamed if key[1] == thread_id]:
            del self._streamed[key]
        for key in [key for key in self._outputs if key[1] == thread_id]:
            del self._outputs[key]
        for thread in [thread for thread in self._fields if thread[1] == thread_id]:
            del self._fields[thread]
        for thread in [thread for thread in self._questions if thread[1] == thread_id]:
            del self._questions[thread]
        for thread in [thread for thread in self._asked if thread[1] == thread_id]:
            del self._asked[thread]

    def _note(self, key: _Key, item: Item | None) -> None:
        self._pending[key] = item
        if self._streamed:
            self._streamed.pop(key, None)  # the item as shown now, its tokens included
        if self._outputs:
            self._outputs.pop(key, None)  # an older text, which must not come after it
        self._idle.clear()
        self._wake.set()

    def _take_checkpoint(self) -> None:
        """Hand the items streamed since their last write to the writer, as they stand now.

        An item the chat no longer shows (removed, with its parent step) is left out: its
        removal is waiting to be written, or written already.
        """
        if self._checkpoint is not None:
            self._checkpoint.cancel()
            self._checkpoint = None
        if not self._streamed:
            return
        streamed, self._streamed = self._streamed, {}
        for key, shown in streamed.items():
            item = shown.items.get(key[2])
            if item is None:
                continue
            if self._output_writer is not None and key not in self._pending:
                # Written before (or in the batch being written): only its text changed.
                self._outputs[key] = item.content if isinstance(item, MessageData) else item.output
            else:
                # A copy: the transcript's item goes on changing while the batch is written.
                self._pending[key] = replace(item)
        self._idle.clear()
        self._wake.set()

    async def _open(self) -> bool:
        try:
            # Imported here, in a thread, to keep start-up fast (see the module docstring).
            module = await asyncio.to_thread(importlib.import_module, "lightchat.store")
            self._module = module
            if self.data_layer is not None:
                store: DataLayer = await _made_data_layer(self.data_layer, module, self.files)
            else:
                self.url = self.url or module.default_database_url(Path(self.app_dir))
                store = await module.SQLStore.open(self.url)
            self._batches = store if isinstance(store, module.BatchWriter) else None
            self._output_writer = store if isinstance(store, module.OutputWriter) else None
            self._threads_writer = store if isinstance(store, module.ThreadsWriter) else None
            self._lister = store if isinstance(store, module.ThreadLister) else None
            self._store = store
            if self.on_open is not None:
                self.on_open()
        except Exception as exc:  # history is optional: the chat works without it
            if self.data_layer is not None:
                name = getattr(self.data_layer, "__qualname__", repr(self.data_layer))
                where = f"the @data_layer function {name}() failed: {exc}"
            else:
                where = f"could not open {self.url}"
            logger.error("Chat history is off: %s", where, exc_info=exc)
            self.failed = exc
            self._pending.clear()
            self._fields.clear()
            self._idle.set()
            return False
        finally:
            self._ready.set()
        return True

    async def _run(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wanted.wait(), OPEN_AFTER_S)
        if not await self._open():
            return
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if not self._flushers:  # let more states gather (see the module docstring)
                timer = loop.call_later(WRITE_DELAY_S, self._hurry.set)
                await self._hurry.wait()
                timer.cancel()
                self._hurry.clear()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            outputs, self._outputs = self._outputs, {}
            fields, self._fields = self._fields, {}
            self._writing = batch
            changed: set[str] = set()
            try:
                await self._write_batch(batch)
                changed.update(self._moved(batch))
                await self._write_outputs(outputs)
                # After the items: the thread exists by then, if the run showed anything.
                await self._write_all_fields(fields)
                for thread, (_, _, name) in fields.items():
                    if name and thread in self._threads and self._names.get(thread) != name:
                        if len(self._names) > MAX_REMEMBERED:
                            self._names.clear()
                        self._names[thread] = name  # a name the app gave: the list shows it
                        changed.add(thread[0])
            except Exception as exc:  # the writer must live on: only this batch is lost
                logger.error("Could not save to chat history", exc_info=exc)
            finally:
                self._writing = {}
            for owner in changed:
                self._changed(owner)
            if not (self._pending or self._outputs or self._fields):
                self._idle.set()

    def _moved(self, batch: dict[_Key, Item | None]) -> set[str]:
        """The owners whose list a written batch changed: a user message in a chat other
        than the one last moved to the top of their list (a chat's first message names it
        and lists it; a later one moves it up)."""
        owners: set[str] = set()
        if len(self._top) > MAX_REMEMBERED:
            self._top.clear()  # forgotten: at most one more announcement each
        for (owner, thread_id, _), item in batch.items():
            is_question = isinstance(item, MessageData) and item.type == "user_message"
            if is_question and self._top.get(owner) != thread_id:
                self._top[owner] = thread_id
                owners.add(owner)
        return owners

    def _changed(self, owner: str) -> None:
        """Tell ``on_change`` that the owner's list of chats changed."""
        if self.on_change is None:
            return
        try:
            self.on_change(owner)
        except Exception as exc:  # the sidebars are a convenience: the history goes on
            logger.error("Could not announce a change to a list of chats", exc_info=exc)

    async def _write_batch(self, batch: dict[_Key, Item | None]) -> None:
        """Write what the chats showed since the last batch, in the order it was noted.

        With a data layer that writes many steps at once (``BatchWriter``), the messages
        and steps (and the threads of new chats) go in transactions of up to ``MAX_BATCH``
        steps; a removal writes those noted before it first, so the order holds.
        """
        module = self._module
        assert module is not None
        records: list[tuple[_Key, StepRecord]] = []
        shown: list[tuple[_Key, Item]] = []
        for key, item in batch.items():
            if item is None:
                await self._write_records(records)
                await self._write_elements(shown)
                records, shown = [], []
                self._elements.pop(key[2], None)
                await self._remove(key)
            else:
                record = module.record_from_item(item, key[1])
                times = self._times.pop(key, None)
                if times is not None:  # a question whose run ended (see _time_question)
                    answered, ended = times
                    record.started_at = None if answered is None else _utc(answered)
                    record.ended_at = _utc(ended)
                records.append((key, record))
                if item.elements or key[2] in self._elements:
                    shown.append((key, item))
        await self._write_records(records)
        await self._write_elements(shown)

    async def _write_outputs(self, outputs: dict[_Key, str]) -> None:
        """Set the text of items under way (checkpoints), up to ``MAX_BATCH`` at a time.

        None of them is in the batch just written (a state noted after a checkpoint
        replaces it), so the order between the two does not matter.
        """
        writer = self._output_writer
        if writer is None or not outputs:
            return
        rows = [(item_id, thread_id, text) for (_, thread_id, item_id), text in outputs.items()]
        owners = {thread_id: owner for owner, thread_id, _ in outputs}
        for start in range(0, len(rows), MAX_BATCH):
            try:
                await writer.update_outputs(rows[start : start + MAX_BATCH], owners=owners)
            except Exception as exc:  # a lost checkpoint: the next one, or the end, writes it
                logger.error("Could not save the text of answers under way", exc_info=exc)

    async def _write_elements(self, shown: list[tuple[_Key, Item]]) -> None:
        """Bring the stored elements of these messages and steps in line with what they
        show now.

        Only what changed since the last write is written (a task list updated live is
        rewritten, an image sent once is not); an element taken away is deleted with its
        file. Runs after the messages' own rows, so their threads exist.
        """
        store, module = self._store, self._module
        assert store is not None
        assert module is not None
        for (owner, thread_id, message_id), message in shown:
            written = self._elements.get(message_id, {})
            current = {element.id: element for element in message.elements}
            now = dict(current)  # what is stored once this is done
            for element_id, element in current.items():
                if written.get(element_id) == element:
                    continue
                record = module.record_from_element(element, thread_id, message_id)
                try:
                    if element_id in written:
                        await store.delete_element(element_id, owner=owner)
                    try:
                        await store.create_element(record, owner=owner)
                    except module.ConflictError:  # stored before this process started
                        await store.delete_element(element_id, owner=owner)
                        await store.create_element(record, owner=owner)
                except Exception as exc:  # a failed write is logged; the chat goes on
                    logger.error("Could not save element %s", element_id, exc_info=exc)
                    now.pop(element_id)
                    if element_id in written:
                        now[element_id] = written[element_id]
            kept = {element.key for element in message.elements if element.key}
            for element_id in written.keys() - current.keys():
                try:
                    gone = await store.delete_element(element_id, owner=owner)
                except Exception as exc:  # a failed write is logged; the chat goes on
                    logger.error("Could not delete element %s", element_id, exc_info=exc)
                    continue
                if gone is not None and gone.storage_key and gone.storage_key not in kept:
                    await self._delete_files([gone.storage_key], thread_id)
            self._elements[message_id] = now

    async def _write_records(self, records: list[tuple[_Key, StepRecord]]) -> None:
        store = self._store
        assert store is not None
        for start in range(0, len(records), MAX_BATCH):
            chunk = records[start : start + MAX_BATCH]
            if self._batches is not None:
                owners = {thread_id: owner for (owner, thread_id, _), _ in chunk}
                try:
                    await self._batches.upsert_steps([record for _, record in chunk], owners=owners)
                except Exception:  # one bad step fails them all: write one by one, below
                    logger.debug("A batch of %d steps failed; writing them one by one", len(chunk))
                else:
                    self._threads.update((owner, thread_id) for thread_id, owner in owners.items())
                    continue
            for (owner, thread_id, _), record in chunk:
                if not await self._known(owner, thread_id):
                    continue
                try:
                    await store.upsert_step(record, owner=owner)
                except Exception as exc:  # a failed write is logged; the chat itself goes on
                    logger.error(
                        "Could not save to chat history (thread %s)", thread_id, exc_info=exc
                    )

    async def _known(self, owner: str, thread_id: str) -> bool:
        """Make sure the owner's thread exists (creating it); False if it cannot be."""
        store, module = self._store, self._module
        assert store is not None
        assert module is not None
        thread = (owner, thread_id)
        if thread in self._threads:
            return True
        try:
            try:
                await store.create_thread(owner, thread_id=thread_id)
            except module.ConflictError:  # a chat reopened from history: it is there
                if await store.get_thread(thread_id, owner=owner) is None:
                    raise
        except Exception as exc:  # a failed write is logged; the chat itself goes on
            logger.error("Could not save to chat history (thread %s)", thread_id, exc_info=exc)
            return False
        self._threads.add(thread)
        return True

    async def _remove(self, key: _Key) -> None:
        store = self._store
        assert store is not None
        owner, thread_id, item_id = key
        try:
            keys = await store.delete_step(item_id, owner=owner)
        except Exception as exc:  # a failed write is logged; the chat itself goes on
            logger.error("Could not save to chat history (thread %s)", thread_id, exc_info=exc)
            return
        await self._delete_files(keys, thread_id)

    async def _delete_files(self, keys: list[str], thread_id: str) -> None:
        """Delete the files of deleted elements (after their rows: a file deleted first
        would be lost if deleting the rows failed)."""
        for key in keys:
            try:
                await self.files.delete(key)
            except Exception as exc:  # the rows are gone; a stray file is only logged
                logger.error("Could not delete file %s of thread %s", key, thread_id, exc_info=exc)

    async def _write_all_fields(self, fields: dict[_Thread, _Fields]) -> None:
        """Write the fields noted at the end of runs (``note_session``).

        With a data layer that sets those of many threads at once (``ThreadsWriter``), the
        threads this process wrote already go in one call; the others one by one.
        """
        writer, module = self._threads_writer, self._module
        if writer is None or module is None:
            for thread, (tags, metadata, name) in fields.items():
                await self._write_fields(thread, tags, metadata, name)
            return
        batch: list[ThreadFields] = []
        written: list[tuple[_Thread, str, str | None]] = []
        for thread, (tags, metadata, name) in fields.items():
            if thread not in self._threads:  # maybe none yet: see _write_fields
                await self._write_fields(thread, tags, metadata, name)
                continue
            client = self._clients.pop(thread, None)
            snapshot = json.dumps([tags, metadata, name], sort_keys=True)
            owner, thread_id = thread
            if self._fields_written.get(thread) != snapshot:
                given = module.ThreadFields(thread_id, owner, name, tags, metadata, client)
            elif client is not None:
                given = module.ThreadFields(thread_id, owner, client_type=client)
            else:
                continue  # unchanged since the last run: no write
            batch.append(given)
            written.append((thread, snapshot, client))
        if not batch:
            return
        try:
            await writer.update_threads(batch)
        except Exception as exc:  # a failed write is logged; the chats go on
            logger.error("Could not save the tags of %d chats", len(batch), exc_info=exc)
            return
        for thread, snapshot, client in written:
            self._fields_written[thread] = snapshot
            if client is not None:
                self._client_kept[thread] = client

    async def _write_fields(
        self,
        thread: _Thread,
        tags: list[str] | None,
        metadata: dict[str, Any],
        name: str | None = None,
    ) -> None:
        store = self._store
        assert store is not None
        owner, thread_id = thread
        await self._write_client(thread)
        snapshot = json.dumps([tags, metadata, name], sort_keys=True)
        if self._fields_written.get(thread) == snapshot:
            return  # unchanged since the last run: no write
        try:
            if thread not in self._threads:
                # A chat that showed nothing has no thread yet, and gets none for its tags.
                if await store.get_thread(thread_id, owner=owner) is None:
                    return
                self._threads.add(thread)
            await store.update_thread(
                thread_id, owner=owner, name=name, tags=tags, metadata=metadata
            )
            self._fields_written[thread] = snapshot
        except Exception as exc:  # a failed write is logged; the chat itself goes on
            logger.error("Could not save the tags of thread %s", thread_id, exc_info=exc)

    async def _write_client(self, thread: _Thread) -> None:
        """Keep the client a chat runs in with its thread, once (for the analytics page)."""
        client = self._clients.pop(thread, None)
        setter = getattr(self._store, "set_client_type", None)
        if client is None or not callable(setter):
            return
        owner, thread_id = thread
        try:
            await setter(thread_id, owner=owner, client_type=client)
            self._client_kept[thread] = client
        except Exception as exc:  # a lost detail: the chat goes on
            logger.debug("Could not keep the client of thread %s", thread_id, exc_info=exc)

    async def threads(
        self, owner: str, *, first: int = 50, search: str | None = None
    ) -> list[ThreadLink]:
        """The owner's named threads, most recent first (including what is being written).

        ``search`` keeps the threads whose name or content holds that text (any case); it
        waits (briefly) for pending writes, as the text searched may be in them. A plain
        listing does not: the owner's chats still waiting for their first write are listed
        from memory, on top, named as the store will name them (``_unwritten``), so opening
        a chat never waits for the writer. A data layer that fails is logged and lists
        nothing: the sidebar is on every chat page, and the chat must work without it.
        """
        if not await self.wait_ready():
            return []
        if search:
            await self.catch_up()
        if self._store is None or self._module is None:
            return []
        module = self._module
        filters = module.ThreadFilter(search=search) if search and search.strip() else None
        try:
            if filters is None and self._lister is not None:
                recent = await self._lister.recent_threads(owner, first)
                stored = [
                    ThreadLink(thread.id, thread.name, thread.updated_at, thread.shared_at)
                    for thread in recent
                    if thread.name
                ]
            else:
                page = await self._store.list_threads(
                    owner, module.Pagination(first=first), filters
                )
                stored = [thread_link(thread) for thread in page.threads if thread.name]
        except Exception as exc:  # see the docstring
            logger.error("Could not list the chats of the history", exc_info=exc)
            return []
        unwritten = [] if search else self._unwritten(owner, module)
        if not unwritten:
            return stored
        listed = {link.id for link in stored}
        return ([link for link in unwritten if link.id not in listed] + stored)[:first]

    def _unwritten(self, owner: str, module: ModuleType) -> list[ThreadLink]:
        """The owner's chats waiting for their first write, as a listing will show them once
        written: named after their first user message (or by the name the app gave them,
        ``emitter.init_thread``), the last one noted first. A chat with no name yet (only a
        welcome message) is not listed, as the store would not list it."""
        names: dict[str, str | None] = {}
        for (key_owner, thread_id, _), item in chain(self._writing.items(), self._pending.items()):
            if key_owner != owner or (owner, thread_id) in self._threads:
                continue
            name = names.pop(thread_id, None)  # re-inserted: the last noted comes last
            if name is None and isinstance(item, MessageData) and item.type == "user_message":
                name = module.thread_name(item.content)
            names[thread_id] = name
        now = datetime.now(UTC)
        links = []
        for thread_id, name in reversed(names.items()):
            given = self._fields.get((owner, thread_id))
            shown = given[2] if given is not None and given[2] else name
            if shown:
                links.append(ThreadLink(thread_id, shown, now))
        return links

    async def thread(self, thread_id: str, owner: str) -> ThreadLink | None:
        """One of the owner's threads, or None (missing, or someone else's)."""
        if not await self.wait_ready() or self._store is None:
            return None
        await self.flush()
        found = await self._store.get_thread(thread_id, owner=owner)
        return None if found is None else thread_link(found)

    async def rename(self, thread_id: str, owner: str, name: str) -> ThreadLink | None:
        """Give a thread a name (see ``clean_name``); None if it is not the owner's."""
        if not await self.wait_ready() or self._store is None:
            return None
        await self.flush()
        try:
            renamed = await self._store.update_thread(thread_id, owner=owner, name=name)
        except LookupError:  # the store's NotFoundError
            return None
        self._changed(owner)
        return thread_link(renamed)

    async def delete(self, thread_id: str, owner: str) -> bool:
        """Delete a thread with its steps, elements, feedback and files; False if it is
        not the owner's. Close the chat's live session first, so nothing writes to it."""
        if not await self.wait_ready() or self._store is None:
            return False
        await self.flush()
        try:
            keys = await self._store.delete_thread(thread_id, owner=owner)
        except LookupError:  # the store's NotFoundError
            return False
        thread = (owner, thread_id)
        self._threads.discard(thread)
        self._fields_written.pop(thread, None)
        self._names.pop(thread, None)
        if self._top.get(owner) == thread_id:
            del self._top[owner]
        self._changed(owner)
        await self._delete_files(keys, thread_id)
        return True

    # -- favourites (features.favorites) -------------------------------------------------

    @property
    def can_favorite(self) -> bool:
        """True when the data layer keeps favourites (``FavoriteSteps``): the default store
        does; an app's own data layer does if it has ``set_favorite`` and
        ``list_favorites``."""
        return all(
            callable(getattr(self._store, name, None))
            for name in ("set_favorite", "list_favorites")
        )

    async def favorites(self, owner: str) -> list[FavoriteData]:
        """The owner's favourite messages, newest first (at most ``MAX_FAVORITES``).

        A data layer that fails is logged and lists none: the list is a convenience.
        """
        if not await self.wait_ready() or not self.can_favorite:
            return []
        keeper = cast("FavoriteSteps", self._store)
        try:
            steps = await keeper.list_favorites(owner)
        except Exception as exc:  # see the docstring
            logger.error("Could not list the favourite messages", exc_info=exc)
            return []
        return [FavoriteData(step.id, step.output) for step in steps]

    async def mark_favorite(
        self, message_id: str, owner: str, *, favorite: bool, thread_id: str | None = None
    ) -> str:
        """Mark one of the owner's own messages as a favourite (``favorite``), or unmark it;
        returns the id of its thread.

        Only a user message of one of the owner's threads (of ``thread_id``, when given)
        can be marked or unmarked: anything else, like a data layer that cannot keep
        favourites, raises ``LookupError``.
        """
        if not await self.wait_ready() or self._store is None or not self.can_favorite:
            raise LookupError(message_id)
        await self.flush()  # a message just sent: make sure it is written
        step = await self._store.get_step(message_id, owner=owner)
        if step is None or step.type != "user_message" or thread_id not in (None, step.thread_id):
            raise LookupError(message_id)
        keeper = cast("FavoriteSteps", self._store)
        try:
            await keeper.set_favorite(message_id, owner=owner, favorite=favorite)
        except LookupError:  # the store's NotFoundError: deleted meanwhile
            raise LookupError(message_id) from None
        return step.thread_id

    # -- MCP servers users remember (features.mcp) ----------------------------------------

    @property
    def can_remember_mcp(self) -> bool:
        """True when the data layer keeps users' MCP servers (``McpServerKeeper``): the
        default store does; an app's own data layer does if it has the three methods."""
        return all(
            callable(getattr(self._store, name, None))
            for name in ("list_mcp_servers", "save_mcp_server", "delete_mcp_server")
        )

    async def mcp_servers(self, owner: str) -> list[tuple[str, str, str]] | None:
        """The owner's remembered MCP servers as ``(name, kind, sealed)``, oldest first;
        None when the data layer cannot keep them (the caller keeps them itself)."""
        if not await self.wait_ready() or not self.can_remember_mcp:
            return None
        keeper = cast("McpServerKeeper", self._store)
        return [(s.name, s.kind, s.sealed) for s in await keeper.list_mcp_servers(owner)]

    async def remember_mcp_server(self, owner: str, name: str, kind: str, sealed: str) -> bool:
        """Keep one of the owner's MCP servers (replacing theirs of that name); False when
        the data layer cannot keep them."""
        if not await self.wait_ready() or not self.can_remember_mcp or self._module is None:
            return False
        keeper = cast("McpServerKeeper", self._store)
        record = self._module.McpServerRecord(owner=owner, name=name, kind=kind, sealed=sealed)
        await keeper.save_mcp_server(record)
        return True

    async def forget_mcp_server(self, owner: str, name: str) -> bool:
        """Forget one of the owner's MCP servers; False when the data layer cannot keep
        them (or had none of that name)."""
        if not await self.wait_ready() or not self.can_remember_mcp:
            return False
        keeper = cast("McpServerKeeper", self._store)
        return await keeper.delete_mcp_server(owner, name)

    async def feedback(
        self, thread_id: str, owner: str, *, fresh: bool = False
    ) -> dict[str, Feedback]:
        """The feedback given in a thread, by message id.

        ``fresh``: the chat started in this process (``ChatSession.fresh``). Until its
        first write the store holds nothing of it, feedback included, so opening a new
        chat costs no read. A data layer that fails is logged and gives none: the chat
        page shows it.
        """
        if fresh and (owner, thread_id) not in self._threads:
            return {}
        if not await self.wait_ready() or self._store is None:
            return {}
        try:
            records = await self._store.list_feedback(thread_id, owner=owner)
        except Exception as exc:  # see the docstring
            logger.error("Could not read the feedback of thread %s", thread_id, exc_info=exc)
            return {}
        return {step_id: feedback_of(record) for step_id, record in records.items()}

    async def give_feedback(
        self,
        thread_id: str,
        message_id: str,
        owner: str,
        *,
        value: int | None,
        comment: str | None = None,
    ) -> Feedback | None:
        """Press "Helpful"/"Not helpful" (``value``) or save a comment on an assistant
        message of the owner's thread; returns the feedback now given (see
        ``feedback_after``).

        Raises ``LookupError`` when the thread is not the owner's or the message is not an
        assistant message of it, ``ValueError`` for a comment with no verdict given.
        """
        if not await self.wait_ready() or self._store is None:
            raise LookupError(message_id)
        store = self._store
        await self.flush()  # the message was observed finished: make sure it is written
        step = await store.get_step(message_id, owner=owner)
        if step is None or step.thread_id != thread_id or step.type != "assistant_message":
            raise LookupError(message_id)
        records = await store.list_feedback(thread_id, owner=owner)
        record = records.get(message_id)
        after = feedback_after(
            None if record is None else feedback_of(record), value=value, comment=comment
        )
        # Two presses at once can race here (read, then write); the last one wins.
        if after is None:
            if record is not None:
                await store.delete_feedback(record.id, owner=owner)
            return None
        await store.upsert_feedback(message_id, after.value, owner=owner, comment=after.comment)
        return after

    async def load(self, thread_id: str, owner: str) -> StoredThread | None:
        """A thread with its steps, if it exists and belongs to ``owner``."""
        if not await self.wait_ready() or self._store is None:
            return None
        await self.flush()
        return await self._store.load_thread(thread_id, owner=owner)

    def items(self, stored: StoredThread, *, reopen: bool = True) -> list[MessageData | StepData]:
        """The messages and steps of a stored thread, as the chat shows them.

        ``reopen``: for a chat that goes on here (its elements are noted as written);
        False for a chat only looked at (its shared view).
        """
        assert self._module is not None
        convert: Callable[[Any], MessageData | StepData] = self._module.item_from_record
        elements: dict[str, list[ElementData]] = {}
        for record in stored.elements:
            element = self._module.element_from_record(record)
            elements.setdefault(record.for_id or "", []).append(element)
        items = [convert(step) for step in stored.steps]
        for item in items:
            if item.id in elements:
                item.elements = elements[item.id]
                if reopen:
                    # Written once already: a later change of the message rewrites only changes.
                    self._elements[item.id] = {e.id: e for e in item.elements}
        return items

    # -- sharing (see lightchat.chat.sharing) -------------------------------------------

    @property
    def can_share(self) -> bool:
        """True when the data layer can share threads (``ThreadSharing``): the default
        store can; an app's own data layer can if it has ``share_thread``."""
        return callable(getattr(self._store, "share_thread", None))

    async def share(self, thread_id: str, owner: str, *, shared: bool) -> ThreadLink | None:
        """Share one of the owner's threads, or stop sharing it; the thread as it is now,
        or None when it is not the owner's (or not written yet: a chat with no message)."""
        if not await self.wait_ready() or self._store is None or not self.can_share:
            return None
        await self.flush()
        sharing = cast("ThreadSharing", self._store)
        try:
            thread = await sharing.share_thread(thread_id, owner=owner, shared=shared)
        except LookupError:  # the store's NotFoundError
            return None
        return thread_link(thread)

    async def load_shared(self, thread_id: str) -> StoredThread | None:
        """A thread with its steps, whoever owns it: for its shared view, whose caller
        decides who may see it (``lightchat.chat.sharing``)."""
        if not await self.wait_ready() or self._store is None:
            return None
        await self.flush()
        return await self._store.load_thread(thread_id, owner=None)


async def _made_data_layer(
    factory: Callable[[], Any], module: ModuleType, files: FileStorage
) -> DataLayer:
    """What the app's ``@data_layer`` function returns, if it is a data layer (a Chainlit
    layer keeping its files through ``files``, the app's, has them served from there)."""
    made = factory()
    if inspect.isawaitable(made):
        made = await made
    missing: list[str] = module.missing_operations(made)
    if missing and module.is_chainlit_layer(made):
        # A data layer written for Chainlit (lightchat.data.BaseDataLayer): its methods
        # serve the history through an adapter; what it lacks is said once, here.
        adapter = module.adapt_chainlit_layer(made, files)
        off: dict[str, list[str]] = {}
        for method, feature in adapter.missing.items():
            off.setdefault(feature, []).append(method)
        if off:
            said = [f"{', '.join(names)}: {feature} is off" for feature, names in off.items()]
            logger.warning(
                "The data layer %s does not implement %s", type(made).__name__, "; ".join(said)
            )
        return cast("DataLayer", adapter)
    if missing:
        raise ConfigError(
            f"it returned {type(made).__name__}, which is not a data layer: it has no "
            f"{', '.join(missing)}. Return an object with the methods of "
            "lightchat.store.DataLayer, e.g. a SQLStore or a MemoryStore."
        )
    return cast("DataLayer", made)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
