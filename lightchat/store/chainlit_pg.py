"""Chainlit's official PostgreSQL data layer (``DATABASE_URL``) on the database Chainlit
made for it: the tables of its Prisma schema, ``"User"``, ``"Thread"``, ``"Step"``,
``"Element"`` and ``"Feedback"``, with their camel-case columns quoted.

A team that served its app with Chainlit keeps its history: with ``DATABASE_URL`` set (and
no ``@data_layer``), lightchat's history reads these tables and writes to them as
Chainlit's layer does, so Chainlit could serve the app again on the same database.

What the schema holds, as Chainlit writes it: ids as text (UUIDs), times as timestamps
without a zone (UTC here), ``metadata`` as JSON, a step's type one of the ``"StepType"``
values (an error message is an ``assistant_message`` with ``isError``), a feedback's value
a number on its step (``"stepId"``), an element's type in its ``metadata``. A thread's
``"updatedAt"`` moves with its steps, and threads listed newest first by it; a thread with
``"deletedAt"`` set is gone. The schema has no column for a step's language or
generation, nor for a message still streaming: lightchat keeps what it needs of them in
the step's metadata (``lightchat.store.chainlit_layer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
from lightchat.store.engine import database_url as engine_url

__all__ = ["ChainlitDatabase"]

#: The values of the schema's "StepType".
STEP_TYPES = frozenset(
    {
        "assistant_message", "embedding", "llm", "retrieval", "rerank", "run",
        "system_message", "tool", "undefined", "user_message",
    }
)  # fmt: skip


def _now() -> datetime:
    """Now, as the schema's zone-less timestamps hold it (UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _moment(value: Any) -> datetime | None:
    """A step dict's time (ISO text) as a zone-less UTC timestamp."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return moment.isoformat() + "Z"


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class ChainlitDatabase:
    """Chainlit's data-layer methods on its official schema (see the module docstring).

    ``database_url`` is the ``DATABASE_URL`` Chainlit uses (``postgresql://...``);
    ``storage_client`` (Chainlit's ``BaseStorageClient`` shape) keeps the bytes of
    elements given with ``content`` or a ``path``, under ``threads/<thread>/files/<id>``;
    ``close`` closes it, unless ``close_storage`` is False (the app's own file storage,
    which its lifespan closes once, last).
    """

    def __init__(
        self, database_url: str, storage_client: Any = None, *, close_storage: bool = True
    ) -> None:
        self.engine: AsyncEngine = create_async_engine(engine_url(database_url))
        self.storage_client = storage_client
        self.close_storage = close_storage
        self._columns: dict[str, frozenset[str]] = {}

    async def _rows(self, query: str, parameters: Mapping[str, Any] | None = None) -> list[Any]:
        async with self.engine.connect() as conn:
            result = await conn.execute(text(query), dict(parameters or {}))
            return [row._mapping for row in result] if result.returns_rows else []

    async def _run(self, *statements: tuple[str, Mapping[str, Any]]) -> list[Any]:
        """Run statements in one transaction; the rows the last one returns."""
        rows: list[Any] = []
        async with self.engine.begin() as conn:
            for query, parameters in statements:
                result = await conn.execute(text(query), dict(parameters))
                rows = [row._mapping for row in result] if result.returns_rows else []
        return rows

    async def _has_column(self, table: str, column: str) -> bool:
        if table not in self._columns:
            rows = await self._rows(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :table "
                "AND table_schema = ANY(current_schemas(false))",
                {"table": table},
            )
            self._columns[table] = frozenset(str(row["column_name"]) for row in rows)
        return column in self._columns[table]

    # -- users ------------------------------------------------------------------------------

    @staticmethod
    def _user(row: Any) -> PersistedUser:
        return PersistedUser(
            identifier=str(row["identifier"]),
            metadata=_json(row["metadata"], {}),
            id=str(row["id"]),
            createdAt=_iso(row["createdAt"]) or "",
        )

    async def get_user(self, identifier: str) -> PersistedUser | None:
        rows = await self._rows(
            'SELECT * FROM "User" WHERE identifier = :identifier', {"identifier": identifier}
        )
        return self._user(rows[0]) if rows else None

    async def create_user(self, user: User) -> PersistedUser | None:
        now = _now()
        rows = await self._run(
            (
                'INSERT INTO "User" (id, identifier, metadata, "createdAt", "updatedAt") '
                "VALUES (:id, :identifier, :metadata, :now, :now) "
                "ON CONFLICT (identifier) DO UPDATE SET metadata = EXCLUDED.metadata, "
                '"updatedAt" = EXCLUDED."updatedAt" RETURNING *',
                {
                    "id": str(uuid.uuid4()),
                    "identifier": user.identifier,
                    "metadata": json.dumps(user.metadata or {}),
                    "now": now,
                },
            )
        )
        return self._user(rows[0])

    # -- threads ----------------------------------------------------------------------------

    async def get_thread_author(self, thread_id: str) -> str:
        rows = await self._rows(
            'SELECT u.identifier FROM "Thread" t JOIN "User" u ON t."userId" = u.id '
            'WHERE t.id = :id AND t."deletedAt" IS NULL',
            {"id": thread_id},
        )
        if not rows:
            raise ValueError(f"Thread {thread_id} not found")
        return str(rows[0]["identifier"])

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        rows = await self._rows('SELECT metadata FROM "Thread" WHERE id = :id', {"id": thread_id})
        if rows and name is None and user_id is None and metadata is None and tags is None:
            return
        stored = _json(rows[0]["metadata"], {}) if rows else {}
        merged = {**(stored if isinstance(stored, dict) else {}), **(metadata or {})}
        row: dict[str, Any] = {
            "id": thread_id,
            "metadata": json.dumps({k: v for k, v in merged.items() if v is not None}),
            "updatedAt": _now(),
        }
        if not rows:
            row["createdAt"] = row["updatedAt"]
        if name is not None:
            row["name"] = name
        if user_id is not None:
            row["userId"] = user_id
        if tags is not None and await self._has_column("Thread", "tags"):
            row["tags"] = list(tags)
        names = ", ".join(f'"{key}"' for key in row)
        marks = ", ".join(f":{key}" for key in row)
        updates = ", ".join(f'"{key}" = EXCLUDED."{key}"' for key in row if key != "id")
        await self._run(
            (f'INSERT INTO "Thread" ({names}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE '
             f"SET {updates}", row)
        )  # fmt: skip

    def _thread(self, row: Any) -> ThreadDict:
        tags = row.get("tags")
        return ThreadDict(
            id=str(row["id"]),
            createdAt=_iso(row["createdAt"]) or "",
            name=row["name"],
            userId=_text(row["userId"]),
            userIdentifier=row["user_identifier"],
            tags=list(tags) if isinstance(tags, list) else [],
            metadata=_json(row["metadata"], {}),
            steps=[],
            elements=[],
        )

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        rows = await self._rows(
            'SELECT t.*, u.identifier AS user_identifier FROM "Thread" t '
            'LEFT JOIN "User" u ON t."userId" = u.id WHERE t.id = :id AND t."deletedAt" IS NULL',
            {"id": thread_id},
        )
        if not rows:
            return None
        thread = self._thread(rows[0])
        thread["steps"] = await self._steps('s."threadId" = :id', {"id": thread_id})
        elements = await self._rows(
            'SELECT * FROM "Element" WHERE "threadId" = :id ORDER BY "createdAt"',
            {"id": thread_id},
        )
        thread["elements"] = [await self._element(row) for row in elements]
        return thread

    async def _steps(self, where: str, parameters: Mapping[str, Any]) -> list[StepDict]:
        rows = await self._rows(
            "SELECT s.*, f.id AS feedback_id, f.value AS feedback_value, "
            'f.comment AS feedback_comment FROM "Step" s '
            f'LEFT JOIN "Feedback" f ON f."stepId" = s.id WHERE {where} '
            'ORDER BY s."startTime", s."createdAt", s.id',
            parameters,
        )
        steps: list[StepDict] = []
        for row in rows:
            feedback = None
            if row["feedback_id"] is not None and row["feedback_value"] is not None:
                feedback = FeedbackDict(
                    forId=str(row["id"]),
                    id=str(row["feedback_id"]),
                    value=1 if row["feedback_value"] > 0 else 0,
                    comment=row["feedback_comment"],
                )
            steps.append(
                StepDict(
                    id=str(row["id"]),
                    threadId=str(row["threadId"] or ""),
                    parentId=_text(row["parentId"]),
                    name=str(row["name"] or ""),
                    type=str(row["type"]),
                    input=row["input"] or "",
                    output=row["output"] or "",
                    metadata=_json(row["metadata"], {}),
                    createdAt=_iso(row["createdAt"]),
                    start=_iso(row["startTime"]),
                    end=_iso(row["endTime"]),
                    showInput=row["showInput"],
                    isError=row["isError"],
                    feedback=feedback,
                )
            )
        return steps

    async def _element(self, row: Any) -> ElementDict:
        metadata = _json(row["metadata"], {})
        url = row["url"]
        if not url and row["objectKey"] and self.storage_client is not None:
            with contextlib.suppress(Exception):  # no link, then
                url = await self.storage_client.get_read_url(object_key=row["objectKey"])
        return ElementDict(
            id=str(row["id"]),
            threadId=_text(row["threadId"]),
            type=str(metadata.get("type") or "file"),
            url=url,
            name=str(row["name"]),
            mime=row["mime"],
            objectKey=row["objectKey"],
            forId=_text(row["stepId"]),
            chainlitKey=row["chainlitKey"],
            display=str(row["display"] or "inline"),
            size=row["size"],
            language=row["language"],
            page=row["page"],
            props=_json(row["props"], {}) or {},
        )

    async def delete_thread(self, thread_id: str) -> None:
        if self.storage_client is not None:
            rows = await self._rows(
                'SELECT "objectKey", props FROM "Element" WHERE "threadId" = :id',
                {"id": thread_id},
            )
            for row in rows:
                if row["objectKey"] and "lightchat" not in (_json(row["props"], {}) or {}):
                    await self.storage_client.delete_file(object_key=row["objectKey"])
        parameters = {"id": thread_id}
        await self._run(
            ('DELETE FROM "Feedback" WHERE "stepId" IN (SELECT id FROM "Step" '
             'WHERE "threadId" = :id)', parameters),
            ('DELETE FROM "Thread" WHERE id = :id', parameters),
        )  # fmt: skip

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        where = ['t."deletedAt" IS NULL']
        parameters: dict[str, Any] = {"limit": pagination.first + 1}
        if filters.userId:
            where.append('t."userId" = :user')
            parameters["user"] = filters.userId
        if filters.search:
            parameters["search"] = f"%{filters.search}%"
            where.append(
                '(t.name ILIKE :search OR EXISTS (SELECT 1 FROM "Step" s '
                'WHERE s."threadId" = t.id AND s.output ILIKE :search))'
            )
        if filters.feedback is not None:
            parameters["feedback"] = float(filters.feedback)
            where.append(
                'EXISTS (SELECT 1 FROM "Feedback" f JOIN "Step" s ON f."stepId" = s.id '
                'WHERE s."threadId" = t.id AND f.value = :feedback)'
            )
        if pagination.cursor:
            parameters["cursor"] = pagination.cursor
            where.append(
                '(t."updatedAt", t.id) < (SELECT c."updatedAt", c.id FROM "Thread" c '
                "WHERE c.id = :cursor)"
            )
        rows = await self._rows(
            'SELECT t.*, u.identifier AS user_identifier FROM "Thread" t '
            f'LEFT JOIN "User" u ON t."userId" = u.id WHERE {" AND ".join(where)} '
            'ORDER BY t."updatedAt" DESC, t.id DESC LIMIT :limit',
            parameters,
        )
        threads = [self._thread(row) for row in rows[: pagination.first]]
        return PaginatedResponse(
            pageInfo=PageInfo(
                hasNextPage=len(rows) > pagination.first,
                startCursor=threads[0]["id"] if threads else None,
                endCursor=threads[-1]["id"] if threads else None,
            ),
            data=threads,
        )

    # -- steps ------------------------------------------------------------------------------

    async def create_step(self, step_dict: StepDict) -> None:
        thread_id = step_dict.get("threadId")
        now = _now()
        created = _moment(step_dict.get("createdAt")) or now
        statements: list[tuple[str, Mapping[str, Any]]] = []
        if thread_id:
            # The thread exists first (as Chainlit's layer makes it), and counts as updated.
            statements.append(
                (
                    'INSERT INTO "Thread" (id, metadata, "createdAt", "updatedAt") '
                    "VALUES (:id, '{}', :now, :now) "
                    'ON CONFLICT (id) DO UPDATE SET "updatedAt" = EXCLUDED."updatedAt"',
                    {"id": thread_id, "now": now},
                )
            )
        parent = step_dict.get("parentId")
        if parent:
            # A parent not written yet is held by a placeholder run, as in Chainlit's layer.
            statements.append(
                (
                    'INSERT INTO "Step" (id, "threadId", metadata, type, "startTime", '
                    "\"endTime\", \"createdAt\") VALUES (:id, :thread, '{}', 'run', :at, :at, "
                    ":at) ON CONFLICT (id) DO NOTHING",
                    {"id": parent, "thread": thread_id, "at": created},
                )
            )
        kind = str(step_dict.get("type") or "undefined")
        is_error = bool(step_dict.get("isError"))
        if kind not in STEP_TYPES:
            is_error = is_error or kind == "error"
            kind = (
                "assistant_message" if kind.endswith("message") or kind == "error" else "undefined"
            )
        show_input = step_dict.get("showInput")
        row = {
            "id": step_dict["id"],
            "threadId": thread_id,
            "parentId": parent,
            "input": step_dict.get("input") or "",
            "metadata": json.dumps(step_dict.get("metadata") or {}),
            "name": step_dict.get("name"),
            "output": step_dict.get("output") or "",
            "type": kind,
            "startTime": _moment(step_dict.get("start")) or created,
            "endTime": _moment(step_dict.get("end")) or _moment(step_dict.get("start")) or created,
            "showInput": "json" if show_input is None else str(show_input).lower(),
            "isError": is_error,
            "createdAt": created,
            "updatedAt": now,
        }
        names = ", ".join(f'"{key}"' for key in row)
        marks = ", ".join(
            f'CAST(:{key} AS "StepType")' if key == "type" else f":{key}" for key in row
        )
        updates = ", ".join(f'"{key}" = EXCLUDED."{key}"' for key in row if key != "id")
        statements.append(
            (
                f'INSERT INTO "Step" ({names}) VALUES ({marks}) '
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                row,
            )
        )
        await self._run(*statements)

    async def update_step(self, step_dict: StepDict) -> None:
        await self.create_step(step_dict)

    async def delete_step(self, step_id: str) -> None:
        parameters = {"id": step_id}
        await self._run(
            ('DELETE FROM "Element" WHERE "stepId" = :id', parameters),
            ('DELETE FROM "Feedback" WHERE "stepId" = :id', parameters),
            ('DELETE FROM "Step" WHERE id = :id', parameters),
        )

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        steps = await self._steps(
            's."threadId" IN (SELECT t.id FROM "Thread" t WHERE t."userId" = :user '
            "AND t.\"deletedAt\" IS NULL) AND s.metadata->>'favorite' = 'true'",
            {"user": user_id},
        )
        steps.sort(key=lambda step: step.get("createdAt") or "", reverse=True)
        return steps

    # -- feedback ---------------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        rows = await self._run(
            (
                'INSERT INTO "Feedback" (id, "stepId", name, value, comment, "updatedAt") '
                "VALUES (:id, :step, 'user_feedback', :value, :comment, :now) "
                "ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, "
                'comment = EXCLUDED.comment, "updatedAt" = EXCLUDED."updatedAt" RETURNING id',
                {
                    "id": feedback.id or str(uuid.uuid4()),
                    "step": feedback.forId,
                    "value": float(feedback.value),
                    "comment": feedback.comment,
                    "now": _now(),
                },
            )
        )
        return str(rows[0]["id"])

    async def delete_feedback(self, feedback_id: str) -> bool:
        await self._run(('DELETE FROM "Feedback" WHERE id = :id', {"id": feedback_id}))
        return True

    # -- elements ---------------------------------------------------------------------------

    async def create_element(self, element: Any) -> None:
        if not getattr(element, "for_id", None):
            return
        data: dict[str, Any] = dict(element.to_dict())
        thread_id = data.get("threadId") or getattr(element, "thread_id", None)
        object_key = data.get("objectKey")
        content: bytes | str | None = getattr(element, "content", None)
        path = getattr(element, "path", None)
        if not object_key and self.storage_client is not None and (content is not None or path):
            if content is None:
                content = await asyncio.to_thread(Path(str(path)).read_bytes)
            object_key = (
                f"threads/{thread_id}/files/{data['id']}" if thread_id else f"files/{data['id']}"
            )
            await self.storage_client.upload_file(
                object_key=object_key,
                data=content,
                mime=data.get("mime") or "application/octet-stream",
                overwrite=True,
            )
        metadata = {
            "size": data.get("size"),
            "language": data.get("language"),
            "display": data.get("display"),
            "type": data.get("type"),
            "page": data.get("page"),
        }
        row = {
            "id": data["id"],
            "threadId": thread_id,
            "stepId": data.get("forId") or element.for_id,
            "metadata": json.dumps(metadata),
            "mime": data.get("mime"),
            "name": data.get("name") or "",
            "objectKey": object_key,
            "url": data.get("url"),
            "chainlitKey": data.get("chainlitKey"),
            "display": data.get("display"),
            "size": data.get("size"),
            "language": data.get("language"),
            "page": data.get("page"),
            "props": json.dumps(data.get("props") or {}),
        }
        names = ", ".join(f'"{key}"' for key in row)
        marks = ", ".join(f":{key}" for key in row)
        updates = ", ".join(f'"{key}" = EXCLUDED."{key}"' for key in row if key != "id")
        await self._run(
            (f'INSERT INTO "Element" ({names}) VALUES ({marks}) '
             f"ON CONFLICT (id) DO UPDATE SET {updates}", row)
        )  # fmt: skip

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        rows = await self._rows(
            'SELECT * FROM "Element" WHERE id = :id AND "threadId" = :thread',
            {"id": element_id, "thread": thread_id},
        )
        return await self._element(rows[0]) if rows else None

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        rows = await self._rows(
            'SELECT "objectKey", props FROM "Element" WHERE id = :id', {"id": element_id}
        )
        ours = rows and "lightchat" in (_json(rows[0]["props"], {}) or {})
        if rows and rows[0]["objectKey"] and self.storage_client is not None and not ours:
            await self.storage_client.delete_file(object_key=rows[0]["objectKey"])
        await self._run(('DELETE FROM "Element" WHERE id = :id', {"id": element_id}))

    # -- the rest ---------------------------------------------------------------------------

    async def build_debug_url(self) -> str:
        return ""

    async def ping(self) -> None:
        """Run the smallest query: raises when the database does not answer."""
        await self._rows("SELECT 1")

    async def close(self) -> None:
        close = getattr(self.storage_client, "close", None) if self.close_storage else None
        if callable(close):
            await close()
        await self.engine.dispose()
