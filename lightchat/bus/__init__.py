"""The bus: each chat session's ordered event log.

Sessions publish events; pages and streams read them. A stream that drops resumes from the
last sequence number it saw, so nothing is lost and nothing is shown twice.

Concurrency: the owner of a session is the only writer of its log, so ``publish`` assigns
sequence numbers without locking and never awaits (the token stream publishes from a timer
callback). Readers await ``wait``, which returns at once when entries past ``after`` exist.
Each waiting reader parks one future on its log; a publish resolves them all. A timer
handle (not ``wait_for``, which costs a task-like wrapper per call) bounds the wait.

``MemoryBus`` keeps logs in this process. ``lightchat.bus.redis_bus.RedisBus`` keeps them in
Redis Streams so several workers share them; it keeps the same contract (``publish``
returns the entry at once and delivers in order) and reuses ``MemoryBus`` as the mirror of
the logs its worker writes.

Folding: a finished message's tokens are worth nothing once its final state is logged (a
``MessageEvent`` or ``StepEvent`` carries the whole text). A bus made with ``fold=True``
(the app's, outside debug mode) drops an item's token entries from the log when the next
full state of that item is published, so a long-lived chat's log grows with its messages,
not their tokens. Sequence numbers are kept: the log then has gaps, reads bisect it. A
reader behind a fold reads the item's full state next, which is what its page needs: the
tokens it missed are in that state's text, and a ``Transcript`` folded from what is left is
the same chat. Readers of a log that must keep every event (debug mode's replay) use a bus
without folding.

Audio: the app's voice (``AudioEvent``) is worth something only while it plays. Every bus
keeps the last ``AUDIO_KEPT`` audio chunks of a log (a stream that drops for a moment
still plays what it missed) and drops older ones as new ones come, and drops them all when
playback is interrupted (``AudioInterruptEvent``) or voice goes off; a log never holds more
than a few seconds of audio, however long the conversation.

Compaction: a long chat's log is mostly tokens. ``MemoryBus.compact`` replaces the entries
before a point by a *snapshot* (the fewest events that rebuild the chat as it stands there,
``Transcript.snapshot_events``), all at the snapshot's sequence number, and keeps a short
tail of raw entries so a stream a little behind goes on undisturbed. Reading from a point
inside the dropped range raises ``LogCompacted``: the reader cannot be brought up to date
event by event, and reloads its view from ``read(session_id)`` instead.

Lists of chats: besides the chats' logs, the bus carries one word per user, "this owner's
list of chats changed" (a chat got its first message, was renamed or deleted), so every
page of that owner can show its history sidebar as it is now. ``announce`` says it (on
every worker, with ``RedisBus``); a page's stream ``watch_lists`` its owner: a word for
that owner marks the watch changed and wakes the stream (its ``wait`` returns, maybe with
nothing), which then reads the list itself. No name of a chat travels on the bus, only
whose list changed, so a stream can only ever show its own owner's chats. Words are not
kept: a stream that was not listening (a page reconnecting) looks at the list once.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable
from typing import Protocol

from lightchat.domain.events import (
    AudioConnectionEvent,
    AudioEvent,
    AudioInterruptEvent,
    Entry,
    Event,
    MessageEvent,
    RemoveEvent,
    StepEvent,
    TokenEvent,
)
from lightchat.domain.transcript import Transcript


class LogCompacted(Exception):
    """The entries after this point were replaced by a snapshot: reload from the start."""

    def __init__(self, session_id: str, after: int, kept: int) -> None:
        super().__init__(
            f"the log of {session_id} was compacted: entries before {kept} are gone, "
            f"so it cannot be read from {after}"
        )
        self.session_id = session_id
        self.after = after
        self.kept = kept


class ListWatch:
    """A page's stream listening for changes to its owner's list of chats: ``changed`` is
    set when one was announced (the stream clears it once it has shown the list)."""

    __slots__ = ("changed", "owner", "session_id")

    def __init__(self, owner: str, session_id: str) -> None:
        self.owner = owner
        self.session_id = session_id
        self.changed = False


RECENT_S = 60.0
"""How long a worker remembers when it last heard of a change to an owner's list (a page
rendered before it, whose stream opens after it, still shows the change)."""


class Lists:
    """The streams that listen for changes to their owner's list of chats, on one worker
    (see "Lists of chats" above). ``nudge`` wakes a chat's waiting readers."""

    def __init__(self, nudge: Callable[[str], None]) -> None:
        self._nudge = nudge
        self._watches: dict[str, set[ListWatch]] = {}
        self._recent: dict[str, float] = {}

    def watch(self, owner: str, session_id: str, since: float | None = None) -> ListWatch:
        """Listen for the owner's changes. ``since``: when the page's list was made (epoch
        seconds): a change heard after it (or just before: clocks differ) counts already."""
        watch = ListWatch(owner, session_id)
        self._watches.setdefault(owner, set()).add(watch)
        heard = self._recent.get(owner)
        if since is not None and heard is not None and heard >= since - 2.0:
            watch.changed = True
        return watch

    def unwatch(self, watch: ListWatch) -> None:
        watches = self._watches.get(watch.owner)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[watch.owner]

    def heard(self, owner: str) -> None:
        """The owner's list changed: mark their watches and wake their streams."""
        now = time.time()
        if len(self._recent) > 10_000:
            self._recent = {o: t for o, t in self._recent.items() if now - t < RECENT_S}
        self._recent[owner] = now
        for watch in self._watches.get(owner, ()):
            watch.changed = True
            self._nudge(watch.session_id)

    def everyone(self) -> None:
        """Every list may have changed unheard (the bus lost its connection a while)."""
        for owner in list(self._watches):
            self.heard(owner)


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

    async def start(self) -> None:
        """Connect and start background work (the app's lifespan calls it before serving):
        a bus over the network cannot connect in ``__init__``, which runs outside the loop."""
        ...

    async def aclose(self) -> None:
        """Write out what is still queued, then disconnect (the end of the lifespan, after
        the chats closed), so a stopping worker loses no entry it already published."""
        ...

    async def adopt(self, session_id: str) -> list[Entry]:
        """Become the writer of a log another worker wrote (taking a chat over): returns
        the log as it stands (as ``read(session_id)``); later publishes continue its
        sequence, so pages streaming it just go on."""
        ...

    async def flush(self) -> None:
        """Wait until everything published so far can be read by every worker (before a
        chat is handed over, or a reply that others will act on)."""
        ...

    def release(self, session_id: str) -> None:
        """Stop writing a session's log here, leaving it in the shared store for the
        worker that goes on with the chat (a hand-over)."""
        ...

    async def ping(self) -> bool:
        """True when the bus can store entries now (readiness checks ask it)."""
        ...

    def announce(self, owner: str) -> None:
        """Say that the owner's list of chats changed: every worker's streams that watch
        that owner's lists hear it (never blocks; see "Lists of chats")."""
        ...

    def watch_lists(self, owner: str, session_id: str, since: float | None = None) -> ListWatch:
        """Listen, from the stream of chat ``session_id``, for changes to the owner's list
        of chats (see ``Lists.watch``); ``unwatch_lists`` when the stream ends."""
        ...

    def unwatch_lists(self, watch: ListWatch) -> None:
        """Stop listening (the stream ended)."""
        ...


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _seq(entry: Entry) -> int:
    return entry.seq


AUDIO_KEPT = 64
"""How many of the app's latest audio chunks a log keeps (see "Audio")."""

_AUDIO_EVENTS = (AudioEvent, AudioInterruptEvent, AudioConnectionEvent)

_FULL_STATES = (MessageEvent, StepEvent, RemoveEvent)
"""The events after which an item's earlier tokens tell nothing (see "Folding")."""


class _Log:
    """One session's entries: an optional snapshot (all at ``snap_seq``), then the raw
    entries after ``floor``, in order of their sequence numbers (with gaps where tokens
    were folded); ``last`` is the newest sequence number given."""

    __slots__ = (
        "audio",
        "entries",
        "floor",
        "last",
        "snap_seq",
        "snapshot",
        "streams",
        "waiters",
    )

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.waiters: list[asyncio.Future[None]] = []
        self.floor = 0
        self.last = 0
        self.snap_seq = 0
        self.snapshot: list[Entry] = []
        self.streams: dict[str, int] = {}
        """Items with tokens in the log since their last full state: the first's seq."""
        self.audio: deque[int] = deque()
        """The audio chunks in the log, oldest first: their seqs."""

    def wake(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                _resolve(waiter)

    def raw(self, after: int, until: int | None) -> list[Entry]:
        entries = self.entries
        if after >= self.last or not entries:
            return []
        lo = 0 if after < entries[0].seq else bisect_right(entries, after, key=_seq)
        if until is None:
            return entries[lo:]
        return entries[lo : bisect_right(entries, until, lo, key=_seq)]

    def slice(self, session_id: str, after: int, until: int | None) -> list[Entry]:
        after = max(after, 0)
        if not self.snap_seq:
            return self.raw(after, until)
        if until is not None and until <= after:
            return []
        if after == 0:
            if until is not None and until < self.snap_seq:
                raise LogCompacted(session_id, until, self.floor + 1)
            head = self.snapshot
            after = self.snap_seq
        elif after < self.floor:
            raise LogCompacted(session_id, after, self.floor + 1)
        else:
            head = []
        return head + self.raw(after, until)

    def note_audio(self, entry: Entry) -> list[int]:
        """Keep only the last ``AUDIO_KEPT`` audio chunks, none after an interruption or
        the end of voice (see "Audio"). Returns the seqs dropped."""
        event = entry.event
        if type(event) is AudioEvent:
            self.audio.append(entry.seq)
            if len(self.audio) <= AUDIO_KEPT:
                return []
            return self.drop([self.audio.popleft()])
        if self.audio and (
            type(event) is AudioInterruptEvent
            or (type(event) is AudioConnectionEvent and event.state == "off")
        ):
            gone, self.audio = list(self.audio), deque()
            return self.drop(gone)
        return []

    def drop(self, seqs: list[int]) -> list[int]:
        """Take these entries out of the log (those still in it). Returns their seqs."""
        entries = self.entries
        dropped: list[int] = []
        for seq in seqs:
            at = bisect_left(entries, seq, key=_seq)
            if at < len(entries) and entries[at].seq == seq:
                del entries[at]
                dropped.append(seq)
        return dropped

    def note(self, entry: Entry) -> list[int]:
        """Keep track of the items streaming in the log; when ``entry`` is an item's full
        state, drop the item's tokens before it. Returns the seqs dropped."""
        event = entry.event
        if type(event) is TokenEvent:
            if event.id not in self.streams:
                self.streams[event.id] = entry.seq
            return []
        if not self.streams or not isinstance(event, _FULL_STATES):
            return []
        item_id = event.id if isinstance(event, RemoveEvent) else _item_id(event)
        first = self.streams.pop(item_id, None)
        if first is None:
            return []
        entries = self.entries
        start = bisect_left(entries, first, key=_seq)
        kept: list[Entry] = []
        dropped: list[int] = []
        for held in entries[start:-1]:
            found = held.event
            if type(found) is TokenEvent and found.id == item_id:
                dropped.append(held.seq)
            else:
                kept.append(held)
        entries[start:-1] = kept
        return dropped

    def rescan(self) -> None:
        """Find the items streaming in entries set from elsewhere (``MemoryBus.load``)."""
        self.streams = {}
        self.audio = deque(e.seq for e in self.entries if type(e.event) is AudioEvent)
        for entry in self.entries:
            event = entry.event
            if type(event) is TokenEvent:
                self.streams.setdefault(event.id, entry.seq)
            elif isinstance(event, _FULL_STATES):
                item_id = event.id if isinstance(event, RemoveEvent) else _item_id(event)
                self.streams.pop(item_id, None)


def _item_id(event: MessageEvent | StepEvent) -> str:
    return event.message.id if isinstance(event, MessageEvent) else event.step.id


class MemoryBus:
    """Event logs held in this process: the default, for one worker.

    ``fold``: drop a message's or step's tokens from the log once its full state follows
    them (see "Folding" above).
    """

    def __init__(self, *, fold: bool = False) -> None:
        self._logs: dict[str, _Log] = {}
        self._closed = False
        self.fold = fold
        self._lists = Lists(self.nudge)

    def publish(self, session_id: str, event: Event) -> Entry:
        return self.append(session_id, event)[0]

    def append(self, session_id: str, event: Event) -> tuple[Entry, list[int]]:
        """``publish``, which also says which sequence numbers the entry folded away."""
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = _Log()
        log.last += 1
        entry = Entry(log.last, event)
        log.entries.append(entry)
        dropped = log.note(entry) if self.fold else []
        if type(event) in _AUDIO_EVENTS:
            dropped += log.note_audio(entry)
        log.wake()
        return entry, dropped

    async def read(self, session_id: str, after: int = 0, until: int | None = None) -> list[Entry]:
        log = self._logs.get(session_id)
        if log is None:
            return []
        return log.slice(session_id, after, until)

    async def wait(self, session_id: str, after: int, timeout: float) -> list[Entry]:
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = _Log()
        if log.last <= after and not self._closed:
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
        return log.slice(session_id, after, None)

    def last_seq(self, session_id: str) -> int:
        log = self._logs.get(session_id)
        return log.last if log is not None else 0

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

    async def start(self) -> None:
        """Nothing to connect: the logs live in this process."""

    async def aclose(self) -> None:
        """Nothing to write out or disconnect."""

    async def adopt(self, session_id: str) -> list[Entry]:
        """One process writes every log, so there is nobody to take one over from."""
        return await self.read(session_id)

    async def flush(self) -> None:
        """Published entries are readable at once."""

    async def ping(self) -> bool:
        return True

    def announce(self, owner: str) -> None:
        self._lists.heard(owner)

    def watch_lists(self, owner: str, session_id: str, since: float | None = None) -> ListWatch:
        return self._lists.watch(owner, session_id, since)

    def unwatch_lists(self, watch: ListWatch) -> None:
        self._lists.unwatch(watch)

    def nudge(self, session_id: str) -> None:
        """Wake the readers waiting on a session's log, with nothing new in it."""
        log = self._logs.get(session_id)
        if log is not None:
            log.wake()

    # -- helpers for a bus that mirrors its logs here (RedisBus) and for compaction ------

    def holds(self, session_id: str) -> bool:
        """True when this bus has a log for the session (a mirror: this worker writes it)."""
        return session_id in self._logs

    def release(self, session_id: str) -> None:
        """Forget a session's log here (another bus keeps it); its readers return."""
        self.discard(session_id)

    def load(
        self,
        session_id: str,
        snap_seq: int,
        snapshot: list[Entry],
        entries: list[Entry],
        kept: int = 0,
    ) -> None:
        """Set a log to what another store holds: a snapshot at ``snap_seq`` (0: none) and
        the raw entries after it, in order (gaps where tokens were folded); ``kept``: the
        first sequence number the store still holds raw after a compaction (0: the first
        of ``entries``)."""
        log = self._logs.get(session_id)
        if log is None:
            log = self._logs[session_id] = _Log()
        log.snapshot = list(snapshot)
        log.snap_seq = snap_seq
        log.entries = list(entries)
        if not snap_seq:
            log.floor = 0
        elif kept:
            log.floor = kept - 1
        else:
            log.floor = entries[0].seq - 1 if entries else snap_seq
        log.last = max(entries[-1].seq if entries else 0, snap_seq)
        log.rescan()
        log.wake()

    def size(self, session_id: str) -> int:
        """How many raw (not snapshot) entries the log holds."""
        log = self._logs.get(session_id)
        return len(log.entries) if log is not None else 0

    def compact(self, session_id: str, keep: int) -> tuple[list[Entry], int] | None:
        """Replace the log up to its newest entry by a snapshot, keeping the last ``keep``
        raw entries for readers a little behind.

        Returns the snapshot and the first sequence number still kept raw (None for an
        empty log). Waiting readers are not woken: nothing new was published.
        """
        log = self._logs.get(session_id)
        if log is None or not log.last:
            return None
        seq = log.last
        transcript = Transcript.from_entries(log.slice(session_id, 0, None))
        snapshot = [Entry(seq, event) for event in transcript.snapshot_events()]
        kept = max(seq - keep + 1, log.floor + 1, 1)
        log.entries = log.raw(kept - 1, None)
        log.floor = kept - 1
        log.snapshot = snapshot
        log.snap_seq = seq
        return snapshot, kept
