"""Chat history: what chats show, written to the store, read back for the sidebar and resume.

Concurrency: a session calls ``observe`` from its publish path. It only notes the item's
latest state in a dict (no I/O, no await), so the token stream never waits on the database:
a message is written when it starts and when it completes (or is stopped), never per token.
One writer task drains the dict; a new state of an item that is still waiting replaces the
old one, so a burst of updates costs one write.

The store (SQLAlchemy, Alembic, the drivers) takes about half a second to import, so it is
imported and migrated in a worker thread after the server has started: the first page does
not wait for it. Until it is ready, history is empty and writes wait in the dict.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lightchat.events import (
    Entry,
    MessageData,
    MessageEvent,
    RemoveEvent,
    StepData,
    StepEvent,
)
from lightchat.transcript import Item

if TYPE_CHECKING:
    from lightchat.store import SQLStore, StoredThread, ThreadRecord

logger = logging.getLogger("lightchat")

_Key = tuple[str, str, str]  # owner, thread id, item id


@dataclass(frozen=True, slots=True)
class ThreadLink:
    """A thread as the history sidebar lists it."""

    id: str
    name: str
    updated_at: datetime


class History:
    """Writes chats to the store and reads them back."""

    def __init__(self, url: str, app_dir: str = ".") -> None:
        self.url = url
        self.app_dir = app_dir
        self._store: SQLStore | None = None
        self._module: ModuleType | None = None
        self._pending: dict[_Key, Item | None] = {}
        self._threads: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None

    @property
    def ready(self) -> bool:
        """True once the store is open."""
        return self._store is not None

    async def start(self) -> None:
        """Open the store in the background and start writing."""
        self._task = asyncio.create_task(self._run(), name="lightchat-history")

    async def wait_ready(self) -> bool:
        """Wait until the store is open (or failed to open); True if it is usable."""
        await self._ready.wait()
        return self._store is not None

    async def close(self) -> None:
        """Write what is pending, then close the store."""
        if self._store is not None:
            await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def flush(self) -> None:
        """Wait until everything observed so far is written."""
        if self._store is None and not self._ready.is_set():
            await self._ready.wait()
        if self._store is not None:
            await self._idle.wait()

    def observe(self, owner: str, thread_id: str, entry: Entry) -> None:
        """Note a published event; messages and steps are written soon after, in order."""
        event = entry.event
        if isinstance(event, MessageEvent):
            self._note((owner, thread_id, event.message.id), event.message)
        elif isinstance(event, StepEvent):
            self._note((owner, thread_id, event.step.id), event.step)
        elif isinstance(event, RemoveEvent):
            self._note((owner, thread_id, event.id), None)

    def _note(self, key: _Key, item: Item | None) -> None:
        self._pending[key] = item
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        try:
            # Imported here, in a thread, to keep start-up fast (see the module docstring).
            module = await asyncio.to_thread(importlib.import_module, "lightchat.store")
            self._module = module
            self.url = self.url or module.default_database_url(Path(self.app_dir))
            self._store = await module.SQLStore.open(self.url)
        except Exception as exc:  # history is optional: the chat works without it
            logger.error("Chat history is off: could not open %s", self.url, exc_info=exc)
            self.failed = exc
            self._pending.clear()
            self._idle.set()
            return
        finally:
            self._ready.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, {}
                for key, item in batch.items():
                    await self._write(key, item)
            self._idle.set()

    async def _write(self, key: _Key, item: Item | None) -> None:
        store, module = self._store, self._module
        assert store is not None
        assert module is not None
        owner, thread_id, item_id = key
        try:
            if item is None:
                await store.delete_step(item_id, owner=owner)
                return
            if (owner, thread_id) not in self._threads:
                if await store.get_thread(thread_id, owner=owner) is None:
                    await store.create_thread(owner, thread_id=thread_id)
                self._threads.add((owner, thread_id))
            await store.upsert_step(module.record_from_item(item, thread_id), owner=owner)
        except Exception as exc:  # a failed write is logged; the chat itself goes on
            logger.error("Could not save to chat history (thread %s)", thread_id, exc_info=exc)

    async def threads(self, owner: str, *, first: int = 50) -> list[ThreadLink]:
        """The owner's named threads, most recent first (including what is being written)."""
        if not await self.wait_ready():
            return []
        await self.flush()
        if self._store is None or self._module is None:
            return []
        page = await self._store.list_threads(owner, self._module.Pagination(first=first))
        return [_link(thread) for thread in page.threads if thread.name]

    async def load(self, thread_id: str, owner: str) -> StoredThread | None:
        """A thread with its steps, if it exists and belongs to ``owner``."""
        if not await self.wait_ready() or self._store is None:
            return None
        await self.flush()
        return await self._store.load_thread(thread_id, owner=owner)

    def items(self, stored: StoredThread) -> list[MessageData | StepData]:
        """The messages and steps of a stored thread, as the chat shows them."""
        assert self._module is not None
        convert: Callable[[Any], MessageData | StepData] = self._module.item_from_record
        return [convert(step) for step in stored.steps]


def _link(thread: ThreadRecord) -> ThreadLink:
    return ThreadLink(thread.id, thread.name or "Untitled chat", thread.updated_at)


def thread_dict(stored: StoredThread) -> dict[str, Any]:
    """A stored thread in Chainlit's ``ThreadDict`` shape, for ``on_chat_resume``."""
    thread = stored.thread
    return {
        "id": thread.id,
        "name": thread.name,
        "createdAt": thread.created_at.isoformat(),
        "userId": thread.user_id,
        "userIdentifier": None,
        "tags": list(thread.tags),
        "metadata": dict(thread.meta),
        "steps": [
            {
                "id": step.id,
                "threadId": thread.id,
                "parentId": step.parent_id,
                "name": step.name,
                "type": step.type,
                "input": step.input,
                "output": step.output,
                "createdAt": step.created_at.isoformat() if step.created_at else None,
            }
            for step in stored.steps
        ],
        "elements": [],
    }


def recency_groups(
    links: list[ThreadLink], now: datetime | None = None
) -> list[tuple[str, list[ThreadLink]]]:
    """Threads grouped as the sidebar shows them: Today, Yesterday, Previous 7 days, Older."""
    now = now or datetime.now(UTC)
    today = now.date()
    groups: dict[str, list[ThreadLink]] = {}
    for link in links:
        when = link.updated_at
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        day = when.astimezone(now.tzinfo or UTC).date()
        if day >= today:
            label = "Today"
        elif day == today - timedelta(days=1):
            label = "Yesterday"
        elif day > today - timedelta(days=8):
            label = "Previous 7 days"
        else:
            label = "Older"
        groups.setdefault(label, []).append(link)
    order = ["Today", "Yesterday", "Previous 7 days", "Older"]
    return [(label, groups[label]) for label in order if label in groups]
