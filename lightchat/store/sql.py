"""``SQLStore``: the data layer on SQLite or PostgreSQL, through SQLModel.

Transactions: every public method is one transaction on its own, short-lived session, and
returns detached records (``expire_on_commit=False``): nothing is lazy-loaded afterwards and
no session outlives a call. Writes go through ``engine.writer`` (on SQLite they begin with
``BEGIN IMMEDIATE`` and so queue instead of failing with "database is locked"). Reads that
take several queries (``load_thread``) run in one transaction that sees one snapshot: a
deferred transaction on SQLite, ``REPEATABLE READ, READ ONLY`` on PostgreSQL.

Concurrency decisions:

- Steps and feedback are written with the databases' upserts (``INSERT ... ON CONFLICT``),
  so two writers of the same step never race between a SELECT and an INSERT. A step id
  already used in another thread is refused, not moved.
- ``upsert_step`` first updates its thread row (``updated_at``, and the name on the first
  user message, with ``COALESCE`` so a name is only ever set once). That statement is also
  the ownership check, and on PostgreSQL it locks the thread row, which orders the writes
  of one thread against each other and against a concurrent delete.
- ``delete_thread`` locks the thread row (``FOR UPDATE``) before collecting the element
  files it deletes, so an element added concurrently either waits and then fails (its
  thread is gone) or is deleted and its storage key returned: no file is orphaned.
- On SQLite, the writers of one process take turns on an ``asyncio.Lock`` before they
  begin; other processes still queue on SQLite's lock (busy timeout).
- ``list_threads`` pages by keyset (``(updated_at, id) < cursor``), not ``OFFSET``, on the
  ``(owner, updated_at, id)`` index: every page costs the same.

Search is a case-insensitive ``LIKE '%text%'`` over the thread's name and its steps'
outputs, limited to one owner's threads; there is no full-text index.

Ownership checks and error conventions are described in ``lightchat.store.layer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, delete, exists, func, literal, true, tuple_, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lightchat.store.engine import make_engine, writer
from lightchat.store.errors import ConflictError, InvalidCursorError, NotFoundError
from lightchat.store.layer import (
    DataLayer,
    Pagination,
    StoredThread,
    ThreadFilter,
    ThreadPage,
    thread_name,
)
from lightchat.store.migrate import upgrade
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    StepRecord,
    ThreadRecord,
    UserRecord,
    UTCDateTime,
    utcnow,
)

__all__ = ["MAX_PAGE_SIZE", "SQLStore"]

#: The largest page ``list_threads`` returns, whatever ``Pagination.first`` asks.
MAX_PAGE_SIZE = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEP_KEEPS = frozenset({"id", "thread_id", "created_at"})


def _table(record_class: type[SQLModel]) -> Table:
    return cast(Table, record_class.__table__)  # type: ignore[attr-defined]


def _values(record: SQLModel) -> dict[str, Any]:
    """The record as ``{column key: value}``, for Core statements (``meta`` -> ``metadata``)."""
    mapper = sa_inspect(type(record))
    return {attr.columns[0].key: getattr(record, attr.key) for attr in mapper.column_attrs}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _encode_cursor(thread: ThreadRecord) -> str:
    micros = (thread.updated_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{thread.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    micros, _, thread_id = cursor.partition(".")
    if not micros.isdigit() or not thread_id:
        raise InvalidCursorError(
            f"Unknown page cursor {cursor!r}: pass the end_cursor of the previous page."
        )
    return _EPOCH + timedelta(microseconds=int(micros)), thread_id


@dataclass(frozen=True, slots=True)
class _Owned:
    """A WHERE clause piece: the thread column is owned by ``owner`` (if one is given)."""

    owner: str | None

    def thread(self, thread_id: str) -> ColumnElement[bool]:
        clause = col(ThreadRecord.id) == thread_id
        if self.owner is not None:
            clause = and_(clause, col(ThreadRecord.owner) == self.owner)
        return clause

    def threads_of(self, thread_column: Any) -> ColumnElement[bool]:
        if self.owner is None:
            return true()
        owned = select(ThreadRecord.id).where(col(ThreadRecord.owner) == self.owner)
        return cast(ColumnElement[bool], thread_column.in_(owned))


class SQLStore:
    """The data layer (``lightchat.store.layer.DataLayer``) on a SQL database.

    Open one per app with :meth:`open` (which also applies pending migrations) and share it
    between all chat sessions; close it on shutdown::

        store = await SQLStore.open("sqlite:///.lightchat/chat.db")
        thread = await store.create_thread(owner="browser:3f2a")
        ...
        await store.close()
    """

    def __init__(self, engine: AsyncEngine) -> None:
        """Use an engine made by ``make_engine`` whose schema is up to date."""
        self.engine = engine
        if engine.dialect.name == "postgresql":
            self._reader = engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            self._reader = engine
        self._writer = writer(engine)
        # SQLite has one writer at a time: queue this process's writers here rather than in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms.
        self._write_turn: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        # The two dialects' INSERTs have the same ON CONFLICT API.
        self._insert: Callable[[Table], Any] = (
            pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        )

    @classmethod
    async def open(
        cls, url: str, *, schema: str | None = None, migrate: bool = True, **options: Any
    ) -> SQLStore:
        """Connect to ``url`` (see ``make_engine``) and apply pending migrations.

        ``migrate=False`` skips the migrations, for processes that must not change the
        schema (another process is expected to have upgraded it).
        """
        engine = make_engine(url, schema=schema, **options)
        if migrate:
            try:
                await upgrade(engine)
            except BaseException:
                await engine.dispose()
                raise
        return cls(engine)

    async def close(self) -> None:
        """Close the engine's connections."""
        await self.engine.dispose()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with (
            AsyncSession(self._reader, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with (
            self._write_turn,
            AsyncSession(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    # -- users ------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> UserRecord | None:
        """The user with this identifier, or None."""
        async with self._read() as session:
            query = select(UserRecord).where(col(UserRecord.identifier) == identifier)
            return (await session.exec(query)).first()

    async def create_user(
        self,
        identifier: str,
        *,
        display_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> UserRecord:
        """Create the user, or update the display name/metadata given of an existing one."""
        table = _table(UserRecord)
        new = UserRecord(identifier=identifier, display_name=display_name, meta=metadata or {})
        changes: dict[str, Any] = {}
        if display_name is not None:
            changes["display_name"] = display_name
        if metadata is not None:
            changes["metadata"] = metadata
        statement = self._insert(table).values(_values(new))
        if changes:
            statement = statement.on_conflict_do_update(index_elements=["identifier"], set_=changes)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["identifier"])
        async with self._write() as session:
            await session.exec(statement)
            query = select(UserRecord).where(col(UserRecord.identifier) == identifier)
            return (await session.exec(query)).one()

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
        """Create a thread for ``owner``.

        Raises ``ConflictError`` if ``thread_id`` is taken, ``NotFoundError`` for an unknown
        ``user_id``.
        """
        thread = ThreadRecord(owner=owner, user_id=user_id, name=name, tags=tags or [])
        thread.meta = metadata or {}
        if thread_id is not None:
            thread.id = thread_id
        thread.updated_at = thread.created_at
        statement = (
            self._insert(_table(ThreadRecord))
            .values(_values(thread))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        try:
            async with self._write() as session:
                inserted = (await session.exec(statement)).rowcount
        except IntegrityError as exc:
            raise NotFoundError(f"No user with id {user_id!r}.") from exc
        if not inserted:
            raise ConflictError(f"A thread with id {thread.id!r} exists already.")
        return thread

    async def update_thread(
        self,
        thread_id: str,
        *,
        owner: str | None,
        name: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ThreadRecord:
        """Rename, retag or replace the metadata of a thread (None leaves a field as is).

        Does not count as activity: the thread keeps its place in the history.
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if tags is not None:
            changes["tags"] = list(tags)
        if metadata is not None:
            changes["meta"] = metadata
        where = _Owned(owner).thread(thread_id)
        async with self._write() as session:
            if changes:
                statement = (
                    update(ThreadRecord).where(where).values(changes).returning(ThreadRecord)
                )
                found = cast(ThreadRecord | None, (await session.exec(statement)).scalars().first())
            else:
                found = (await session.exec(select(ThreadRecord).where(where))).first()
        if found is None:
            raise NotFoundError(f"No thread {thread_id!r}.")
        return found

    async def get_thread(self, thread_id: str, *, owner: str | None) -> ThreadRecord | None:
        """The thread, or None (missing, or someone else's)."""
        async with self._read() as session:
            query = select(ThreadRecord).where(_Owned(owner).thread(thread_id))
            return (await session.exec(query)).first()

    async def load_thread(self, thread_id: str, *, owner: str | None) -> StoredThread | None:
        """The thread with its steps, elements and feedback (one snapshot), or None."""
        async with self._read() as session:
            query = select(ThreadRecord).where(_Owned(owner).thread(thread_id))
            thread = (await session.exec(query)).first()
            if thread is None:
                return None
            steps = await session.exec(
                select(StepRecord)
                .where(col(StepRecord.thread_id) == thread_id)
                .order_by(col(StepRecord.created_at), col(StepRecord.id))
            )
            elements = await session.exec(
                select(ElementRecord)
                .where(col(ElementRecord.thread_id) == thread_id)
                .order_by(col(ElementRecord.created_at), col(ElementRecord.id))
            )
            feedback = await session.exec(
                select(FeedbackRecord).where(col(FeedbackRecord.thread_id) == thread_id)
            )
            return StoredThread(
                thread=thread,
                steps=list(steps),
                elements=list(elements),
                feedback={item.for_id: item for item in feedback},
            )

    async def delete_thread(self, thread_id: str, *, owner: str | None) -> list[str]:
        """Delete a thread with its steps, elements and feedback.

        Returns the storage keys of the deleted elements' files: remove them from the file
        storage after this returns (a file deleted first would be lost if this failed)::

            for key in await store.delete_thread(thread_id, owner=owner):
                await files.delete(key)

        Raises ``NotFoundError`` for a missing thread or someone else's.
        """
        async with self._write() as session:
            locked = select(ThreadRecord.id).where(_Owned(owner).thread(thread_id))
            if (await session.exec(locked.with_for_update())).first() is None:
                raise NotFoundError(f"No thread {thread_id!r}.")
            keys = await self._delete_elements(session, col(ElementRecord.thread_id) == thread_id)
            # Steps and feedback go by ON DELETE CASCADE.
            await session.exec(delete(ThreadRecord).where(col(ThreadRecord.id) == thread_id))
        return keys

    async def list_threads(
        self,
        owner: str,
        pagination: Pagination | None = None,
        filters: ThreadFilter | None = None,
    ) -> ThreadPage:
        """A page of the owner's threads, most recently updated first.

        ``filters.search`` is a case-insensitive substring match on names and step outputs
        (see the module docstring). Raises ``InvalidCursorError`` for a cursor this store did
        not hand out.
        """
        pagination = pagination or Pagination()
        filters = filters or ThreadFilter()
        size = max(1, min(pagination.first, MAX_PAGE_SIZE))
        query = select(ThreadRecord).where(col(ThreadRecord.owner) == owner)
        if pagination.cursor:
            updated_at, last_id = _decode_cursor(pagination.cursor)
            query = query.where(
                tuple_(col(ThreadRecord.updated_at), col(ThreadRecord.id))
                < tuple_(literal(updated_at, UTCDateTime()), literal(last_id))
            )
        if filters.search and filters.search.strip():
            pattern = _like(filters.search.strip())
            # OFFSET 0 keeps this a per-thread lookup on the steps index. Without it,
            # PostgreSQL turns the EXISTS (under OR) into one hashed scan of every owner's
            # steps: 1.5 s instead of 0.35 s with 1,000,000 steps (benchmarks/store_bench.py).
            in_steps = (
                select(StepRecord.id)
                .where(
                    col(StepRecord.thread_id) == col(ThreadRecord.id),
                    col(StepRecord.output).ilike(pattern, escape="\\"),
                )
                .offset(0)
                .exists()
            )
            query = query.where(col(ThreadRecord.name).ilike(pattern, escape="\\") | in_steps)
        if filters.feedback is not None:
            query = query.where(
                exists().where(
                    col(FeedbackRecord.thread_id) == col(ThreadRecord.id),
                    col(FeedbackRecord.value) == filters.feedback,
                )
            )
        query = query.order_by(
            col(ThreadRecord.updated_at).desc(), col(ThreadRecord.id).desc()
        ).limit(size + 1)
        async with self._read() as session:
            threads = list(await session.exec(query))
        has_next = len(threads) > size
        threads = threads[:size]
        end_cursor = _encode_cursor(threads[-1]) if threads else None
        return ThreadPage(threads=threads, has_next=has_next, end_cursor=end_cursor)

    async def get_thread_owner(self, thread_id: str) -> str | None:
        """The owner key of a thread, or None if there is no such thread."""
        async with self._read() as session:
            query = select(ThreadRecord.owner).where(col(ThreadRecord.id) == thread_id)
            return (await session.exec(query)).first()

    async def get_thread_author(self, thread_id: str) -> str | None:
        """The identifier of the user who owns a thread (None if none or browser-owned)."""
        async with self._read() as session:
            query = (
                select(UserRecord.identifier)
                .join(ThreadRecord, col(ThreadRecord.user_id) == col(UserRecord.id))
                .where(col(ThreadRecord.id) == thread_id)
            )
            return (await session.exec(query)).first()

    # -- steps ------------------------------------------------------------------------

    async def upsert_step(self, step: StepRecord, *, owner: str | None) -> None:
        """Insert a step or replace its state (``created_at`` stays the first one's).

        The thread counts as updated, and a user message names a thread that has no name
        yet (``layer.thread_name``). Raises ``NotFoundError`` when the thread is missing or
        someone else's, ``ConflictError`` when the step id is used in another thread.
        """
        touch: dict[str, Any] = {"updated_at": utcnow()}
        if step.type == "user_message":
            name = thread_name(step.output)
            if name is not None:
                touch["name"] = func.coalesce(col(ThreadRecord.name), name)
        table = _table(StepRecord)
        values = _values(step)
        insert = self._insert(table).values(values)
        statement = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={key: insert.excluded[key] for key in values if key not in _STEP_KEEPS},
            where=table.c.thread_id == insert.excluded.thread_id,
        )
        async with self._write() as session:
            touched = await session.exec(
                update(ThreadRecord).where(_Owned(owner).thread(step.thread_id)).values(touch)
            )
            if not touched.rowcount:
                raise NotFoundError(f"No thread {step.thread_id!r}.")
            if not (await session.exec(statement)).rowcount:
                raise ConflictError(f"Step {step.id!r} belongs to another thread.")

    async def delete_step(self, step_id: str, *, owner: str | None) -> list[str]:
        """Delete a step, its nested steps, their feedback and elements.

        Returns the storage keys of the deleted elements' files; nothing happens (and the
        list is empty) when the step is missing or in someone else's thread.
        """
        async with self._write() as session:
            query = select(StepRecord.thread_id).where(
                col(StepRecord.id) == step_id, _Owned(owner).threads_of(col(StepRecord.thread_id))
            )
            thread_id = (await session.exec(query)).first()
            if thread_id is None:
                return []
            family = await session.exec(
                select(StepRecord.id, StepRecord.parent_id).where(
                    col(StepRecord.thread_id) == thread_id
                )
            )
            doomed = _subtree(step_id, family)
            keys = await self._delete_elements(
                session,
                and_(
                    col(ElementRecord.thread_id) == thread_id,
                    col(ElementRecord.for_id).in_(doomed),
                ),
            )
            # Their feedback goes by ON DELETE CASCADE.
            await session.exec(delete(StepRecord).where(col(StepRecord.id).in_(doomed)))
        return keys

    async def get_thread_steps(self, thread_id: str, *, owner: str | None) -> list[StepRecord]:
        """The thread's steps (messages included) in creation order.

        Raises ``NotFoundError`` when the thread is missing or someone else's.
        """
        query = (
            select(StepRecord)
            .where(
                col(StepRecord.thread_id) == thread_id,
                _Owned(owner).threads_of(col(StepRecord.thread_id)),
            )
            .order_by(col(StepRecord.created_at), col(StepRecord.id))
        )
        async with self._read() as session:
            steps = list(await session.exec(query))
            if not steps:
                found = select(ThreadRecord.id).where(_Owned(owner).thread(thread_id))
                if (await session.exec(found)).first() is None:
                    raise NotFoundError(f"No thread {thread_id!r}.")
        return steps

    async def get_step(self, step_id: str, *, owner: str | None) -> StepRecord | None:
        """The step (or message), or None (missing, or in someone else's thread)."""
        query = select(StepRecord).where(
            col(StepRecord.id) == step_id, _Owned(owner).threads_of(col(StepRecord.thread_id))
        )
        async with self._read() as session:
            return (await session.exec(query)).first()

    # -- elements ---------------------------------------------------------------------

    async def create_element(self, element: ElementRecord, *, owner: str | None) -> None:
        """Store an element of an existing thread.

        Raises ``NotFoundError`` when the thread is missing or someone else's,
        ``ConflictError`` when the element id is taken.
        """
        statement = (
            self._insert(_table(ElementRecord))
            .values(_values(element))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        try:
            async with self._write() as session:
                owned = select(ThreadRecord.id).where(_Owned(owner).thread(element.thread_id))
                if (await session.exec(owned)).first() is None:
                    raise NotFoundError(f"No thread {element.thread_id!r}.")
                inserted = (await session.exec(statement)).rowcount
        except IntegrityError as exc:  # the thread was deleted meanwhile
            raise NotFoundError(f"No thread {element.thread_id!r}.") from exc
        if not inserted:
            raise ConflictError(f"An element with id {element.id!r} exists already.")

    async def get_element(
        self, element_id: str, *, owner: str | None, thread_id: str | None = None
    ) -> ElementRecord | None:
        """The element (of that thread, when ``thread_id`` is given), or None."""
        query = select(ElementRecord).where(
            col(ElementRecord.id) == element_id,
            _Owned(owner).threads_of(col(ElementRecord.thread_id)),
        )
        if thread_id is not None:
            query = query.where(col(ElementRecord.thread_id) == thread_id)
        async with self._read() as session:
            return (await session.exec(query)).first()

    async def delete_element(self, element_id: str, *, owner: str | None) -> ElementRecord | None:
        """Delete an element; returns it (its ``storage_key`` names the file), or None."""
        async with self._write() as session:
            query = select(ElementRecord).where(
                col(ElementRecord.id) == element_id,
                _Owned(owner).threads_of(col(ElementRecord.thread_id)),
            )
            element = (await session.exec(query)).first()
            if element is not None:
                await session.exec(delete(ElementRecord).where(col(ElementRecord.id) == element_id))
        return element

    async def _delete_elements(self, session: AsyncSession, where: Any) -> list[str]:
        deleted = await session.exec(
            delete(ElementRecord).where(where).returning(col(ElementRecord.storage_key))
        )
        return [key for key in deleted.scalars() if key]

    # -- feedback ---------------------------------------------------------------------

    async def upsert_feedback(
        self, for_id: str, value: int, *, owner: str | None, comment: str | None = None
    ) -> FeedbackRecord:
        """Set the feedback on a step (1 helpful, 0 not helpful), replacing any earlier one.

        Raises ``NotFoundError`` when the step is missing or in someone else's thread.
        """
        if value not in (0, 1):
            raise ValueError(
                f"feedback value must be 1 (helpful) or 0 (not helpful), not {value!r}"
            )
        table = _table(FeedbackRecord)
        async with self._write() as session:
            query = select(StepRecord.thread_id).where(
                col(StepRecord.id) == for_id, _Owned(owner).threads_of(col(StepRecord.thread_id))
            )
            thread_id = (await session.exec(query)).first()
            if thread_id is None:
                raise NotFoundError(f"No step {for_id!r}.")
            new = FeedbackRecord(for_id=for_id, thread_id=thread_id, value=value, comment=comment)
            await session.exec(
                self._insert(table)
                .values(_values(new))
                .on_conflict_do_update(
                    index_elements=["for_id"], set_={"value": value, "comment": comment}
                )
            )
            found = select(FeedbackRecord).where(col(FeedbackRecord.for_id) == for_id)
            return (await session.exec(found)).one()

    async def list_feedback(
        self, thread_id: str, *, owner: str | None
    ) -> dict[str, FeedbackRecord]:
        """The feedback given in a thread, by step id (empty for a thread that is not ours)."""
        query = select(FeedbackRecord).where(
            col(FeedbackRecord.thread_id) == thread_id,
            _Owned(owner).threads_of(col(FeedbackRecord.thread_id)),
        )
        async with self._read() as session:
            return {item.for_id: item for item in await session.exec(query)}

    async def delete_feedback(self, feedback_id: str, *, owner: str | None) -> bool:
        """Delete a feedback; False when there was none (or it is someone else's)."""
        statement = delete(FeedbackRecord).where(
            col(FeedbackRecord.id) == feedback_id,
            _Owned(owner).threads_of(col(FeedbackRecord.thread_id)),
        )
        async with self._write() as session:
            return (await session.exec(statement)).rowcount > 0


def _subtree(root: str, pairs: Iterable[tuple[str, str | None]]) -> list[str]:
    """``root`` and the ids of the steps nested in it, at any depth."""
    children: dict[str, list[str]] = {}
    for step_id, parent_id in pairs:
        if parent_id is not None:
            children.setdefault(parent_id, []).append(step_id)
    found, frontier = {root}, [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return sorted(found)


if TYPE_CHECKING:  # mypy checks here that SQLStore implements the whole interface
    _implements: type[DataLayer] = SQLStore
