"""The data-layer interface: what the chat needs from persistence.

``DataLayer`` lists the operations of Chainlit's ``BaseDataLayer`` (users, threads, steps,
elements, feedback, paginated and filtered thread listing), in lightchat's terms: they take
and return the ``*Record`` classes. ``SQLStore`` implements it on SQLite or PostgreSQL and
``MemoryStore`` in process memory; an app can supply its own implementation with
``@data_layer``::

    @cl.data_layer
    def get_data_layer():
        return MyDataLayer()

A data layer may also have ``upsert_steps`` (``BatchWriter``): the history then writes many
steps per transaction; and ``update_outputs`` (``OutputWriter``): the history then saves the
text of messages still streaming (its checkpoints) by setting that one column; and
``update_threads`` (``ThreadsWriter``): the history then writes the names, tags and
metadata the chats' runs give their threads in one transaction; and
``share_thread`` (``ThreadSharing``): its owners may then share a thread as a read-only page
(``features.allow_thread_sharing``); and ``set_favorite`` with ``list_favorites``
(``FavoriteSteps``): signed-in users may then mark their messages as favourites
(``features.favorites``); and ``list_mcp_servers``, ``save_mcp_server`` with
``delete_mcp_server`` (``McpServerKeeper``): the MCP servers users add in a chat are then
remembered there for their next chats (else in the worker's memory). It keeps rows
only: element files are in the app's file storage
(``lightchat.files``), and the operations that delete elements return their storage keys
for the caller to delete the files.

Ownership: history is per owner (a signed-in user's key, or a browser's key when sign-in is
off). Every operation that reaches a thread takes a keyword-only ``owner``, and it is
required on purpose, so that each call site says whose thread it expects:

- ``owner="..."``: the thread must belong to that owner. A thread that exists but belongs to
  someone else is treated exactly like a missing one (``None``, ``False`` or
  ``NotFoundError``), so an endpoint answers 404 and never reveals other people's threads.
- ``owner=None``: no check, for callers that have checked already (the chat session writing
  its own thread, maintenance jobs).

Error conventions: reads of one object (``get_thread``, ``load_thread``, ``get_element``)
return None; deletes of a step, element or feedback return what they removed (or nothing);
everything else that names a thread raises ``NotFoundError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from lightchat.domain.events import MAX_FAVORITES
from lightchat.store.errors import InvalidCursorError
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    McpServerRecord,
    StepRecord,
    ThreadRecord,
    UserRecord,
)

__all__ = [
    "MAX_PAGE_SIZE",
    "THREAD_NAME_LENGTH",
    "BatchWriter",
    "DataLayer",
    "FavoriteSteps",
    "McpServerKeeper",
    "OutputWriter",
    "Pagination",
    "StoredThread",
    "ThreadFields",
    "ThreadFilter",
    "ThreadPage",
    "ThreadSharing",
    "ThreadsWriter",
    "missing_operations",
    "page_cursor",
    "read_cursor",
    "thread_name",
]

#: The largest page ``list_threads`` returns, whatever ``Pagination.first`` asks.
MAX_PAGE_SIZE = 100

#: How long a name derived from a message may be, ellipsis included.
THREAD_NAME_LENGTH = 60

_SPACE = re.compile(r"\s+")


def thread_name(text: str, limit: int = THREAD_NAME_LENGTH) -> str | None:
    """A thread name made from the text of its first user message (None for blank text).

    Whitespace collapses to single spaces; a long text is cut at a word boundary and ends
    with an ellipsis, the whole at most ``limit`` characters.

    >>> thread_name("  What is\\nthe capital   of France? ")
    'What is the capital of France?'
    >>> thread_name("word " * 30, limit=20)
    'word word word word…'
    """
    flat = _SPACE.sub(" ", text).strip()
    if not flat:
        return None
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" .,;:-") + "…"


@dataclass(frozen=True, slots=True)
class Pagination:
    """Which page of a thread list: ``first`` threads after ``cursor``.

    ``cursor`` is the ``end_cursor`` of the previous page (None for the first page).
    """

    first: int = 20
    cursor: str | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def page_cursor(thread: ThreadRecord) -> str:
    """The cursor of the page that ends with ``thread``: its ``(updated_at, id)``."""
    micros = (thread.updated_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{thread.id}"


def read_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(updated_at, id)`` a ``page_cursor`` holds; threads after it come before both.

    Raises ``InvalidCursorError`` for a cursor that ``page_cursor`` did not make.
    """
    micros, _, thread_id = cursor.partition(".")
    if not micros.isdigit() or not thread_id:
        raise InvalidCursorError(
            f"Unknown page cursor {cursor!r}: pass the end_cursor of the previous page."
        )
    return _EPOCH + timedelta(microseconds=int(micros)), thread_id


@dataclass(frozen=True, slots=True)
class ThreadFilter:
    """Narrows a thread list.

    ``search`` keeps threads whose name or any step's output contains the text
    (case-insensitive substring match: a ``LIKE '%text%'`` scan over the owner's threads,
    not a full-text index). ``feedback`` keeps threads with at least one feedback of that
    value (1 helpful, 0 not helpful).
    """

    search: str | None = None
    feedback: int | None = None


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """One page of threads, most recently updated first."""

    threads: list[ThreadRecord]
    has_next: bool
    end_cursor: str | None


@dataclass(slots=True)
class StoredThread:
    """A thread with everything shown in it, read in one transaction.

    ``steps`` (messages included) are in creation order; ``feedback`` maps a step id to its
    feedback.
    """

    thread: ThreadRecord
    steps: list[StepRecord] = field(default_factory=list)
    elements: list[ElementRecord] = field(default_factory=list)
    feedback: dict[str, FeedbackRecord] = field(default_factory=dict)


@runtime_checkable
class DataLayer(Protocol):
    """Persistence for users, threads, steps, elements and feedback.

    See the module docstring for ``owner`` and the error conventions. Implementations must
    be safe to call concurrently from many chat sessions.
    """

    # -- users ------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> UserRecord | None:
        """The user with this identifier, or None."""
        ...

    async def create_user(
        self,
        identifier: str,
        *,
        display_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> UserRecord:
        """Create the user, or update the display name/metadata given of an existing one."""
        ...

    # -- threads ----------------------------------------------------------------------

    async def create_thread(
        self,
        owner: str,
        *,
        thread_id: str | None = None,
        user_id: str | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ThreadRecord:
        """Create a thread for ``owner``; raises ``ConflictError`` if the id is taken."""
        ...

    async def update_thread(
        self,
        thread_id: str,
        *,
        owner: str | None,
        name: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ThreadRecord:
        """Rename, retag or replace the metadata of a thread (None leaves a field as is)."""
        ...

    async def get_thread(self, thread_id: str, *, owner: str | None) -> ThreadRecord | None:
        """The thread, or None."""
        ...

    async def load_thread(self, thread_id: str, *, owner: str | None) -> StoredThread | None:
        """The thread with its steps, elements and feedback, or None."""
        ...

    async def delete_thread(self, thread_id: str, *, owner: str | None) -> list[str]:
        """Delete a thread with its steps, elements and feedback.

        Returns the storage keys of the deleted elements' files, for the caller to remove
        from the file storage.
        """
        ...

    async def list_threads(
        self,
        owner: str,
        pagination: Pagination | None = None,
        filters: ThreadFilter | None = None,
    ) -> ThreadPage:
        """A page of the owner's threads, most recently updated first."""
        ...

    async def get_thread_owner(self, thread_id: str) -> str | None:
        """The owner key of a thread, or None if there is no such thread."""
        ...

    async def get_thread_author(self, thread_id: str) -> str | None:
        """The identifier of the user who owns a thread (None if none or browser-owned)."""
        ...

    # -- steps ------------------------------------------------------------------------

    async def upsert_step(self, step: StepRecord, *, owner: str | None) -> None:
        """Insert a step or replace its state; the thread counts as updated.

        A user message in a thread without a name names it (see ``thread_name``).
        """
        ...

    async def delete_step(self, step_id: str, *, owner: str | None) -> list[str]:
        """Delete a step, its nested steps, their feedback and elements.

        Returns the storage keys of the deleted elements' files (empty when there was no
        such step).
        """
        ...

    async def get_thread_steps(self, thread_id: str, *, owner: str | None) -> list[StepRecord]:
        """The thread's steps (messages included) in creation order."""
        ...

    async def get_step(self, step_id: str, *, owner: str | None) -> StepRecord | None:
        """The step (or message), or None (missing, or in someone else's thread)."""
        ...

    # -- elements ---------------------------------------------------------------------

    async def create_element(self, element: ElementRecord, *, owner: str | None) -> None:
        """Store an element of an existing thread."""
        ...

    async def get_element(
        self, element_id: str, *, owner: str | None, thread_id: str | None = None
    ) -> ElementRecord | None:
        """The element (of that thread, when ``thread_id`` is given), or None."""
        ...

    async def delete_element(self, element_id: str, *, owner: str | None) -> ElementRecord | None:
        """Delete an element; returns it (its ``storage_key`` names the file), or None."""
        ...

    # -- feedback ---------------------------------------------------------------------

    async def upsert_feedback(
        self, for_id: str, value: int, *, owner: str | None, comment: str | None = None
    ) -> FeedbackRecord:
        """Set the feedback on a step (replacing any earlier one); raises ``NotFoundError``."""
        ...

    async def list_feedback(
        self, thread_id: str, *, owner: str | None
    ) -> dict[str, FeedbackRecord]:
        """The feedback given in a thread, by step id (empty for a thread that is not ours)."""
        ...

    async def delete_feedback(self, feedback_id: str, *, owner: str | None) -> bool:
        """Delete a feedback; False when there was none (or it is someone else's)."""
        ...

    async def close(self) -> None:
        """Release connections; the data layer is not used afterwards."""
        ...


@runtime_checkable
class BatchWriter(Protocol):
    """A data layer that can also write the steps of many chats in one transaction (optional).

    The history writes what chats show in the background; with this method it writes
    everything waiting in one call, instead of a ``create_thread`` per new chat and an
    ``upsert_step`` per step.
    """

    async def upsert_steps(self, steps: Sequence[StepRecord], *, owners: Mapping[str, str]) -> None:
        """The same as ``upsert_step`` for each step, in order, in one transaction: all are
        written or none. ``owners`` maps each step's thread id to its owner; a thread that
        does not exist yet is created for that owner first. Raises ``NotFoundError`` for a
        thread of another owner, ``ConflictError`` for a step id used in another thread."""
        ...


@dataclass(frozen=True, slots=True)
class ThreadFields:
    """What to set on a thread (``ThreadsWriter``); None leaves a field as it is.

    ``client_type`` is the client its chat runs in (``webapp``, ``copilot``...), kept for
    the analytics page (at most 40 characters are kept).
    """

    thread_id: str
    owner: str
    name: str | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    client_type: str | None = None


@runtime_checkable
class ThreadsWriter(Protocol):
    """A data layer that can also set the fields of many threads in one transaction
    (optional).

    At the end of each run, the history writes the tags and metadata of the chat's
    ``user_session`` (and the name the app gave the chat) to its thread; with this method
    it writes those of every chat whose run ended since its last write at once, instead of
    an ``update_thread`` per chat.
    """

    async def update_threads(self, fields: Sequence[ThreadFields]) -> None:
        """Set the fields given of each thread, in one transaction: all or none. A thread
        that is missing, or not that owner's, is left alone (no error). Like
        ``update_thread``, it does not count as activity."""
        ...


@dataclass(frozen=True, slots=True)
class ThreadListing:
    """A thread as a list of chats shows it (``ThreadLister``)."""

    id: str
    name: str | None
    updated_at: datetime
    shared_at: datetime | None = None


@runtime_checkable
class ThreadLister(Protocol):
    """A data layer that can also list an owner's latest threads cheaply (optional).

    Every chat page lists its owner's chats in the sidebar; with this method the history
    reads only what the list shows, instead of a ``list_threads`` page of whole records.
    """

    async def recent_threads(self, owner: str, first: int) -> list[ThreadListing]:
        """The owner's ``first`` (at most ``MAX_PAGE_SIZE``) most recently updated
        threads, in the order of ``list_threads`` without a cursor or filters."""
        ...


@runtime_checkable
class OutputWriter(Protocol):
    """A data layer that can also set the text of many steps at once, cheaply (optional).

    The history saves the text of a message (or step) still streaming every half second;
    with this method it sets that column alone, for steps it has written before, instead of
    writing their whole state again.
    """

    async def update_outputs(
        self, outputs: Sequence[tuple[str, str, str]], *, owners: Mapping[str, str]
    ) -> None:
        """Set the ``output`` of steps already written, given as (step id, thread id, text),
        in one transaction. ``owners`` maps each thread id to its owner. A step that is
        missing, or not in that thread of that owner, is left alone (no error): it was
        deleted meanwhile, or its first write failed."""
        ...


@runtime_checkable
class ThreadSharing(Protocol):
    """A data layer that can also share threads (optional).

    A shared thread is shown read-only at a stable link to whom the app lets see it
    (``@on_shared_thread_view``); without this method, a data layer's threads cannot be
    shared. What is stored is when the thread was shared (``ThreadRecord.shared_at``).
    """

    async def share_thread(
        self, thread_id: str, *, owner: str | None, shared: bool
    ) -> ThreadRecord:
        """Share the thread (``shared``), or stop sharing it; returns it as it is now.

        Sharing a thread that is shared already keeps its first ``shared_at``, so its link
        and its time stay as they were. Neither counts as activity: the thread keeps its
        place in the history. Raises ``NotFoundError`` for a thread that is not ``owner``'s.
        """
        ...


@runtime_checkable
class FavoriteSteps(Protocol):
    """A data layer that can also keep the messages users mark as favourites (optional).

    What is stored is when the thread's owner marked the step (``StepRecord.favorite_at``);
    writing the step again (``upsert_step``) never changes it. Without these methods, a
    data layer's messages cannot be marked (``features.favorites`` shows nothing).
    """

    async def set_favorite(self, step_id: str, *, owner: str | None, favorite: bool) -> StepRecord:
        """Mark the step as a favourite (``favorite``), or unmark it; returns it as it is
        now. Marking a step marked already keeps its first ``favorite_at``. Neither
        counts as activity: the thread keeps its place in the history. Raises
        ``NotFoundError`` for a step that is not in one of ``owner``'s threads."""
        ...

    async def list_favorites(
        self, owner: str, *, thread_id: str | None = None, limit: int = MAX_FAVORITES
    ) -> list[StepRecord]:
        """The steps marked as favourites in ``owner``'s threads (in that thread only, with
        ``thread_id``), newest first (by when the step was made, as Chainlit lists them),
        at most ``limit`` (itself at most ``MAX_FAVORITES``)."""
        ...


@runtime_checkable
class McpServerKeeper(Protocol):
    """A data layer that can also remember the MCP servers users add (optional).

    A server is kept by owner and name (``McpServerRecord``); its command, URL and headers
    come sealed (encrypted by the chat), so the data layer stores them as opaque text.
    Without these methods, the servers are remembered in the worker's memory only.
    """

    async def list_mcp_servers(self, owner: str) -> list[McpServerRecord]:
        """The owner's servers, oldest first."""
        ...

    async def save_mcp_server(self, server: McpServerRecord) -> McpServerRecord:
        """Keep a server; one of the owner's with the same name is replaced (its ``kind``
        and ``sealed`` change, its id and ``created_at`` stay). Returns it as stored."""
        ...

    async def delete_mcp_server(self, owner: str, name: str) -> bool:
        """Forget the owner's server of that name; False when there was none."""
        ...


_OPERATIONS = tuple(
    name for name, value in vars(DataLayer).items() if callable(value) and not name.startswith("_")
)


def missing_operations(candidate: object) -> list[str]:
    """The ``DataLayer`` methods that ``candidate`` lacks (empty: it has them all).

    >>> missing_operations(object())[:3]
    ['get_user', 'create_user', 'create_thread']
    """
    return [name for name in _OPERATIONS if not callable(getattr(candidate, name, None))]
