"""The bus: each chat session's ordered event log.

Sessions publish events; pages and streams read them. A stream that drops resumes from the
last sequence number it saw, so nothing is lost and nothing is shown twice.

Concurrency: the owner of a session is the only writer of its log, so ``publish`` assigns
sequence numbers without locking and never awaits (the token stream publishes from a timer
callback). Readers await ``wait``, which returns at once when entries past ``after`` exist.
Each waiting reader parks one future on its log; a publish resolves them all. A timer
handle (not ``wait_for``, which costs a task-like wrapper per call) bounds the wait.

``MemoryBus`` keeps logs in this process. Another implementation (e.g. over Redis Streams)
keeps the same contract: ``publish`` returns the entry at once and delivers in order.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from lightchat.events import Entry, Event


class Bus(Protocol):
    """The contract every event log implementation keeps."""

    def publish(self, session_id: str, event: Event) -> Entry:
        """Append an event to a session's log and return it with its sequence number."""
        ...

    async def read(self, session_id: str, after: int = 0, until: int | None = None) -> list[Entry]:
        """The entries with ``after < seq <= until`` (``until=None``: to the end)."""
        ...

    async def wait(self, session_id: str, after: int, timeout: float) -> list[Entry]:
        """Entries past ``after``; waits up to ``timeout`` seconds for one if there are none."""
        ...

    def last_seq(self, session_id: str) -> int:
        """The sequence number of the newest entry (0 for an empty log)."""
        ...

    def discard(self, session_id: str) -> None:
        """Forget a session's log; its waiting readers return at once."""
        ...

    @property
    def closed(self) -> bool:
        """True once ``close`` was called: readers should end."""
        ...

    def close(self) -> None:
        """Wake every reader so streams can end (server shutdown)."""
        ...


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Log:
    __slots__ = ("entries", "waiters")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.waiters: list[asyncio.Future[None]] = []

    def wake(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                _resolve(waiter)


class MemoryBus:
    """Event logs held in this process: the default, for one worker."""

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}
        self._closed = False

    def publish(self, session_id: str, event: Event) -> Entry:
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = _Log()
        # Sequence numbers are 1-based positions, so reads are plain slices.
        entry = Entry(len(log.entries) + 1, event)
        log.entries.append(entry)
        log.wake()
        return entry

    async def read(self, session_id: str, after: int = 0, until: int | None = None) -> list[Entry]:
        log = self._logs.get(session_id)
        if log is None:
            return []
        return log.entries[max(after, 0) : until]

    async def wait(self, session_id: str, after: int, timeout: float) -> list[Entry]:
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = _Log()
        if len(log.entries) <= after and not self._closed:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            log.waiters.append(waiter)
            timer = loop.call_later(timeout, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                if waiter in log.waiters:
                    log.waiters.remove(waiter)
        return log.entries[max(after, 0) :]

    def last_seq(self, session_id: str) -> int:
        log = self._logs.get(session_id)
        return len(log.entries) if log is not None else 0

    def discard(self, session_id: str) -> None:
        log = self._logs.pop(session_id, None)
        if log is not None:
            log.wake()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        for log in self._logs.values():
            log.wake()
