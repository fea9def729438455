"""Chainlit's ``chainlit.data.dynamodb`` under its lightchat path: ``DynamoDBDataLayer``,
the history in one DynamoDB table laid out as Chainlit lays it out (``lightchat[s3]``:
boto3), so a table Chainlit's layer filled is read and written as it is::

    from lightchat.data.dynamodb import DynamoDBDataLayer

    @cl.data_layer
    def get_data_layer():
        return DynamoDBDataLayer(table_name="chat", storage_provider=S3StorageClient(...))

The table: a partition key ``PK`` and a sort key ``SK`` (both strings), and a global
secondary index ``UserThread`` on ``UserThreadPK`` and ``UserThreadSK`` (strings, all
attributes projected). Items: ``USER#<identifier>``/``USER`` (a user), ``THREAD#<id>``/
``THREAD`` (a thread, listed in its user's index by the time of its last change),
``THREAD#<id>``/``STEP#<id>`` (a step, its feedback inside it) and ``THREAD#<id>``/
``ELEMENT#<id>`` (an element; its file in ``storage_provider``, or already in the app's file
storage under ``objectKey``).

Where it differs from Chainlit's: the search of ``list_threads`` looks in the threads' names
and messages, case ignored (Chainlit's, in names only, minds case); a thread's
``createdAt`` is kept when it changes (Chainlit's is rewritten); ``update_thread`` without
metadata leaves the metadata alone; an element given by URL keeps its URL (it is not
fetched); an element of the whole thread (no ``forId``) is kept too; a step or element
removed without its thread is found by its key.

boto3's calls block: each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from lightchat.data import BaseDataLayer
from lightchat.domain.types import (
    Feedback,
    PageInfo,
    PaginatedResponse,
    Pagination,
    ThreadDict,
    ThreadFilter,
)
from lightchat.domain.user import PersistedUser, User

if TYPE_CHECKING:
    from lightchat.api.elements import Element
    from lightchat.domain.types import ElementDict, StepDict
    from lightchat.storage import BaseStorageClient

__all__ = ["DynamoDBDataLayer"]

_BATCH = 25
"""The most items one ``batch_write_item`` takes."""

_INTERNAL = ("PK", "SK", "UserThreadPK", "UserThreadSK")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # to the microsecond, as Chainlit


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(item) for item in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(item) for item in value]
    if isinstance(value, set):
        return [_from_dynamo(item) for item in value]
    return value


class DynamoDBDataLayer(BaseDataLayer):
    """Chainlit's DynamoDB data layer: ``table_name``; ``client``, a boto3 DynamoDB
    client (else one for ``AWS_REGION``, ``us-east-1`` by default); ``storage_provider``,
    a storage client for the files of elements given as bytes or a path;
    ``user_thread_limit``, how many threads a page lists at most."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        storage_provider: BaseStorageClient | None = None,
        user_thread_limit: int = 10,
    ) -> None:
        if client is None:
            client = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"))
        self.client = client
        self.table_name = table_name
        self.storage_provider = storage_provider
        self.user_thread_limit = user_thread_limit
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    # -- items ------------------------------------------------------------------------------

    def _item(self, values: dict[str, Any]) -> dict[str, Any]:
        return {
            key: self._serializer.serialize(_to_dynamo(value))
            for key, value in values.items()
            if value is not None
        }

    def _plain(self, item: dict[str, Any]) -> dict[str, Any]:
        return {key: _from_dynamo(self._deserializer.deserialize(v)) for key, v in item.items()}

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    async def _call(self, method: str, **arguments: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), **arguments)

    async def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = await self._call("get_item", TableName=self.table_name, Key=self._key(pk, sk))
        item = found.get("Item")
        return None if item is None else self._plain(item)

    async def _set(
        self, pk: str, sk: str, values: dict[str, Any], *, keep: tuple[str, ...] = ()
    ) -> None:
        """Set these attributes of an item (made if missing); None values are left alone,
        and the ``keep`` ones are set only where the item has none yet."""
        parts, names, data = [], {}, {}
        for index, (name, value) in enumerate(values.items()):
            if value is None:
                continue
            names[f"#a{index}"] = name
            data[f":v{index}"] = self._serializer.serialize(_to_dynamo(value))
            if name in keep:
                parts.append(f"#a{index} = if_not_exists(#a{index}, :v{index})")
            else:
                parts.append(f"#a{index} = :v{index}")
        if not parts:
            return
        await self._call(
            "update_item",
            TableName=self.table_name,
            Key=self._key(pk, sk),
            UpdateExpression="SET " + ", ".join(parts),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=data,
        )

    async def _query(self, **arguments: Any) -> list[dict[str, Any]]:
        """Every item a query finds, page after page."""
        items: list[dict[str, Any]] = []
        while True:
            found = await self._call("query", TableName=self.table_name, **arguments)
            items.extend(self._plain(item) for item in found.get("Items", []))
            if "LastEvaluatedKey" not in found:
                return items
            arguments["ExclusiveStartKey"] = found["LastEvaluatedKey"]

    async def _thread_of(self, sort_key: str) -> str | None:
        """The thread of the step or element with this sort key, looked up by the key."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#sk = :sk",
            "ExpressionAttributeNames": {"#sk": "SK"},
            "ExpressionAttributeValues": {":sk": {"S": sort_key}},
            "ProjectionExpression": "PK",
        }
        while True:
            found = await self._call("scan", **arguments)
            for item in found.get("Items", []):
                return str(item["PK"]["S"]).removeprefix("THREAD#")
            if "LastEvaluatedKey" not in found:
                return None
            arguments["ExclusiveStartKey"] = found["LastEvaluatedKey"]

    # -- users ------------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> PersistedUser | None:
        """The stored user with this identifier (its id is the identifier)."""
        user = await self._get(f"USER#{identifier}", "USER")
        if user is None:
            return None
        return PersistedUser(
            id=user["id"],
            identifier=user["identifier"],
            createdAt=user["createdAt"],
            metadata=user.get("metadata") or {},
        )

    async def create_user(self, user: User) -> PersistedUser | None:
        """Store a user, or find it stored."""
        found = await self.get_user(user.identifier)
        if found is not None:
            return found
        created = _now()
        item = {
            "PK": f"USER#{user.identifier}",
            "SK": "USER",
            "id": user.identifier,
            "identifier": user.identifier,
            "metadata": user.metadata or {},
            "createdAt": created,
        }
        await self._call("put_item", TableName=self.table_name, Item=self._item(item))
        return PersistedUser(
            id=user.identifier,
            identifier=user.identifier,
            createdAt=created,
            metadata=user.metadata or {},
        )

    # -- feedback ---------------------------------------------------------------------------

    async def upsert_feedback(self, feedback: Feedback) -> str:
        """Keep the feedback in its step; its id names both (``THREAD#<t>::STEP#<s>``)."""
        if not feedback.forId or not feedback.threadId:
            raise ValueError("DynamoDB feedback needs the step (forId) and its thread (threadId).")
        feedback.id = f"THREAD#{feedback.threadId}::STEP#{feedback.forId}"
        await self._set(
            f"THREAD#{feedback.threadId}", f"STEP#{feedback.forId}", {"feedback": asdict(feedback)}
        )
        return feedback.id

    async def delete_feedback(self, feedback_id: str) -> bool:
        """Take a feedback off its step."""
        thread, _, step = feedback_id.partition("::")
        if not thread.startswith("THREAD#") or not step.startswith("STEP#"):
            return False
        await self._call(
            "update_item",
            TableName=self.table_name,
            Key=self._key(thread, step),
            UpdateExpression="REMOVE #feedback",
            ExpressionAttributeNames={"#feedback": "feedback"},
        )
        return True

    # -- elements ---------------------------------------------------------------------------

    async def create_element(self, element: Element) -> None:
        """Keep an element of a thread (of one of its steps, or of the whole thread); its
        bytes (``content`` or ``path``) go to the storage provider under
        ``<user>/<thread>/<element>``."""
        if not getattr(element, "thread_id", None):
            return
        content: bytes | str | None = getattr(element, "content", None)
        path = getattr(element, "path", None)
        if content is None and path:
            content = await asyncio.to_thread(Path(path).read_bytes)
        data: dict[str, Any] = dict(element.to_dict())  # type: ignore[attr-defined]
        if content is not None:
            if self.storage_provider is None:
                raise ValueError("DynamoDBDataLayer needs a storage_provider to keep files.")
            owner = await self._author(str(data["threadId"])) or "unknown"
            uploaded = await self.storage_provider.upload_file(
                object_key=f"{owner}/{data['threadId']}/{data['id']}",
                data=content,
                mime=data.get("mime") or "application/octet-stream",
                overwrite=True,
            )
            data["url"] = uploaded.get("url")
            data["objectKey"] = uploaded.get("object_key")
        data.update({"PK": f"THREAD#{data['threadId']}", "SK": f"ELEMENT#{data['id']}"})
        await self._call("put_item", TableName=self.table_name, Item=self._item(data))

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        """An element of a thread."""
        found = await self._get(f"THREAD#{thread_id}", f"ELEMENT#{element_id}")
        return None if found is None else cast("ElementDict", self._public(found))

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        """Remove an element (its file stays where it is)."""
        thread_id = thread_id or await self._thread_of(f"ELEMENT#{element_id}")
        if thread_id is None:
            return
        await self._call(
            "delete_item",
            TableName=self.table_name,
            Key=self._key(f"THREAD#{thread_id}", f"ELEMENT#{element_id}"),
        )

    # -- steps ------------------------------------------------------------------------------

    async def create_step(self, step_dict: StepDict) -> None:
        """Keep a new step (a message is a step)."""
        item = {
            **step_dict,
            "PK": f"THREAD#{step_dict['threadId']}",
            "SK": f"STEP#{step_dict['id']}",
        }
        await self._call("put_item", TableName=self.table_name, Item=self._item(item))

    async def update_step(self, step_dict: StepDict) -> None:
        """Change a step's attributes (those given; a None one is left alone)."""
        values = {key: value for key, value in step_dict.items() if key not in _INTERNAL}
        await self._set(f"THREAD#{step_dict['threadId']}", f"STEP#{step_dict['id']}", values)

    async def delete_step(self, step_id: str) -> None:
        """Remove a step."""
        thread_id = await self._thread_of(f"STEP#{step_id}")
        if thread_id is None:
            return
        await self._call(
            "delete_item",
            TableName=self.table_name,
            Key=self._key(f"THREAD#{thread_id}", f"STEP#{step_id}"),
        )

    # -- threads ----------------------------------------------------------------------------

    async def _author(self, thread_id: str) -> str | None:
        found = await self._get(f"THREAD#{thread_id}", "THREAD")
        author = None if found is None else found.get("userId")
        return author if isinstance(author, str) else None

    async def get_thread_author(self, thread_id: str) -> str:
        """The identifier of the thread's user; ``ValueError`` for a thread without one."""
        author = await self._author(thread_id)
        if author is None:
            raise ValueError(f"Author not found for thread_id {thread_id}")
        return author

    def _public(self, item: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in item.items() if key not in _INTERNAL}

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        """A thread with its steps (in time order) and elements."""
        items = await self._query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "PK"},
            ExpressionAttributeValues={":pk": {"S": f"THREAD#{thread_id}"}},
        )
        thread: dict[str, Any] | None = None
        steps: list[dict[str, Any]] = []
        elements: list[dict[str, Any]] = []
        for item in items:
            sort_key = str(item["SK"])
            if sort_key == "THREAD":
                thread = self._public(item)
            elif sort_key.startswith("STEP#"):
                steps.append(self._public(item))
            elif sort_key.startswith("ELEMENT#"):
                element = self._public(item)
                if self.storage_provider is not None and element.get("objectKey"):
                    element["url"] = await self.storage_provider.get_read_url(
                        object_key=element["objectKey"]
                    )
                elements.append(element)
        if thread is None:
            return None
        steps.sort(key=lambda step: str(step.get("createdAt") or ""))
        thread.setdefault("id", thread_id)
        thread.update({"steps": steps, "elements": elements})
        return cast(ThreadDict, thread)

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        """Make or change a thread; it moves to the top of its user's list."""
        now = _now()
        values: dict[str, Any] = {
            "UserThreadSK": f"TS#{now}",
            "id": thread_id,
            "createdAt": now,
            "name": name,
            "userId": user_id,
            "userIdentifier": user_id,
            "UserThreadPK": f"USER#{user_id}" if user_id else None,
            "tags": tags,
            "metadata": metadata,
        }
        await self._set(f"THREAD#{thread_id}", "THREAD", values, keep=("createdAt",))

    async def delete_thread(self, thread_id: str) -> None:
        """Remove a thread with its steps and elements (their files stay)."""
        items = await self._query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "PK"},
            ExpressionAttributeValues={":pk": {"S": f"THREAD#{thread_id}"}},
            ProjectionExpression="PK, SK",
        )
        requests = [
            {"DeleteRequest": {"Key": self._key(str(item["PK"]), str(item["SK"]))}}
            for item in items
        ]
        for start in range(0, len(requests), _BATCH):
            pending: dict[str, Any] = {self.table_name: requests[start : start + _BATCH]}
            delay = 0.05
            while pending:
                done = await self._call("batch_write_item", RequestItems=pending)
                pending = done.get("UnprocessedItems") or {}
                if pending:
                    await asyncio.sleep(delay)  # the table's capacity: back off, then retry
                    delay = min(delay * 2, 5.0)

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        """A user's threads, the last changed first; with ``filters.search``, those whose
        name or messages hold it (case ignored). The cursor is the last thread's place in
        the user's index."""
        limit = max(1, min(pagination.first or self.user_thread_limit, self.user_thread_limit))
        arguments: dict[str, Any] = {
            "IndexName": "UserThread",
            "ScanIndexForward": False,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": "UserThreadPK"},
            "ExpressionAttributeValues": {":pk": {"S": f"USER#{filters.userId}"}},
        }
        if pagination.cursor:
            arguments["ExclusiveStartKey"] = json.loads(pagination.cursor)
        search = (filters.search or "").casefold()
        found: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (as stored, as read)
        while len(found) <= limit:  # one more than a page: is there a next one?
            answer = await self._call(
                "query", TableName=self.table_name, Limit=limit + 1, **arguments
            )
            for raw in answer.get("Items", []):
                item = self._plain(raw)
                if not search or await self._matches(item, search):
                    found.append((raw, item))
            if "LastEvaluatedKey" not in answer:
                break
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        page = found[:limit]
        more = len(found) > limit
        end = {name: page[-1][0][name] for name in _INTERNAL} if more else None
        return PaginatedResponse(
            data=[cast(ThreadDict, self._public(item)) for _, item in page],
            pageInfo=PageInfo(
                hasNextPage=more,
                startCursor=pagination.cursor,
                endCursor=None if end is None else json.dumps(end),
            ),
        )

    async def _matches(self, thread: dict[str, Any], search: str) -> bool:
        """Whether the thread's name or one of its messages holds ``search`` (case folded:
        DynamoDB's ``contains`` minds case, so the messages are read here)."""
        if search in str(thread.get("name") or "").casefold():
            return True
        steps = await self._query(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :step)",
            ExpressionAttributeNames={"#pk": "PK", "#sk": "SK", "#output": "output"},
            ExpressionAttributeValues={":pk": {"S": str(thread["PK"])}, ":step": {"S": "STEP#"}},
            ProjectionExpression="#output",
        )
        return any(search in str(step.get("output") or "").casefold() for step in steps)

    # -- favourites and the rest ----------------------------------------------------------

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        """The steps marked favourite (``metadata.favorite``) in the user's threads,
        newest first."""
        threads = await self._query(
            IndexName="UserThread",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "UserThreadPK"},
            ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}},
            ProjectionExpression="PK",
        )
        favorites: list[dict[str, Any]] = []
        for thread in threads:
            steps = await self._query(
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :step)",
                FilterExpression="#metadata.#favorite = :yes",
                ExpressionAttributeNames={
                    "#pk": "PK",
                    "#sk": "SK",
                    "#metadata": "metadata",
                    "#favorite": "favorite",
                },
                ExpressionAttributeValues={
                    ":pk": {"S": str(thread["PK"])},
                    ":step": {"S": "STEP#"},
                    ":yes": {"BOOL": True},
                },
            )
            for step in steps:
                step = self._public(step)
                step.pop("feedback", None)
                favorites.append(step)
        favorites.sort(key=lambda step: str(step.get("createdAt") or ""), reverse=True)
        return cast("list[StepDict]", favorites)

    async def build_debug_url(self) -> str:
        """No debug URL."""
        return ""

    async def close(self) -> None:
        """Close the storage provider and the client."""
        if self.storage_provider is not None:
            await self.storage_provider.close()
        await asyncio.to_thread(self.client.close)
