"""``MemoryStore``: the data layer in process memory.

For tests and demos (history that lasts as long as the process), and as a short, readable
model of what a data layer does, for writing one's own (see ``lightchat.store.layer``)::

    @cl.data_layer
    def get_data_layer():
        return MemoryStore()

It keeps the same rules as ``SQLStore``: ownership checks, the error conventions, thread
names from the first user message, pages by ``(updated_at, id)`` cursor, search in names
and step outputs. It implements the required operations, ``share_thread``, and
``set_favorite`` with ``list_favorites`` (no ``upsert_steps``).

Concurrency: every operation runs to its end without awaiting, so concurrent chats on one
event loop never see an operation half done. Records are copied in and out: changing a
record after a call never changes what is stored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from lightchat.domain.events import MAX_FAVORITES
from lightchat.store.errors import ConflictError, NotFoundError
from lightchat.store.layer import (
    MAX_PAGE_SIZE,
    DataLayer,
    FavoriteSteps,
    McpServerKeeper,
    Pagination,
    StoredThread,
    ThreadFilter,
    ThreadPage,
    ThreadSharing,
    page_cursor,
    read_cursor,
    thread_name,
)
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    McpServerRecord,
    StepRecord,
    ThreadRecord,
    UserRecord,
    utcnow,
)

__all__ = ["MemoryStore"]

R = TypeVar(
    "R", UserRecord, ThreadRecord, StepRecord, ElementRecord, FeedbackRecord, McpServerRecord
)


def _copy(record: R) -> R:
    return type(record)(**copy.deepcopy(record.model_dump()))


class MemoryStore:
    """The data layer (``lightchat.store.layer.DataLayer``) in a few dictionaries."""

    def __init__(self) -> None:
        self._users: dict[str, UserRecord] = {}  # by identifier
        self._threads: dict[str, ThreadRecord] = {}
        self._steps: dict[str, StepRecord] = {}
        self._elements: dict[str, ElementRecord] = {}
        self._feedback: dict[str, FeedbackRecord] = {}  # by the step it is about
        self._mcp_servers: dict[tuple[str, str], McpServerRecord] = {}  # by owner and name

    def _owned(self, thread_id: str, owner: str | None) -> ThreadRecord | None:
        thread = self._threads.get(thread_id)
        if thread is None or (owner is not None and thread.owner != owner):
            return None
        return thread

    def _owned_or_raise(self, thread_id: str, owner: str | None) -> ThreadRecord:
        thread = self._owned(thread_id, owner)
        if thread is None:
            raise NotFoundError(f"No thread {thread_id!r}.")
        return thread

    def _steps_of(self, thread_id: str) -> list[StepRecord]:
        found = [step for step in self._steps.values() if step.thread_id == thread_id]
        return sorted(found, key=lambda step: (step.created_at, step.id))

    def _drop_elements(self, doomed: Iterable[ElementRecord]) -> list[str]:
        keys = []
        for element in list(doomed):
            del self._elements[element.id]
            if element.storage_key:
                keys.append(element.storage_key)
        return keys

    # -- users ------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> UserRecord | None:
        """The user with this identifier, or None."""
        user = self._users.get(identifier)
        return None if user is None else _copy(user)

    async def create_user(
        self,
        identifier: str,
        *,
        display_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> UserRecord:
        """Create the user, or update the display name/metadata given of an existing one."""
        user = self._users.get(identifier)
        if user is None:
            user = UserRecord(identifier=identifier, display_name=display_name)
            user.meta = copy.deepcopy(metadata or {})
            self._users[identifier] = user
        else:
            if display_name is not None:
                user.display_name = display_name
            if metadata is not None:
                user.meta = copy.deepcopy(metadata)
        return _copy(user)

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
        """Create a thread for ``owner`` (see ``SQLStore.create_thread``)."""
        if user_id is not None and all(user.id != user_id for user in self._users.values()):
            raise NotFoundError(f"No user with id {user_id!r}.")
        thread = ThreadRecord(owner=owner, user_id=user_id, name=name, tags=list(tags or []))
        thread.meta = copy.deepcopy(metadata or {})
        if thread_id is not None:
            thread.id = thread_id
        thread.updated_at = thread.created_at
        if thread.id in self._threads:
            raise ConflictError(f"A thread with id {thread.id!r} exists already.")
        self._threads[thread.id] = thread
        return _copy(thread)

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
        thread = self._owned_or_raise(thread_id, owner)
        if name is not None:
            thread.name = name
        if tags is not None:
            thread.tags = list(tags)
        if metadata is not None:
            thread.meta = copy.deepcopy(metadata)
        return _copy(thread)

    async def share_thread(
        self, thread_id: str, *, owner: str | None, shared: bool
    ) -> ThreadRecord:
        """Share the thread, or stop sharing it (see ``ThreadSharing``)."""
        thread = self._owned_or_raise(thread_id, owner)
        if not shared:
            thread.shared_at = None
        elif thread.shared_at is None:
            thread.shared_at = utcnow()
        return _copy(thread)

    async def get_thread(self, thread_id: str, *, owner: str | None) -> ThreadRecord | None:
        """The thread, or None (missing, or someone else's)."""
        thread = self._owned(thread_id, owner)
        return None if thread is None else _copy(thread)

    async def load_thread(self, thread_id: str, *, owner: str | None) -> StoredThread | None:
        """The thread with its steps, elements and feedback, or None."""
        thread = self._owned(thread_id, owner)
        if thread is None:
            return None
        elements = [item for item in self._elements.values() if item.thread_id == thread_id]
        elements.sort(key=lambda item: (item.created_at, item.id))
        return StoredThread(
            thread=_copy(thread),
            steps=[_copy(step) for step in self._steps_of(thread_id)],
            elements=[_copy(element) for element in elements],
            feedback={
                for_id: _copy(item)
                for for_id, item in self._feedback.items()
                if item.thread_id == thread_id
            },
        )

    async def delete_thread(self, thread_id: str, *, owner: str | None) -> list[str]:
        """Delete a thread with its steps, elements and feedback; returns the file keys."""
        self._owned_or_raise(thread_id, owner)
        keys = self._drop_elements(e for e in self._elements.values() if e.thread_id == thread_id)
        for step in self._steps_of(thread_id):
            del self._steps[step.id]
            self._feedback.pop(step.id, None)
        del self._threads[thread_id]
        return keys

    async def list_threads(
        self,
        owner: str,
        pagination: Pagination | None = None,
        filters: ThreadFilter | None = None,
    ) -> ThreadPage:
        """A page of the owner's threads, most recently updated first."""
        pagination = pagination or Pagination()
        filters = filters or ThreadFilter()
        size = max(1, min(pagination.first, MAX_PAGE_SIZE))
        found = [thread for thread in self._threads.values() if thread.owner == owner]
        if pagination.cursor:
            after = read_cursor(pagination.cursor)
            found = [thread for thread in found if (thread.updated_at, thread.id) < after]
        search = (filters.search or "").strip().casefold()
        if search:
            found = [thread for thread in found if self._mentions(thread, search)]
        if filters.feedback is not None:
            rated = {
                item.thread_id for item in self._feedback.values() if item.value == filters.feedback
            }
            found = [thread for thread in found if thread.id in rated]
        found.sort(key=lambda thread: (thread.updated_at, thread.id), reverse=True)
        page = found[:size]
        return ThreadPage(
            threads=[_copy(thread) for thread in page],
            has_next=len(found) > size,
            end_cursor=page_cursor(page[-1]) if page else None,
        )

    def _mentions(self, thread: ThreadRecord, text: str) -> bool:
        if text in (thread.name or "").casefold():
            return True
        return any(text in step.output.casefold() for step in self._steps_of(thread.id))

    async def get_thread_owner(self, thread_id: str) -> str | None:
        """The owner key of a thread, or None if there is no such thread."""
        thread = self._threads.get(thread_id)
        return None if thread is None else thread.owner

    async def get_thread_author(self, thread_id: str) -> str | None:
        """The identifier of the user who owns a thread (None if none or browser-owned)."""
        thread = self._threads.get(thread_id)
        if thread is None or thread.user_id is None:
            return None
        return next((u.identifier for u in self._users.values() if u.id == thread.user_id), None)

    # -- steps ------------------------------------------------------------------------

    async def upsert_step(self, step: StepRecord, *, owner: str | None) -> None:
        """Insert a step or replace its state (``created_at`` stays the first one's)."""
        thread = self._owned_or_raise(step.thread_id, owner)
        stored = self._steps.get(step.id)
        if stored is not None and stored.thread_id != step.thread_id:
            raise ConflictError(f"Step {step.id!r} belongs to another thread.")
        new = _copy(step)
        if stored is not None:
            new.created_at = stored.created_at
            new.favorite_at = stored.favorite_at  # only set_favorite changes it
        self._steps[step.id] = new
        thread.updated_at = utcnow()
        if step.type == "user_message" and thread.name is None:
            thread.name = thread_name(step.output)

    async def delete_step(self, step_id: str, *, owner: str | None) -> list[str]:
        """Delete a step, its nested steps, their feedback and elements; the file keys."""
        step = self._steps.get(step_id)
        if step is None or self._owned(step.thread_id, owner) is None:
            return []
        family = self._steps_of(step.thread_id)
        doomed, frontier = {step_id}, [step_id]
        while frontier:
            parent = frontier.pop()
            for child in family:
                if child.parent_id == parent and child.id not in doomed:
                    doomed.add(child.id)
                    frontier.append(child.id)
        keys = self._drop_elements(
            e
            for e in self._elements.values()
            if e.thread_id == step.thread_id and e.for_id in doomed
        )
        for doomed_id in doomed:
            del self._steps[doomed_id]
            self._feedback.pop(doomed_id, None)
        return keys

    async def get_thread_steps(self, thread_id: str, *, owner: str | None) -> list[StepRecord]:
        """The thread's steps (messages included) in creation order."""
        self._owned_or_raise(thread_id, owner)
        return [_copy(step) for step in self._steps_of(thread_id)]

    async def get_step(self, step_id: str, *, owner: str | None) -> StepRecord | None:
        """The step (or message), or None (missing, or in someone else's thread)."""
        step = self._steps.get(step_id)
        if step is None or self._owned(step.thread_id, owner) is None:
            return None
        return _copy(step)

    # -- MCP servers users remember ---------------------------------------------------

    async def list_mcp_servers(self, owner: str) -> list[McpServerRecord]:
        """The owner's MCP servers, oldest first."""
        found = [server for key, server in self._mcp_servers.items() if key[0] == owner]
        found.sort(key=lambda server: (server.created_at, server.id))
        return [_copy(server) for server in found]

    async def save_mcp_server(self, server: McpServerRecord) -> McpServerRecord:
        """Keep a server, replacing the owner's of the same name (its id and time stay)."""
        key = (server.owner, server.name)
        kept = self._mcp_servers.get(key)
        saved = _copy(server)
        if kept is not None:
            saved.id, saved.created_at = kept.id, kept.created_at
        self._mcp_servers[key] = saved
        return _copy(saved)

    async def delete_mcp_server(self, owner: str, name: str) -> bool:
        """Forget the owner's server of that name; False when there was none."""
        return self._mcp_servers.pop((owner, name), None) is not None

    # -- favourites -------------------------------------------------------------------

    async def set_favorite(self, step_id: str, *, owner: str | None, favorite: bool) -> StepRecord:
        """Mark a step as a favourite (keeping the first time), or unmark it."""
        step = self._steps.get(step_id)
        if step is None or self._owned(step.thread_id, owner) is None:
            raise NotFoundError(f"No step {step_id!r}.")
        step.favorite_at = (step.favorite_at or utcnow()) if favorite else None
        return _copy(step)

    async def list_favorites(
        self, owner: str, *, thread_id: str | None = None, limit: int = MAX_FAVORITES
    ) -> list[StepRecord]:
        """The owner's favourite steps (of one thread, with ``thread_id``), newest first."""
        found = [
            step
            for step in self._steps.values()
            if step.favorite_at is not None
            and self._owned(step.thread_id, owner) is not None
            and thread_id in (None, step.thread_id)
        ]
        found.sort(key=lambda step: (step.created_at, step.id), reverse=True)
        return [_copy(step) for step in found[: max(1, min(limit, MAX_FAVORITES))]]

    # -- elements ---------------------------------------------------------------------

    async def create_element(self, element: ElementRecord, *, owner: str | None) -> None:
        """Store an element of an existing thread."""
        self._owned_or_raise(element.thread_id, owner)
        if element.id in self._elements:
            raise ConflictError(f"An element with id {element.id!r} exists already.")
        self._elements[element.id] = _copy(element)

    async def get_element(
        self, element_id: str, *, owner: str | None, thread_id: str | None = None
    ) -> ElementRecord | None:
        """The element (of that thread, when ``thread_id`` is given), or None."""
        element = self._elements.get(element_id)
        if element is None or self._owned(element.thread_id, owner) is None:
            return None
        if thread_id is not None and element.thread_id != thread_id:
            return None
        return _copy(element)

    async def delete_element(self, element_id: str, *, owner: str | None) -> ElementRecord | None:
        """Delete an element; returns it (its ``storage_key`` names the file), or None."""
        element = self._elements.get(element_id)
        if element is None or self._owned(element.thread_id, owner) is None:
            return None
        del self._elements[element_id]
        return element

    # -- feedback ---------------------------------------------------------------------

    async def upsert_feedback(
        self, for_id: str, value: int, *, owner: str | None, comment: str | None = None
    ) -> FeedbackRecord:
        """Set the feedback on a step (1 helpful, 0 not helpful), replacing any earlier one."""
        if value not in (0, 1):
            raise ValueError(
                f"feedback value must be 1 (helpful) or 0 (not helpful), not {value!r}"
            )
        step = self._steps.get(for_id)
        if step is None or self._owned(step.thread_id, owner) is None:
            raise NotFoundError(f"No step {for_id!r}.")
        feedback = self._feedback.get(for_id)
        if feedback is None:
            feedback = FeedbackRecord(for_id=for_id, thread_id=step.thread_id, value=value)
            self._feedback[for_id] = feedback
        feedback.value, feedback.comment = value, comment
        return _copy(feedback)

    async def list_feedback(
        self, thread_id: str, *, owner: str | None
    ) -> dict[str, FeedbackRecord]:
        """The feedback given in a thread, by step id (empty for a thread that is not ours)."""
        if self._owned(thread_id, owner) is None:
            return {}
        return {
            for_id: _copy(item)
            for for_id, item in self._feedback.items()
            if item.thread_id == thread_id
        }

    async def delete_feedback(self, feedback_id: str, *, owner: str | None) -> bool:
        """Delete a feedback; False when there was none (or it is someone else's)."""
        for for_id, item in self._feedback.items():
            if item.id == feedback_id and self._owned(item.thread_id, owner) is not None:
                del self._feedback[for_id]
                return True
        return False

    async def close(self) -> None:
        """Nothing to release: the data is kept until the process ends."""


if TYPE_CHECKING:  # mypy checks here that MemoryStore implements the whole interface
    _implements: type[DataLayer] = MemoryStore
    _sharing: type[ThreadSharing] = MemoryStore
    _favorites: type[FavoriteSteps] = MemoryStore
    _mcp_servers: type[McpServerKeeper] = MemoryStore
