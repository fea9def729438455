"""Copy a Chainlit database's history into lightchat's store (``lightchat import-chainlit``).

The source is either of Chainlit's SQL schemas: its official layer's (``DATABASE_URL``,
tables ``"User"``, ``"Thread"``...) or its ``SQLAlchemyDataLayer``'s (``users``,
``threads``...), on PostgreSQL or SQLite; which one is found from the tables. Its users are
copied, then each thread with its steps, elements and feedback, read with the same code
that serves such a database (``ChainlitDatabase``, ``ChainlitSQLLayer``) and turned into
lightchat's records as the history reads them (``chainlit_layer``).

Each thread is written in one transaction, thread row last-checked first: a thread already
in the store was copied whole, and is skipped. So a second run copies nothing twice, and
an interrupted one goes on where it stopped. Times are kept (a thread's place in the
history is its latest step), ids become lightchat's (a UUID's 32 hex digits), and a
thread's owner is its Chainlit user (``user:<identifier>``). What cannot be copied is
counted, not guessed: a thread without a user (nobody could open it), and an element whose
file is only in Chainlit's bucket (no http(s) link to keep).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from lightchat.store.chainlit_layer import _element_record, _in, _step_record, _time
from lightchat.store.chainlit_pg import ChainlitDatabase
from lightchat.store.chainlit_sql import ChainlitSQLLayer
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    StepRecord,
    ThreadRecord,
    utcnow,
)
from lightchat.store.sql import SQLStore, _table, _values

__all__ = ["ImportSummary", "import_chainlit"]


@dataclass
class ImportSummary:
    """What a run copied, and what it skipped or could not copy."""

    schema: str = ""
    users: int = 0
    threads: int = 0
    steps: int = 0
    elements: int = 0
    feedback: int = 0
    already_there: int = 0
    without_user: int = 0
    files_left: int = 0

    def lines(self) -> list[str]:
        """The summary, a line per figure."""
        said = [
            f"Source: Chainlit's {self.schema} schema",
            f"Users: {self.users}",
            f"Threads copied: {self.threads} ({self.steps} steps, {self.elements} elements, "
            f"{self.feedback} feedback)",
            f"Threads already in the store (skipped): {self.already_there}",
        ]
        if self.without_user:
            said.append(f"Threads without a user (skipped: nobody could open them): "
                        f"{self.without_user}")  # fmt: skip
        if self.files_left:
            said.append(
                f"Elements whose file is only in Chainlit's storage (copied without it): "
                f"{self.files_left}"
            )
        return said


class _Source:
    """A Chainlit database, either schema: its users and threads."""

    def __init__(self, url: str, official: bool) -> None:
        self.official = official
        self.layer: Any = ChainlitDatabase(url) if official else ChainlitSQLLayer(url)
        self.schema = "official (DATABASE_URL)" if official else "SQLAlchemyDataLayer"

    @classmethod
    async def open(cls, url: str) -> _Source:
        for official, table in ((True, '"Thread"'), (False, "threads")):
            source = cls(url, official)
            try:
                await source.layer._rows(f"SELECT 1 FROM {table} WHERE 1 = 0")
            except DBAPIError:
                await source.layer.close()
                continue
            return source
        raise LookupError(
            'No Chainlit tables there: neither Chainlit\'s official schema ("Thread", '
            '"Step"...) nor SQLAlchemyDataLayer\'s (threads, steps...).'
        )

    async def users(self) -> list[tuple[str, dict[str, Any]]]:
        table = '"User"' if self.official else "users"
        rows = await self.layer._rows(
            f"SELECT identifier, metadata FROM {table} ORDER BY identifier"
        )
        users = []
        for row in rows:
            metadata = row["metadata"]
            if isinstance(metadata, str):
                metadata = json.loads(metadata or "{}")
            users.append((str(row["identifier"]), metadata if isinstance(metadata, dict) else {}))
        return users

    async def thread_ids(self) -> list[str]:
        if self.official:
            query = 'SELECT id FROM "Thread" WHERE "deletedAt" IS NULL ORDER BY "createdAt", id'
        else:
            query = 'SELECT id FROM threads ORDER BY "createdAt", id'
        return [str(row["id"]) for row in await self.layer._rows(query)]


def _records(
    thread: Any, owner: str, user_id: str | None
) -> tuple[ThreadRecord, list[StepRecord], list[ElementRecord], list[FeedbackRecord], int]:
    """A Chainlit thread dict as lightchat's rows; and how many files stay behind."""
    thread_id = _in(str(thread["id"]))
    metadata = dict(thread.get("metadata") or {})
    shared = _time(metadata.get("shared_at")) if metadata.get("is_shared") else None
    created = _time(thread.get("createdAt")) or utcnow()
    steps = [_step_record(step, thread_id) for step in thread.get("steps") or []]
    for step in steps:
        step.thread_id = thread_id
    feedback = []
    for data in thread.get("steps") or []:
        given = data.get("feedback")
        if given and given.get("value") is not None:
            step_id = _in(str(data["id"]))
            feedback.append(
                FeedbackRecord(
                    id=_in(str(given.get("id") or step_id)),
                    for_id=step_id,
                    thread_id=thread_id,
                    value=1 if float(given["value"]) > 0 else 0,
                    comment=given.get("comment"),
                )
            )
    elements = []
    left = 0
    for data in thread.get("elements") or []:
        element = _element_record(data, thread_id)
        element.thread_id = thread_id
        if element.url and not element.url.startswith(("https://", "http://")):
            element.url = None
        if element.storage_key is None and element.url is None:
            left += 1
        elements.append(element)
    tags = thread.get("tags")
    record = ThreadRecord(
        id=thread_id,
        owner=owner,
        user_id=user_id,
        name=thread.get("name"),
        tags=list(tags) if isinstance(tags, list) else [],
        meta={k: v for k, v in metadata.items() if k not in ("is_shared", "shared_at")},
        created_at=created,
        updated_at=max([created, *(step.created_at for step in steps)]),
        shared_at=shared,
    )
    return record, steps, elements, feedback, left


async def _write_thread(
    store: SQLStore,
    thread: ThreadRecord,
    steps: list[StepRecord],
    elements: list[ElementRecord],
    feedback: list[FeedbackRecord],
) -> bool:
    """Write a thread and its rows in one transaction; False if it is there already."""
    threads = _table(ThreadRecord)
    async with store._write() as connection:
        found = await connection.execute(select(threads.c.id).where(threads.c.id == thread.id))
        if found.first() is not None:
            return False
        await connection.execute(threads.insert(), [_values(thread)])
        known = {step.id for step in steps}
        for step in steps:  # a parent that is not in the thread would point nowhere
            if step.parent_id not in known:
                step.parent_id = None
        if steps:
            await connection.execute(_table(StepRecord).insert(), [_values(s) for s in steps])
        rows = [e for e in elements if e.for_id is None or e.for_id in known]
        if rows:
            await connection.execute(_table(ElementRecord).insert(), [_values(e) for e in rows])
        rated = [f for f in feedback if f.for_id in known]
        if rated:
            await connection.execute(_table(FeedbackRecord).insert(), [_values(f) for f in rated])
    return True


async def import_chainlit(
    source_url: str,
    store: SQLStore,
    *,
    on_start: Callable[[int], None] | None = None,
    on_thread: Callable[[], None] | None = None,
) -> ImportSummary:
    """Copy the Chainlit database at ``source_url`` into ``store`` (see the module
    docstring); ``on_start`` is told how many threads there are, ``on_thread`` is called
    after each. Raises ``LookupError`` when the database has no Chainlit tables."""
    source = await _Source.open(source_url)
    summary = ImportSummary(schema=source.schema)
    try:
        user_ids: dict[str, str] = {}
        for identifier, metadata in await source.users():
            user = await store.get_user(identifier)
            if user is None:
                user = await store.create_user(identifier, metadata=metadata)
                summary.users += 1
            user_ids[identifier] = user.id
        ids = await source.thread_ids()
        if on_start is not None:
            on_start(len(ids))
        for thread_id in ids:
            thread = await source.layer.get_thread(thread_id)
            author = thread.get("userIdentifier") if thread else None
            if thread is None or not author:
                summary.without_user += thread is not None
            else:
                record, steps, elements, feedback, left = _records(
                    thread, f"user:{author}", user_ids.get(author)
                )
                if await _write_thread(store, record, steps, elements, feedback):
                    summary.threads += 1
                    summary.steps += len(steps)
                    summary.elements += len(elements)
                    summary.feedback += len(feedback)
                    summary.files_left += left
                else:
                    summary.already_there += 1
            if on_thread is not None:
                on_thread()
    finally:
        await source.layer.close()
    return summary
