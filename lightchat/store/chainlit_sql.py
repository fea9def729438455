"""Chainlit's ``SQLAlchemyDataLayer`` on the schema Chainlit documents for it, on SQLite
(aiosqlite) and PostgreSQL (asyncpg): the engine work behind
``lightchat.data.sql_alchemy.SQLAlchemyDataLayer``.

The tables are the app's, made by the app with Chainlit's documented DDL: ``users``,
``threads``, ``steps``, ``elements`` and ``feedbacks``, their columns in camel case
(``"threadId"``, ``"createdAt"``...), ids as UUIDs (PostgreSQL's ``uuid``, text on
SQLite), times as ISO 8601 text, ``metadata`` as JSON, ``tags`` as a text array
(PostgreSQL) or JSON text (SQLite). The DDL has changed between Chainlit versions
(``steps."disableFeedback"``, ``steps."defaultOpen"``, ``elements."props"``...), so the
columns a table really has are read once, and a row is written with those only.

Behaviour, as Chainlit's layer has it: ``update_thread`` creates the thread or changes
the fields given (metadata merged into what is stored, a key set to None removed); a
user's threads are listed by their latest step, at most ``user_thread_limit``, the
cursor being the id of the last thread of the page; ``create_step`` and
``create_element`` replace a row of the same id. A storage provider (Chainlit's
``BaseStorageClient`` shape: ``upload_file``, ``delete_file``, ``get_read_url``) keeps
the bytes of elements given with ``content`` or a ``path``; an element that comes with
its ``objectKey`` (lightchat's history, whose files are in the app's file storage) is
kept as a row only, and its file is never deleted from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lightchat.domain.types import (
    ElementDict,
    Feedback,
    FeedbackDict,
    PageInfo,
    PaginatedResponse,
    Pagination,
    StepDict,
    ThreadDict,
    ThreadFilter,
)
from lightchat.domain.user import PersistedUser, User
from lightchat.store.engine import database_url

__all__ = ["ChainlitSQLLayer"]

_TABLES = ("users", "threads", "steps", "elements", "feedbacks")
_JSON = frozenset({"metadata", "generation", "props", "playerConfig"})
_STEP_COLUMNS = (
    "id", "name", "type", "threadId", "parentId", "command", "streaming", "waitForAnswer",
    "isError", "metadata", "tags", "input", "output", "createdAt", "start", "end",
    "generation", "showInput", "language", "defaultOpen", "autoCollapse",
)  # fmt: skip
_ELEMENT_COLUMNS = (
    "id", "threadId", "type", "url", "chainlitKey", "name", "display", "objectKey", "size",
    "page", "language", "forId", "mime", "props", "autoPlay", "playerConfig",
)  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z"


def _text(value: Any) -> str | None:
    """An id or text as read (PostgreSQL gives UUIDs as objects)."""
    return None if value is None else str(value)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value


class ChainlitSQLLayer:
    """Chainlit's data-layer methods on the ``SQLAlchemyDataLayer`` schema (see the
    module docstring)."""

    def __init__(
        self,
        conninfo: str,
        connect_args: dict[str, Any] | None = None,
        ssl_require: bool = False,
        storage_provider: Any = None,
        user_thread_limit: int | None = 1000,
        show_logger: bool | None = False,
    ) -> None:
        connect_args = dict(connect_args or {})
        if ssl_require:
            # Chainlit's ssl_require: an encrypted connection, the certificate unchecked.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connect_args["ssl"] = context
        self._conninfo = conninfo
        self.engine: AsyncEngine = create_async_engine(
            database_url(conninfo), connect_args=connect_args
        )
        self.storage_provider = storage_provider
        self.user_thread_limit = user_thread_limit or 1000
        self.show_logger = show_logger
        self._columns: dict[str, frozenset[str]] = {}
        self._columns_lock = asyncio.Lock()

    # -- SQL --------------------------------------------------------------------------------

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def _table_columns(self, table: str) -> frozenset[str]:
        if table not in self._columns:
            async with self._columns_lock, self.engine.connect() as conn:
                for name in _TABLES:
                    self._columns[name] = frozenset(await self._read_columns(conn, name))
        return self._columns[table]

    async def _read_columns(self, conn: AsyncConnection, table: str) -> Iterable[str]:
        if self._postgres:
            result = await conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = :table AND table_schema = ANY(current_schemas(false))"
                ),
                {"table": table},
            )
            return [str(row[0]) for row in result]
        result = await conn.execute(text(f"PRAGMA table_info({table})"))
        return [str(row[1]) for row in result]

    async def _rows(self, query: str, parameters: Mapping[str, Any] | None = None) -> list[Any]:
        async with self.engine.connect() as conn:
            result = await conn.execute(text(query), dict(parameters or {}))
            return [row._mapping for row in result]

    async def _run(self, *statements: tuple[str, Mapping[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            for query, parameters in statements:
                await conn.execute(text(query), dict(parameters))

    def _value(self, column: str, value: Any) -> Any:
        """A value as its column takes it on this database."""
        if value is None:
            return None
        if column in _JSON:
            return json.dumps(value)
        if column == "tags":
            return list(value) if self._postgres else json.dumps(list(value))
        return value

    async def _upsert(self, table: str, row: Mapping[str, Any]) -> None:
        """Insert ``row`` into ``table`` or replace the row with its id (the columns the
        table has only)."""
        columns = await self._table_columns(table)
        values = {key: self._value(key, value) for key, value in row.items() if key in columns}
        if "disableFeedback" in columns:  # NOT NULL in Chainlit's older DDL
            values.setdefault("disableFeedback", False)
        names = ", ".join(f'"{key}"' for key in values)
        marks = ", ".join(f":{key}" for key in values)
        updates = ", ".join(f'"{key}" = EXCLUDED."{key}"' for key in values if key != "id")
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        await self._run(
            (f'INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ("id") {action}', values)
        )

    # -- users ------------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> PersistedUser | None:
        rows = await self._rows(
            'SELECT "id", "identifier", "metadata", "createdAt" FROM users '
            'WHERE "identifier" = :identifier',
            {"identifier": identifier},
        )
        if not rows:
            return None
        row = rows[0]
        return PersistedUser(
            identifier=str(row["identifier"]),
            metadata=_json(row["metadata"], {}),
            id=str(row["id"]),
            createdAt=str(row["createdAt"] or ""),
        )

    async def create_user(self, user: User) -> PersistedUser | None:
        metadata = json.dumps(user.metadata or {})
        if await self.get_user(user.identifier) is None:
            await self._run(
                (
                    'INSERT INTO users ("id", "identifier", "metadata", "createdAt") '
                    "VALUES (:id, :identifier, :metadata, :created) "
                    'ON CONFLICT ("identifier") DO NOTHING',
                    {
                        "id": str(uuid.uuid4()),
                        "identifier": user.identifier,
                        "metadata": metadata,
                        "created": _now(),
                    },
                )
            )
        else:
            await self._run(
                (
                    'UPDATE users SET "metadata" = :metadata WHERE "identifier" = :identifier',
                    {"identifier": user.identifier, "metadata": metadata},
                )
            )
        return await self.get_user(user.identifier)

    # -- threads ----------------------------------------------------------------------------

    def _findable(self, *ids: str) -> bool:
        """Whether ids can name a row (PostgreSQL's uuid columns refuse other text)."""
        return not self._postgres or all(_is_uuid(value) for value in ids)

    async def get_thread_author(self, thread_id: str) -> str:
        if not self._findable(thread_id):
            raise ValueError(f"Author not found for thread_id {thread_id}")
        rows = await self._rows(
            'SELECT "userIdentifier" FROM threads WHERE "id" = :id', {"id": thread_id}
        )
        if not rows or rows[0]["userIdentifier"] is None:
            raise ValueError(f"Author not found for thread_id {thread_id}")
        return str(rows[0]["userIdentifier"])

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        rows = await self._rows(
            'SELECT "metadata" FROM threads WHERE "id" = :id', {"id": thread_id}
        )
        exists = bool(rows)
        if exists and name is None and user_id is None and metadata is None and tags is None:
            return
        stored = _json(rows[0]["metadata"], {}) if exists else {}
        merged = {**(stored if isinstance(stored, dict) else {}), **(metadata or {})}
        merged = {key: value for key, value in merged.items() if value is not None}
        row: dict[str, Any] = {"id": thread_id, "metadata": merged}
        if not exists:
            row["createdAt"] = _now()
        if name is not None:
            row["name"] = name
        if tags is not None:
            row["tags"] = tags
        if user_id is not None:
            found = await self._rows(
                'SELECT "identifier" FROM users WHERE "id" = :id', {"id": user_id}
            )
            row["userId"] = user_id
            row["userIdentifier"] = found[0]["identifier"] if found else None
        await self._upsert("threads", row)

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        if not self._findable(thread_id):
            return None
        rows = await self._rows(
            'SELECT "id", "createdAt", "name", "userId", "userIdentifier", "tags", "metadata" '
            'FROM threads WHERE "id" = :id',
            {"id": thread_id},
        )
        threads = await self._threads(rows)
        return threads[0] if threads else None

    async def _threads(self, rows: Sequence[Any]) -> list[ThreadDict]:
        """The threads of these rows with their steps (and feedback) and elements."""
        threads: dict[str, ThreadDict] = {}
        for row in rows:
            tags = _json(row["tags"], [])
            threads[str(row["id"])] = ThreadDict(
                id=str(row["id"]),
                createdAt=str(row["createdAt"] or ""),
                name=row["name"],
                userId=_text(row["userId"]),
                userIdentifier=row["userIdentifier"],
                tags=list(tags) if isinstance(tags, list | tuple) else [],
                metadata=_json(row["metadata"], {}),
                steps=[],
                elements=[],
            )
        if not threads:
            return []
        marks = ", ".join(f":t{i}" for i in range(len(threads)))
        ids = {f"t{i}": thread_id for i, thread_id in enumerate(threads)}
        for step in await self._steps(f's."threadId" IN ({marks})', ids):
            threads[step["threadId"]]["steps"].append(step)
        columns = await self._table_columns("elements")
        for row in await self._rows(f'SELECT * FROM elements WHERE "threadId" IN ({marks})', ids):
            element = await self._element(row, columns)
            elements = threads[str(row["threadId"])]["elements"]
            assert elements is not None
            elements.append(element)
        return list(threads.values())

    async def _steps(self, where: str, parameters: Mapping[str, Any]) -> list[StepDict]:
        rows = await self._rows(
            'SELECT s.*, f."id" AS "feedbackId", f."value" AS "feedbackValue", '
            'f."comment" AS "feedbackComment" FROM steps s '
            f'LEFT JOIN feedbacks f ON f."forId" = s."id" WHERE {where} '
            'ORDER BY s."createdAt", s."id"',
            parameters,
        )
        steps: list[StepDict] = []
        for row in rows:
            step: dict[str, Any] = {
                key: row[key]
                for key in _STEP_COLUMNS
                if key in row and key not in ("metadata", "generation", "tags")
            }
            for key in ("id", "threadId", "parentId"):
                step[key] = _text(row[key])
            step["metadata"] = _json(row["metadata"], {})
            step["generation"] = _json(row["generation"], None) or None
            step["tags"] = _json(row["tags"], None) if "tags" in row else None
            step["streaming"] = bool(row["streaming"])
            step["feedback"] = None
            if row["feedbackValue"] is not None:
                step["feedback"] = FeedbackDict(
                    forId=str(row["id"]),
                    id=_text(row["feedbackId"]),
                    value=1 if row["feedbackValue"] else 0,
                    comment=row["feedbackComment"],
                )
            steps.append(cast(StepDict, step))
        return steps

    async def _element(self, row: Any, columns: frozenset[str]) -> ElementDict:
        element: dict[str, Any] = {
            key: row[key]
            for key in _ELEMENT_COLUMNS
            if key in columns and key not in ("props", "playerConfig")
        }
        for column in ("id", "threadId", "forId"):
            element[column] = _text(row[column])
        element["props"] = _json(row["props"], {}) if "props" in columns else {}
        if "playerConfig" in columns:
            element["playerConfig"] = _json(row["playerConfig"], None)
        object_key = element.get("objectKey")
        ours = isinstance(element["props"], dict) and "lightchat" in element["props"]
        if object_key and self.storage_provider is not None and not ours:
            # A fresh link to the file, as Chainlit's layer gives (the stored one may expire).
            with contextlib.suppress(Exception):  # else the stored link
                element["url"] = await self.storage_provider.get_read_url(object_key=object_key)
        return cast(ElementDict, element)

    async def delete_thread(self, thread_id: str) -> None:
        await self._delete_files('"threadId" = :id', {"id": thread_id})
        parameters = {"id": thread_id}
        await self._run(
            (
                'DELETE FROM feedbacks WHERE "forId" IN '
                '(SELECT "id" FROM steps WHERE "threadId" = :id)',
                parameters,
            ),
            ('DELETE FROM elements WHERE "threadId" = :id', parameters),
            ('DELETE FROM steps WHERE "threadId" = :id', parameters),
            ('DELETE FROM threads WHERE "id" = :id', parameters),
        )

    async def _delete_files(self, where: str, parameters: Mapping[str, Any]) -> None:
        """Delete from the storage provider the files of the elements it keeps."""
        if self.storage_provider is None:
            return
        columns = await self._table_columns("elements")
        for row in await self._rows(f"SELECT * FROM elements WHERE {where}", parameters):
            element = await self._element(row, columns)
            props = element.get("props") or {}
            if element.get("objectKey") and "lightchat" not in props:
                await self.storage_provider.delete_file(object_key=element["objectKey"])

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        if not filters.userId:
            raise ValueError("userId is required")
        where = ['t."userId" = :user']
        parameters: dict[str, Any] = {"user": filters.userId, "limit": self.user_thread_limit}
        if filters.search:
            like = "%" + filters.search.lower().replace("\\", "").replace("%", "") + "%"
            parameters["search"] = like
            where.append(
                "(LOWER(COALESCE(t.\"name\", '')) LIKE :search OR EXISTS (SELECT 1 FROM steps s "
                'WHERE s."threadId" = t."id" AND LOWER(COALESCE(s."output", \'\')) LIKE :search))'
            )
        if filters.feedback is not None:
            parameters["feedback"] = int(filters.feedback)
            where.append(
                'EXISTS (SELECT 1 FROM feedbacks f WHERE f."threadId" = t."id" '
                'AND f."value" = :feedback)'
            )
        rows = await self._rows(
            'SELECT t."id", t."createdAt", t."name", t."userId", t."userIdentifier", t."tags", '
            't."metadata", COALESCE((SELECT MAX(s."createdAt") FROM steps s '
            'WHERE s."threadId" = t."id"), t."createdAt") AS "activity" FROM threads t '
            f"WHERE {' AND '.join(where)} "
            'ORDER BY "activity" DESC, t."id" DESC LIMIT :limit',
            parameters,
        )
        start = 0
        if pagination.cursor:
            for index, row in enumerate(rows):
                if str(row["id"]) == pagination.cursor:
                    start = index + 1
                    break
        end = start + pagination.first
        page = await self._threads(rows[start:end])
        return PaginatedResponse(
            pageInfo=PageInfo(
                hasNextPage=len(rows) > end,
                startCursor=page[0]["id"] if page else None,
                endCursor=page[-1]["id"] if page else None,
            ),
            data=page,
        )

    # -- steps ------------------------------------------------------------------------------

    async def create_step(self, step_dict: StepDict) -> None:
        await self.update_thread(step_dict["threadId"])  # the thread exists first
        row: dict[str, Any] = {key: value for key, value in step_dict.items() if value is not None}
        if step_dict.get("showInput") is not None:
            row["showInput"] = str(step_dict.get("showInput")).lower()
        row.setdefault("metadata", {})
        row.setdefault("streaming", False)
        row.setdefault("createdAt", _now())
        await self._upsert("steps", row)

    async def update_step(self, step_dict: StepDict) -> None:
        await self.create_step(step_dict)

    async def delete_step(self, step_id: str) -> None:
        await self._delete_files('"forId" = :id', {"id": step_id})
        parameters = {"id": step_id}
        await self._run(
            ('DELETE FROM feedbacks WHERE "forId" = :id', parameters),
            ('DELETE FROM elements WHERE "forId" = :id', parameters),
            ('DELETE FROM steps WHERE "id" = :id', parameters),
        )

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        steps = await self._steps(
            's."threadId" IN (SELECT t."id" FROM threads t WHERE t."userId" = :user)',
            {"user": user_id},
        )
        favourites = [step for step in steps if (step.get("metadata") or {}).get("favorite")]
        favourites.sort(key=lambda step: step.get("createdAt") or "", reverse=True)
        return favourites

    # -- feedback ---------------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        feedback.id = feedback.id or str(uuid.uuid4())
        thread_id = feedback.threadId
        if thread_id is None:
            found = await self._rows(
                'SELECT "threadId" FROM steps WHERE "id" = :id', {"id": feedback.forId}
            )
            thread_id = _text(found[0]["threadId"]) if found else None
        await self._upsert(
            "feedbacks",
            {
                "id": feedback.id,
                "forId": feedback.forId,
                "threadId": thread_id,
                "value": int(feedback.value),
                "comment": feedback.comment,
            },
        )
        return feedback.id

    async def delete_feedback(self, feedback_id: str) -> bool:
        await self._run(('DELETE FROM feedbacks WHERE "id" = :id', {"id": feedback_id}))
        return True

    # -- elements ---------------------------------------------------------------------------

    async def create_element(self, element: Any) -> None:
        row: dict[str, Any] = dict(element.to_dict())
        row["threadId"] = row.get("threadId") or getattr(element, "thread_id", None)
        content: bytes | str | None = getattr(element, "content", None)
        path = getattr(element, "path", None)
        if not row.get("objectKey") and (content is not None or path):
            if self.storage_provider is None:
                return  # nowhere to keep the bytes (as Chainlit's layer, which warns at start)
            if content is None:
                content = await asyncio.to_thread(Path(str(path)).read_bytes)
            owner = await self._rows(
                'SELECT "userId" FROM threads WHERE "id" = :id', {"id": row["threadId"]}
            )
            user = _text(owner[0]["userId"]) if owner else None
            key = f"{user or 'unknown'}/{row['id']}" + (
                f"/{row['name']}" if row.get("name") else ""
            )
            uploaded = await self.storage_provider.upload_file(
                object_key=key,
                data=content,
                mime=row.get("mime") or "application/octet-stream",
                overwrite=True,
            )
            row["url"] = uploaded.get("url")
            row["objectKey"] = uploaded.get("object_key")
        await self._upsert("elements", {k: v for k, v in row.items() if v is not None})

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        if not self._findable(thread_id, element_id):
            return None
        rows = await self._rows(
            'SELECT * FROM elements WHERE "threadId" = :thread AND "id" = :id',
            {"thread": thread_id, "id": element_id},
        )
        if not rows:
            return None
        return await self._element(rows[0], await self._table_columns("elements"))

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        await self._delete_files('"id" = :id', {"id": element_id})
        await self._run(('DELETE FROM elements WHERE "id" = :id', {"id": element_id}))

    # -- the rest ---------------------------------------------------------------------------

    async def build_debug_url(self) -> str:
        return ""

    async def ping(self) -> None:
        """Run the smallest query: raises when the database does not answer."""
        await self._rows("SELECT 1")

    async def close(self) -> None:
        if self.storage_provider is not None and callable(
            getattr(self.storage_provider, "close", None)
        ):
            await self.storage_provider.close()
        await self.engine.dispose()
