"""``SQLStore``: the data layer on SQLite or PostgreSQL, through SQLModel.

Transactions: every public method is one transaction on a connection of its own, and
returns records built from the rows it read: nothing is lazy-loaded afterwards and no
connection outlives a call. Queries are written with SQLModel's ``select`` and run on plain
SQLAlchemy connections, without ORM sessions (on SQLite a session costs more than the
query, and the history runs many). Writes go through ``engine.writer`` (on SQLite they
begin with ``BEGIN IMMEDIATE`` and so queue instead of failing with "database is locked").
Reads that take several queries (``load_thread``) run in one transaction that sees one
snapshot: a deferred transaction on SQLite, ``REPEATABLE READ, READ ONLY`` on PostgreSQL.

Concurrency decisions:

- Steps and feedback are written with the databases' upserts (``INSERT ... ON CONFLICT``),
  so two writers of the same step never race between a SELECT and an INSERT. A step id
  already used in another thread is refused, not moved.
- ``upsert_step`` first updates its thread row (``updated_at``, and the name on the first
  user message, with ``COALESCE`` so a name is only ever set once). That statement is also
  the ownership check, and on PostgreSQL it locks the thread row, which orders the writes
  of one thread against each other and against a concurrent delete. ``upsert_steps`` does
  the same for many steps of many threads in one transaction: it creates the threads that
  are missing (``INSERT ... ON CONFLICT DO NOTHING``), locks them all in id order
  (``SELECT ... FOR UPDATE``, the ownership check), updates them in one ``executemany``
  and upserts every step in one multi-row ``INSERT ... RETURNING``.
- ``update_outputs`` (the history's checkpoints of messages still streaming) sets one
  column of rows written before, the owner checked in the same statement; a row deleted
  meanwhile is simply not updated, and a later upsert of the step wins, as it comes after.
- ``delete_thread`` locks the thread row (``FOR UPDATE``) before collecting the element
  files it deletes, so an element added concurrently either waits and then fails (its
  thread is gone) or is deleted and its storage key returned: no file is orphaned.
- On SQLite, the writers of one process take turns on an ``asyncio.Lock`` before they
  begin; other processes still queue on SQLite's lock (busy timeout).
- ``list_threads`` pages by keyset (``(updated_at, id) < cursor``), not ``OFFSET``, on the
  ``(owner, updated_at, id)`` index: every page costs the same.
- ``recent_threads`` (every chat page's sidebar) reads a SQLite file on a driver
  connection of its own, in autocommit: its one ``SELECT`` is one snapshot and one hop to
  the driver's thread, where a pooled connection takes five (cursor, execute, fetch, close,
  the pool's rollback) and SQLAlchemy's result machinery on top (0.11 ms of CPU instead of
  0.85 for an owner with no chats, 0.16 instead of 2.2 for fifty). A database in memory,
  or a URL with options, is read through the pool.

Cost: the history writes every message and step here, so the step writes are built for
it: their statements are built once per store and reused (SQLAlchemy then finds the
compiled SQL in its cache at once), and a batch costs the same few round trips whatever
its size. On a SQLite file the history's batches (``upsert_steps``, ``update_outputs``,
``update_threads``) skip the pool: the same statements, compiled once, run whole in a
worker thread on a sqlite3 connection of their own (``_DirectWriter``), one hop instead
of six, with the values converted as SQLAlchemy converts them (48 steps: about 1.7 ms
of CPU instead of 4.5). Conflicts are told by the rows changed (a step of another thread
is left alone by the upsert's ``WHERE``), then named by one ``SELECT``.

Search is a case-insensitive ``LIKE '%text%'`` over the thread's name and its steps'
outputs, limited to one owner's threads; there is no full-text index.

Ownership checks and error conventions are described in ``lightchat.store.layer``.

One concept, kept whole: every query of the data layer on one engine, with the statements
built once and shared; the tables are ``records``, the conversions ``convert``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    true,
    tuple_,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select

from lightchat.domain.events import MAX_FAVORITES
from lightchat.store.engine import make_engine, one_read, writer
from lightchat.store.errors import ConflictError, NotFoundError
from lightchat.store.layer import (
    MAX_PAGE_SIZE,
    BatchWriter,
    DataLayer,
    FavoriteSteps,
    McpServerKeeper,
    OutputWriter,
    Pagination,
    StoredThread,
    ThreadFields,
    ThreadFilter,
    ThreadLister,
    ThreadListing,
    ThreadPage,
    ThreadSharing,
    ThreadsWriter,
    page_cursor,
    read_cursor,
    thread_name,
)
from lightchat.store.migrate import upgrade
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    McpServerRecord,
    StepRecord,
    ThreadRecord,
    UserRecord,
    UTCDateTime,
    built,
    utcnow,
)

__all__ = ["MAX_PAGE_SIZE", "SQLStore"]


# What a step's later writes leave as it is: its identity, its first time, and the mark
# its thread's owner gave it (only set_favorite changes that).
_STEP_KEEPS = frozenset({"id", "thread_id", "created_at", "favorite_at"})

R = TypeVar(
    "R", UserRecord, ThreadRecord, StepRecord, ElementRecord, FeedbackRecord, McpServerRecord
)


def _table(record_class: type[SQLModel]) -> Table:
    return cast(Table, record_class.__table__)  # type: ignore[attr-defined]


@cache
def _columns(record_class: type[SQLModel]) -> tuple[tuple[str, str], ...]:
    """(attribute, column key) pairs of a record class (``meta`` -> ``metadata``)."""
    mapper = sa_inspect(record_class)
    return tuple((attr.key, attr.columns[0].key) for attr in mapper.column_attrs)


def _values(record: SQLModel) -> dict[str, Any]:
    """The record as ``{column key: value}``, for Core statements (``meta`` -> ``metadata``)."""
    return {key: getattr(record, attr) for attr, key in _columns(type(record))}


def _record(record_class: type[R], row: Mapping[Any, Any]) -> R:
    """The record a row of its table holds (see the module docstring: no ORM session)."""
    return built(record_class, {attr: row[key] for attr, key in _columns(record_class)})


async def _first(connection: AsyncConnection, query: Any, record_class: type[R]) -> R | None:
    row = (await connection.execute(query)).mappings().first()
    return None if row is None else _record(record_class, row)


async def _all(
    connection: AsyncConnection,
    query: Any,
    record_class: type[R],
    parameters: Mapping[str, Any] | None = None,
) -> list[R]:
    rows = (await connection.execute(query, parameters)).mappings()
    return [_record(record_class, row) for row in rows]


def _page(threads: list[ThreadRecord], size: int) -> ThreadPage:
    """The page of ``size`` threads that ``threads`` (up to one more) begin."""
    page = threads[:size]
    end_cursor = page_cursor(page[-1]) if page else None
    return ThreadPage(threads=page, has_next=len(threads) > size, end_cursor=end_cursor)


async def _scalar(connection: AsyncConnection, query: Any) -> Any:
    """The first column of the first row, or None."""
    return (await connection.execute(query)).scalars().first()


async def _delete_elements(connection: AsyncConnection, where: Any) -> list[str]:
    """Delete the elements ``where`` selects; their files' storage keys."""
    deleted = await connection.execute(
        delete(ElementRecord).where(where).returning(col(ElementRecord.storage_key))
    )
    return [key for key in deleted.scalars() if key]


def _touches(steps: Sequence[StepRecord], owner: str | None) -> list[dict[str, Any]]:
    """The thread updates that writing ``steps`` makes, one per thread.

    Each thread counts as updated when its last step is written (so, in one batch, a thread
    whose last step comes later is more recent, as if written one by one), and takes the
    name its first user message gives, if it has none.
    """
    names: dict[str, str | None] = {}
    last: dict[str, int] = {}
    for position, step in enumerate(steps):
        if names.get(step.thread_id) is None:
            is_question = step.type == "user_message"
            names[step.thread_id] = thread_name(step.output) if is_question else None
        last[step.thread_id] = position
    now = utcnow()
    return [
        {
            "t_id": thread_id,
            "t_owner": owner,
            "t_now": now + timedelta(microseconds=last[thread_id]),
            "t_name": name,
        }
        for thread_id, name in names.items()
    ]


def _unique_runs(steps: Sequence[StepRecord]) -> Iterator[Sequence[StepRecord]]:
    """``steps`` cut into consecutive runs in which no id repeats.

    One multi-row upsert may not touch a row twice (PostgreSQL refuses it), so a step
    written twice in one batch goes in a second statement, after the first.
    """
    start, seen = 0, set[str]()
    for index, step in enumerate(steps):
        if step.id in seen:
            yield steps[start:index]
            start, seen = index, set()
        seen.add(step.id)
    yield steps[start:]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


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
        self._one_reader = one_read(self._reader)
        # SQLite has one writer at a time: queue this process's writers here rather than in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms.
        self._write_turn: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        # The two dialects' INSERTs have the same ON CONFLICT API.
        self._insert: Callable[[Table], Any] = (
            pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        )
        self._sql = _Statements(self._insert)
        self._own: Any = _UNOPENED  # _OwnConnections on a SQLite file, else None
        self._own_opening = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        migrate: bool = True,
        **options: Any,
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
        own, self._own = self._own, None
        if isinstance(own, _OwnConnections):
            await own.listing[-1].close()
            async with self._write_turn:
                own.writer.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        """Run the smallest query: raises when the database does not answer (the
        readiness check, ``/-/ready``, asks this)."""
        async with self._read() as connection:
            await connection.execute(sa_select(literal(1)))

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (rolled back at the end: it changed nothing)."""
        async with self._reader.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _read_one(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a single ``SELECT`` (see ``one_read``)."""
        async with self._one_reader.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed at the end unless it raised."""
        async with self._write_turn, self._writer.begin() as connection:
            yield connection

    # -- users ------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> UserRecord | None:
        """The user with this identifier, or None."""
        query = select(UserRecord).where(col(UserRecord.identifier) == identifier)
        async with self._read() as connection:
            return await _first(connection, query, UserRecord)

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
        query = select(UserRecord).where(col(UserRecord.identifier) == identifier)
        async with self._write() as connection:
            await connection.execute(statement)
            user = await _first(connection, query, UserRecord)
        assert user is not None, "the user was just inserted or updated"
        return user

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
        try:
            async with self._write() as connection:
                created = await connection.execute(self._sql.create_thread, _values(thread))
                inserted = created.rowcount
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
            changes["metadata"] = metadata
        threads = _table(ThreadRecord)
        where = _Owned(owner).thread(thread_id)
        async with self._write() as connection:
            if changes:
                statement = update(threads).where(where).values(changes).returning(threads)
                found = await _first(connection, statement, ThreadRecord)
            else:
                found = await _first(connection, select(ThreadRecord).where(where), ThreadRecord)
        if found is None:
            raise NotFoundError(f"No thread {thread_id!r}.")
        return found

    async def set_client_type(self, thread_id: str, *, owner: str | None, client_type: str) -> None:
        """Keep the client a thread's chat runs in (``webapp``, ``copilot``...), for the
        analytics page; a thread that is not the owner's is left as it is."""
        threads = _table(ThreadRecord)
        statement = (
            update(threads)
            .where(_Owned(owner).thread(thread_id))
            .values(client_type=client_type[:40])
        )
        async with self._write() as connection:
            await connection.execute(statement)

    async def update_threads(self, fields: Sequence[ThreadFields]) -> None:
        """Set the fields given of many threads in one transaction: an ``executemany`` per
        set of fields given (the history gives the same for nearly all), the owner checked
        in each row's ``UPDATE``. Does not count as activity."""
        rows: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for given in fields:
            row: dict[str, Any] = {"t_id": given.thread_id, "t_owner": given.owner}
            if given.name is not None:
                row["f_name"] = given.name
            if given.tags is not None:
                row["f_tags"] = list(given.tags)
            if given.metadata is not None:
                row["f_metadata"] = given.metadata
            if given.client_type is not None:
                row["f_client_type"] = given.client_type[:40]
            if len(row) > 2:
                rows.setdefault(tuple(row)[2:], []).append(row)
        if not rows:
            return
        own = await self._own_connections()
        if own is not None:
            statements = [(own.writer.set_fields(names), group) for names, group in rows.items()]
            await own.writer.write(self._write_turn, statements)
            return
        async with self._write() as connection:
            for names, group in rows.items():
                await connection.execute(self._sql.set_fields(names), group)

    async def share_thread(
        self, thread_id: str, *, owner: str | None, shared: bool
    ) -> ThreadRecord:
        """Share the thread, or stop sharing it (see ``ThreadSharing``): one ``UPDATE``,
        the owner checked in it; sharing again keeps the first time (``COALESCE``)."""
        threads = _table(ThreadRecord)
        now = literal(utcnow(), UTCDateTime())
        value = func.coalesce(threads.c.shared_at, now) if shared else None
        statement = (
            update(threads)
            .where(_Owned(owner).thread(thread_id))
            .values(shared_at=value)
            .returning(threads)
        )
        async with self._write() as connection:
            found = await _first(connection, statement, ThreadRecord)
        if found is None:
            raise NotFoundError(f"No thread {thread_id!r}.")
        return found

    async def get_thread(self, thread_id: str, *, owner: str | None) -> ThreadRecord | None:
        """The thread, or None (missing, or someone else's)."""
        query = select(ThreadRecord).where(_Owned(owner).thread(thread_id))
        async with self._read() as connection:
            return await _first(connection, query, ThreadRecord)

    async def load_thread(self, thread_id: str, *, owner: str | None) -> StoredThread | None:
        """The thread with its steps, elements and feedback (one snapshot), or None."""
        async with self._read() as connection:
            query = select(ThreadRecord).where(_Owned(owner).thread(thread_id))
            thread = await _first(connection, query, ThreadRecord)
            if thread is None:
                return None
            steps = await _all(
                connection,
                select(StepRecord)
                .where(col(StepRecord.thread_id) == thread_id)
                .order_by(col(StepRecord.created_at), col(StepRecord.id)),
                StepRecord,
            )
            elements = await _all(
                connection,
                select(ElementRecord)
                .where(col(ElementRecord.thread_id) == thread_id)
                .order_by(col(ElementRecord.created_at), col(ElementRecord.id)),
                ElementRecord,
            )
            feedback = await _all(
                connection,
                select(FeedbackRecord).where(col(FeedbackRecord.thread_id) == thread_id),
                FeedbackRecord,
            )
        return StoredThread(
            thread=thread,
            steps=steps,
            elements=elements,
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
        locked = select(ThreadRecord.id).where(_Owned(owner).thread(thread_id)).with_for_update()
        async with self._write() as connection:
            if (await connection.execute(locked)).first() is None:
                raise NotFoundError(f"No thread {thread_id!r}.")
            keys = await _delete_elements(connection, col(ElementRecord.thread_id) == thread_id)
            # Steps and feedback go by ON DELETE CASCADE.
            await connection.execute(delete(ThreadRecord).where(col(ThreadRecord.id) == thread_id))
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
        if not pagination.cursor and filters == ThreadFilter():  # a page's sidebar
            async with self._read_one() as connection:
                parameters = {"l_owner": owner, "l_limit": size + 1}
                threads = await _all(connection, self._sql.recent, ThreadRecord, parameters)
            return _page(threads, size)
        query = select(ThreadRecord).where(col(ThreadRecord.owner) == owner)
        if pagination.cursor:
            updated_at, last_id = read_cursor(pagination.cursor)
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
        async with self._read_one() as connection:
            threads = await _all(connection, query, ThreadRecord)
        return _page(threads, size)

    async def recent_threads(self, owner: str, first: int) -> list[ThreadListing]:
        """The owner's ``first`` most recently updated threads, as the sidebar lists them
        (``ThreadLister``; see the module docstring)."""
        size = max(1, min(first, MAX_PAGE_SIZE))
        own = await self._own_connections()
        if own is None:
            async with self._read_one() as connection:
                parameters = {"l_owner": owner, "l_limit": size}
                found = await connection.execute(self._sql.recent_listing, parameters)
                return [ThreadListing(*row) for row in found.all()]
        sql, slots, reader = own.listing
        given = {"l_owner": owner, "l_limit": size}
        values = [given.get(name, value) for name, value in slots]
        rows = await reader.execute_fetchall(sql, values)
        return [
            ThreadListing(
                thread_id,
                name,
                _sqlite_time(updated),
                None if shared is None else _sqlite_time(shared),
            )
            for thread_id, name, updated, shared in rows
        ]

    async def _own_connections(self) -> _OwnConnections | None:
        """The store's own connections to its SQLite file, opened on first use; None where
        the pool serves everything (PostgreSQL, a database in memory, a URL with options)."""
        if self._own is _UNOPENED:
            async with self._own_opening:
                if self._own is _UNOPENED:
                    self._own = await self._open_own()
        return cast(_OwnConnections | None, self._own)

    async def _open_own(self) -> _OwnConnections | None:
        url = self.engine.url
        database = url.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file:")
        if self.engine.dialect.name != "sqlite" or in_memory or url.query:
            return None
        import aiosqlite  # the SQLite driver: only a SQLite store gets here

        compiled = self._sql.recent_listing.compile(dialect=self.engine.dialect)
        # The parameters in their order (the two given, the dialect's own ``OFFSET 0``).
        slots = [(name, compiled.params[name]) for name in compiled.positiontup or ()]
        writer = await asyncio.to_thread(_DirectWriter, database, self.engine.dialect, self._sql)
        try:
            reader = await aiosqlite.connect(database, isolation_level=None)
            try:
                await reader.execute("PRAGMA busy_timeout=5000")
            except BaseException:
                await reader.close()
                raise
        except BaseException:
            writer.close()
            raise
        return _OwnConnections((compiled.string, slots, reader), writer)

    async def get_thread_owner(self, thread_id: str) -> str | None:
        """The owner key of a thread, or None if there is no such thread."""
        query = select(ThreadRecord.owner).where(col(ThreadRecord.id) == thread_id)
        async with self._read() as connection:
            owner: str | None = await _scalar(connection, query)
        return owner

    async def get_thread_author(self, thread_id: str) -> str | None:
        """The identifier of the user who owns a thread (None if none or browser-owned)."""
        query = (
            select(UserRecord.identifier)
            .join(ThreadRecord, col(ThreadRecord.user_id) == col(UserRecord.id))
            .where(col(ThreadRecord.id) == thread_id)
        )
        async with self._read() as connection:
            author: str | None = await _scalar(connection, query)
        return author

    # -- steps ------------------------------------------------------------------------

    async def upsert_step(self, step: StepRecord, *, owner: str | None) -> None:
        """Insert a step or replace its state (``created_at`` stays the first one's).

        The thread counts as updated, and a user message names a thread that has no name
        yet (``layer.thread_name``). Raises ``NotFoundError`` when the thread is missing or
        someone else's, ``ConflictError`` when the step id is used in another thread.
        """
        [touch] = _touches([step], owner)
        async with self._write() as connection:
            # The update is the ownership check (and, on PostgreSQL, locks the row).
            touched = await connection.execute(self._sql.touch(owner), touch)
            if not touched.rowcount:
                raise NotFoundError(f"No thread {step.thread_id!r}.")
            await self._upsert(connection, [step])

    async def upsert_steps(self, steps: Sequence[StepRecord], *, owners: Mapping[str, str]) -> None:
        """Write the steps of many chats in one transaction: all or none.

        The same as ``upsert_step`` for each step in order, except that a thread that does
        not exist yet is created for its owner first. ``owners`` maps each thread id to its
        owner; a thread that belongs to someone else is refused with ``NotFoundError``, and
        a step id used in another thread with ``ConflictError``.
        """
        if not steps:
            return
        sql = self._sql
        missing = {step.thread_id for step in steps} - set(owners)
        if missing:
            raise ValueError(f"upsert_steps: no owner given for thread {sorted(missing)[0]!r}")
        touches = _touches(steps, None)
        wanted = sorted({step.thread_id for step in steps})
        now = utcnow()
        new = [
            _values(
                built(
                    ThreadRecord,
                    {
                        "id": thread_id,
                        "owner": owners[thread_id],
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            )
            for thread_id in wanted
        ]
        own = await self._own_connections()
        if own is not None:
            await own.writer.upsert_steps(self._write_turn, steps, owners, new, touches)
            return
        async with self._write() as connection:
            await connection.execute(sql.create_thread, new)  # the ones that exist stay as they are
            # Lock the threads in id order (two batches never wait on each other in a
            # circle), and check whose they are.
            found = await connection.execute(sql.lock, {"t_ids": wanted})
            owner_of: dict[str, str] = {thread_id: owner for thread_id, owner in found.all()}
            for step in steps:
                if owner_of.get(step.thread_id) != owners[step.thread_id]:
                    raise NotFoundError(f"No thread {step.thread_id!r}.")
            await connection.execute(sql.touch(None), touches)
            await self._upsert(connection, steps)

    async def update_outputs(
        self, outputs: Sequence[tuple[str, str, str]], *, owners: Mapping[str, str]
    ) -> None:
        """Set the ``output`` of steps already written, given as (step id, thread id, text),
        in one transaction (one ``executemany``). ``owners`` maps each thread id to its
        owner. A step that is missing, or not in that thread of that owner, is left alone.

        The history's checkpoints of messages still streaming: the thread is not touched
        (it counts as updated when the message ends), and nothing is read back.
        """
        if not outputs:
            return
        rows = [
            {"s_id": step_id, "s_thread": thread_id, "s_owner": owners[thread_id], "s_output": text}
            for step_id, thread_id, text in outputs
        ]
        own = await self._own_connections()
        if own is not None:
            await own.writer.write(self._write_turn, [(own.writer.set_output, rows)])
            return
        async with self._write() as connection:
            await connection.execute(self._sql.set_output, rows)

    async def _upsert(self, connection: AsyncConnection, steps: Sequence[StepRecord]) -> None:
        for run in _unique_runs(steps):
            written = await connection.execute(self._sql.upsert, [_values(step) for step in run])
            done = set(written.scalars())
            for step in run:
                if step.id not in done:
                    raise ConflictError(f"Step {step.id!r} belongs to another thread.")

    async def delete_step(self, step_id: str, *, owner: str | None) -> list[str]:
        """Delete a step, its nested steps, their feedback and elements.

        Returns the storage keys of the deleted elements' files; nothing happens (and the
        list is empty) when the step is missing or in someone else's thread.
        """
        query = select(StepRecord.thread_id).where(
            col(StepRecord.id) == step_id, _Owned(owner).threads_of(col(StepRecord.thread_id))
        )
        async with self._write() as connection:
            thread_id = await _scalar(connection, query)
            if thread_id is None:
                return []
            family = await connection.execute(
                select(StepRecord.id, StepRecord.parent_id).where(
                    col(StepRecord.thread_id) == thread_id
                )
            )
            doomed = _subtree(step_id, ((row[0], row[1]) for row in family))
            keys = await _delete_elements(
                connection,
                and_(
                    col(ElementRecord.thread_id) == thread_id,
                    col(ElementRecord.for_id).in_(doomed),
                ),
            )
            # Their feedback goes by ON DELETE CASCADE.
            await connection.execute(delete(StepRecord).where(col(StepRecord.id).in_(doomed)))
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
        async with self._read() as connection:
            steps = await _all(connection, query, StepRecord)
            if not steps:
                found = select(ThreadRecord.id).where(_Owned(owner).thread(thread_id))
                if await _scalar(connection, found) is None:
                    raise NotFoundError(f"No thread {thread_id!r}.")
        return steps

    async def get_step(self, step_id: str, *, owner: str | None) -> StepRecord | None:
        """The step (or message), or None (missing, or in someone else's thread)."""
        query = select(StepRecord).where(
            col(StepRecord.id) == step_id, _Owned(owner).threads_of(col(StepRecord.thread_id))
        )
        async with self._read() as connection:
            return await _first(connection, query, StepRecord)

    # -- favourites -------------------------------------------------------------------

    async def set_favorite(self, step_id: str, *, owner: str | None, favorite: bool) -> StepRecord:
        """Mark a step as a favourite, or unmark it (see ``FavoriteSteps``): one ``UPDATE``,
        the owner checked in it; marking again keeps the first time (``COALESCE``)."""
        steps = _table(StepRecord)
        now = literal(utcnow(), UTCDateTime())
        value = func.coalesce(steps.c.favorite_at, now) if favorite else None
        statement = (
            update(steps)
            .where(steps.c.id == step_id, _Owned(owner).threads_of(steps.c.thread_id))
            .values(favorite_at=value)
            .returning(steps)
        )
        async with self._write() as connection:
            found = await _first(connection, statement, StepRecord)
        if found is None:
            raise NotFoundError(f"No step {step_id!r}.")
        return found

    async def list_favorites(
        self, owner: str, *, thread_id: str | None = None, limit: int = MAX_FAVORITES
    ) -> list[StepRecord]:
        """The owner's favourite steps, newest first (see ``FavoriteSteps``): found through
        the partial index of marked steps, per thread of the owner's."""
        query = (
            select(StepRecord)
            .join(ThreadRecord, col(ThreadRecord.id) == col(StepRecord.thread_id))
            .where(col(ThreadRecord.owner) == owner, col(StepRecord.favorite_at).is_not(None))
        )
        if thread_id is not None:
            query = query.where(col(StepRecord.thread_id) == thread_id)
        query = query.order_by(col(StepRecord.created_at).desc(), col(StepRecord.id).desc()).limit(
            max(1, min(limit, MAX_FAVORITES))
        )
        async with self._read() as connection:
            return await _all(connection, query, StepRecord)

    # -- MCP servers users remember ---------------------------------------------------

    async def list_mcp_servers(self, owner: str) -> list[McpServerRecord]:
        """The owner's MCP servers, oldest first (see ``McpServerKeeper``)."""
        query = (
            select(McpServerRecord)
            .where(col(McpServerRecord.owner) == owner)
            .order_by(col(McpServerRecord.created_at), col(McpServerRecord.id))
        )
        async with self._read() as connection:
            return await _all(connection, query, McpServerRecord)

    async def save_mcp_server(self, server: McpServerRecord) -> McpServerRecord:
        """Keep a server, replacing the owner's of the same name (an upsert on the pair)."""
        insert = self._insert(_table(McpServerRecord)).values(_values(server))
        statement = insert.on_conflict_do_update(
            index_elements=["owner", "name"],
            set_={"kind": insert.excluded.kind, "sealed": insert.excluded.sealed},
        ).returning(_table(McpServerRecord))
        async with self._write() as connection:
            saved = await _first(connection, statement, McpServerRecord)
        assert saved is not None  # an upsert always returns its row
        return saved

    async def delete_mcp_server(self, owner: str, name: str) -> bool:
        """Forget the owner's server of that name; False when there was none."""
        statement = delete(McpServerRecord).where(
            col(McpServerRecord.owner) == owner, col(McpServerRecord.name) == name
        )
        async with self._write() as connection:
            deleted = (await connection.execute(statement)).rowcount
        return bool(deleted)

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
            async with self._write() as connection:
                owned = select(ThreadRecord.id).where(_Owned(owner).thread(element.thread_id))
                if await _scalar(connection, owned) is None:
                    raise NotFoundError(f"No thread {element.thread_id!r}.")
                inserted = (await connection.execute(statement)).rowcount
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
        async with self._read() as connection:
            return await _first(connection, query, ElementRecord)

    async def delete_element(self, element_id: str, *, owner: str | None) -> ElementRecord | None:
        """Delete an element; returns it (its ``storage_key`` names the file), or None."""
        query = select(ElementRecord).where(
            col(ElementRecord.id) == element_id,
            _Owned(owner).threads_of(col(ElementRecord.thread_id)),
        )
        async with self._write() as connection:
            element = await _first(connection, query, ElementRecord)
            if element is not None:
                gone = delete(ElementRecord).where(col(ElementRecord.id) == element_id)
                await connection.execute(gone)
        return element

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
        query = select(StepRecord.thread_id).where(
            col(StepRecord.id) == for_id, _Owned(owner).threads_of(col(StepRecord.thread_id))
        )
        found = select(FeedbackRecord).where(col(FeedbackRecord.for_id) == for_id)
        async with self._write() as connection:
            thread_id = await _scalar(connection, query)
            if thread_id is None:
                raise NotFoundError(f"No step {for_id!r}.")
            new = FeedbackRecord(for_id=for_id, thread_id=thread_id, value=value, comment=comment)
            await connection.execute(
                self._insert(table)
                .values(_values(new))
                .on_conflict_do_update(
                    index_elements=["for_id"], set_={"value": value, "comment": comment}
                )
            )
            feedback = await _first(connection, found, FeedbackRecord)
        assert feedback is not None, "the feedback was just inserted or updated"
        return feedback

    async def list_feedback(
        self, thread_id: str, *, owner: str | None
    ) -> dict[str, FeedbackRecord]:
        """The feedback given in a thread, by step id (empty for a thread that is not ours)."""
        query = select(FeedbackRecord).where(
            col(FeedbackRecord.thread_id) == thread_id,
            _Owned(owner).threads_of(col(FeedbackRecord.thread_id)),
        )
        async with self._read() as connection:
            return {item.for_id: item for item in await _all(connection, query, FeedbackRecord)}

    async def delete_feedback(self, feedback_id: str, *, owner: str | None) -> bool:
        """Delete a feedback; False when there was none (or it is someone else's)."""
        statement = delete(FeedbackRecord).where(
            col(FeedbackRecord.id) == feedback_id,
            _Owned(owner).threads_of(col(FeedbackRecord.thread_id)),
        )
        async with self._write() as connection:
            return (await connection.execute(statement)).rowcount > 0


class _Statements:
    """The statements of the history's writes, built once per store (see the module
    docstring): each is executed with its values as parameters."""

    def __init__(self, insert: Callable[[Table], Any]) -> None:
        threads, steps = _table(ThreadRecord), _table(StepRecord)
        self._threads = threads
        self._set_fields: dict[tuple[str, ...], Any] = {}
        self.create_thread = insert(threads).on_conflict_do_nothing(index_elements=["id"])
        upsert = insert(steps)
        #: A step's state (a step of another thread is left alone), and the same telling
        #: which steps it wrote.
        self.upsert_plain = upsert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                column.key: upsert.excluded[column.key]
                for column in steps.columns
                if column.key not in _STEP_KEEPS
            },
            where=steps.c.thread_id == upsert.excluded.thread_id,
        )
        self.upsert = self.upsert_plain.returning(steps.c.id)
        touch = update(threads).values(
            updated_at=bindparam("t_now", type_=UTCDateTime()),
            name=func.coalesce(threads.c.name, bindparam("t_name", type_=threads.c.name.type)),
        )
        self._touch_any = touch.where(threads.c.id == bindparam("t_id"))
        self._touch_owned = touch.where(
            threads.c.id == bindparam("t_id"), threads.c.owner == bindparam("t_owner")
        )
        #: A step's text (``update_outputs``), if its thread is the owner's.
        self.set_output = (
            update(steps)
            .where(
                steps.c.id == bindparam("s_id"),
                steps.c.thread_id == bindparam("s_thread"),
                exists().where(
                    threads.c.id == bindparam("s_thread"), threads.c.owner == bindparam("s_owner")
                ),
            )
            .values(output=bindparam("s_output"))
        )
        #: The first ``l_limit`` threads of ``l_owner``, most recently updated first
        #: (``list_threads`` without a cursor or filters: every chat page's sidebar).
        self.recent = (
            sa_select(threads)
            .where(threads.c.owner == bindparam("l_owner"))
            .order_by(threads.c.updated_at.desc(), threads.c.id.desc())
            .limit(bindparam("l_limit", type_=Integer()))
        )
        #: The same, only what a list of chats shows (``recent_threads``).
        self.recent_listing = (
            sa_select(threads.c.id, threads.c.name, threads.c.updated_at, threads.c.shared_at)
            .where(threads.c.owner == bindparam("l_owner"))
            .order_by(threads.c.updated_at.desc(), threads.c.id.desc())
            .limit(bindparam("l_limit", type_=Integer()))
        )
        #: The id and owner of the threads among ``t_ids``, locked for the writes.
        self.lock = (
            sa_select(threads.c.id, threads.c.owner)
            .where(threads.c.id.in_(bindparam("t_ids", expanding=True)))
            .order_by(threads.c.id)
            .with_for_update()
        )

    def set_fields(self, names: tuple[str, ...]) -> Any:
        """Set these fields (``f_<column>`` parameters) of the thread ``t_id`` if it is
        ``t_owner``'s (``update_threads``); built once per set of fields."""
        statement = self._set_fields.get(names)
        if statement is None:
            threads = self._threads
            statement = (
                update(threads)
                .where(threads.c.id == bindparam("t_id"), threads.c.owner == bindparam("t_owner"))
                .values(
                    {name[2:]: bindparam(name, type_=threads.c[name[2:]].type) for name in names}
                )
            )
            self._set_fields[names] = statement
        return statement

    def touch(self, owner: str | None) -> Any:
        """Bump a thread's ``updated_at`` and name it if it has no name yet."""
        return self._touch_any if owner is None else self._touch_owned


_UNOPENED = object()


class _Prepared:
    """A statement compiled once for SQLite's driver: its SQL, and the conversions
    SQLAlchemy makes of its parameters' values (times to text, JSON to text...)."""

    __slots__ = ("_binds", "sql")

    def __init__(self, statement: Any, dialect: Any, keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        self.sql: str = compiled.string
        self._binds = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]

    def rows(self, values: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The driver's parameters for rows of values (by name)."""
        binds = self._binds
        return [
            tuple(row[name] if convert is None else convert(row[name]) for name, convert in binds)
            for row in values
        ]


class _DirectWriter:
    """The history's frequent writes on a SQLite file: ``upsert_steps``,
    ``update_outputs`` and ``update_threads``, each one transaction run whole in a worker
    thread on a sqlite3 connection of its own.

    Through the pool, a batch took six hops to the driver's thread (begin, create the
    threads, check them, touch them, the steps, commit), each with SQLAlchemy's execution
    around it: about 4 ms of the event loop's time for 48 steps. The statements are the
    pool's own (``_Statements``), compiled once; their values are converted as SQLAlchemy
    converts them. Writes take the store's write turn, as the pool's do, and a lock of
    their own around the connection (a cancelled caller leaves its thread running).
    """

    def __init__(self, database: str, dialect: Any, sql: _Statements) -> None:
        connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        for pragma in ("busy_timeout=5000", "foreign_keys=ON", "synchronous=NORMAL"):
            connection.execute(f"PRAGMA {pragma}")
        self._connection = connection
        self._lock = threading.Lock()
        self._sql, self._dialect = sql, dialect
        self._set_fields: dict[tuple[str, ...], _Prepared] = {}
        self._threads = _table(ThreadRecord).name
        self._steps = _table(StepRecord).name
        self.create_thread = _Prepared(
            sql.create_thread, dialect, [key for _, key in _columns(ThreadRecord)]
        )
        self.touch = _Prepared(sql.touch(None), dialect)
        self.upsert = _Prepared(sql.upsert_plain, dialect, [key for _, key in _columns(StepRecord)])
        self.set_output = _Prepared(sql.set_output, dialect)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def set_fields(self, names: tuple[str, ...]) -> _Prepared:
        """``_Statements.set_fields`` for these fields, compiled once."""
        prepared = self._set_fields.get(names)
        if prepared is None:
            prepared = self._set_fields[names] = _Prepared(
                self._sql.set_fields(names), self._dialect
            )
        return prepared

    async def write(
        self,
        turn: AbstractAsyncContextManager[Any],
        statements: Sequence[tuple[_Prepared, Sequence[Mapping[str, Any]]]],
    ) -> None:
        """Statements, each for many rows of values, in one transaction."""
        work = [(prepared.sql, prepared.rows(rows)) for prepared, rows in statements]
        async with turn:
            await asyncio.to_thread(self._write, work)

    def _write(self, work: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        with self._transaction() as connection:
            for sql, values in work:
                connection.executemany(sql, values)

    async def upsert_steps(
        self,
        turn: AbstractAsyncContextManager[Any],
        steps: Sequence[StepRecord],
        owners: Mapping[str, str],
        new: list[dict[str, Any]],
        touches: list[dict[str, Any]],
    ) -> None:
        """``SQLStore.upsert_steps`` once its rows are made (``new``: the threads that may
        be missing, ``touches``: the threads' updates)."""
        threads = self.create_thread.rows(new)
        touched = self.touch.rows(touches)
        written = self.upsert.rows(_values(step) for step in steps)
        ids = [(step.id, step.thread_id) for step in steps]
        async with turn:
            await asyncio.to_thread(
                self._upsert_steps, ids, dict(owners), threads, touched, written
            )

    def _upsert_steps(
        self,
        ids: list[tuple[str, str]],
        owners: dict[str, str],
        threads: list[tuple[Any, ...]],
        touched: list[tuple[Any, ...]],
        written: list[tuple[Any, ...]],
    ) -> None:
        with self._transaction() as connection:
            connection.executemany(self.create_thread.sql, threads)  # the others stay
            wanted = sorted({thread_id for _, thread_id in ids})
            found = dict(
                connection.execute(
                    f"SELECT id, owner FROM {self._threads} WHERE id IN ({_marks(wanted)})",
                    wanted,
                ).fetchall()
            )
            for _, thread_id in ids:
                if found.get(thread_id) != owners[thread_id]:
                    raise NotFoundError(f"No thread {thread_id!r}.")
            connection.executemany(self.touch.sql, touched)
            before = connection.total_changes
            connection.executemany(self.upsert.sql, written)
            if connection.total_changes - before < len(written):  # one left alone
                step_ids = [step_id for step_id, _ in ids]
                stored = dict(
                    connection.execute(
                        f"SELECT id, thread_id FROM {self._steps} WHERE id IN ({_marks(step_ids)})",
                        step_ids,
                    ).fetchall()
                )
                for step_id, thread_id in ids:
                    if stored.get(step_id) != thread_id:
                        raise ConflictError(f"Step {step_id!r} belongs to another thread.")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection in a write transaction: committed, or rolled back if it raised."""
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise


def _marks(values: Sequence[Any]) -> str:
    """As many ``?`` as values, for an ``IN (...)``."""
    return ",".join("?" * len(values))


_Listing = tuple[str, list[tuple[str, Any]], Any]
"""``recent_threads``' SQL, its parameters' (name, fixed value) in order, and its connection."""


@dataclass(frozen=True, slots=True)
class _OwnConnections:
    """A SQLite store's connections of its own, beside the pool's (see the module
    docstring): the sidebar's reads, and the history's writes."""

    listing: _Listing
    writer: _DirectWriter


def _sqlite_time(text: str) -> datetime:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text), aware again.

    >>> _sqlite_time("2026-12-08 02:01:25.683873")
    datetime.datetime(2026, 12, 8, 2, 1, 25, 683873, tzinfo=datetime.timezone.utc)
    """
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


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
    _batches: type[BatchWriter] = SQLStore
    _outputs: type[OutputWriter] = SQLStore
    _fields: type[ThreadsWriter] = SQLStore
    _lister: type[ThreadLister] = SQLStore
    _sharing: type[ThreadSharing] = SQLStore
    _favorites: type[FavoriteSteps] = SQLStore
    _mcp_servers: type[McpServerKeeper] = SQLStore
