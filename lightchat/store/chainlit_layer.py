"""A data layer written for Chainlit (a ``lightchat.data.BaseDataLayer`` subclass) as
lightchat's ``DataLayer``: the history, its search, renames, deletes, feedback, sharing,
favourites and elements all go through the Chainlit layer's own methods.

What maps to what:

- An owner is a Chainlit user: a signed-in user's owner key (``user:<identifier>``) is the
  user with that identifier; a browser's key (sign-in off) is a user named
  ``browser:<key>``, made the first time, so Chainlit's per-user listing works for both.
- A thread belongs to an owner when the layer's ``get_thread_author`` (else the thread's
  ``userIdentifier``) names the owner's user; any other thread is treated as missing.
- Messages and steps are Chainlit step dicts (``create_step`` the first time, then
  ``update_step``); a user message names a thread that has no name yet, as lightchat's own
  store does.
- An element's file stays in the app's file storage: its key travels as ``objectKey`` and
  what lightchat shows of it in ``props``; elements the Chainlit layer reads back come
  with it. When the layer keeps files through the app's own file storage (its
  ``storage_client`` or ``storage_provider`` is the app's ``files``, as with
  ``DATABASE_URL`` and a bucket), an element Chainlit wrote is served from there too: its
  ``objectKey`` is its key, and the app answers its URL after the owner check.
- Feedback is Chainlit's (on the thread's steps); sharing is the thread's metadata
  ``is_shared`` and ``shared_at``, as Chainlit's server writes them; favourites are the
  step's metadata ``favorite`` (``get_favorite_steps``).

Chainlit has no "get one step": the steps' threads are remembered as they are written or
read (a thread opened or written by this process), which is where the history looks for
a message to rate or mark.

What the layer does not implement (a method left as Chainlit's placeholder, raising
``NotImplementedError``, or set to None) turns its feature off; ``ChainlitLayer.missing``
lists those features, which the history logs once at start.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import textwrap
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from lightchat.domain.events import MAX_FAVORITES
from lightchat.domain.types import Feedback, ThreadDict
from lightchat.domain.types import Pagination as ChainlitPagination
from lightchat.domain.types import ThreadFilter as ChainlitFilter
from lightchat.domain.user import User
from lightchat.store.errors import ConflictError, NotFoundError
from lightchat.store.layer import (
    MAX_PAGE_SIZE,
    Pagination,
    StoredThread,
    ThreadFilter,
    ThreadPage,
    thread_name,
)
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    StepRecord,
    ThreadRecord,
    UserRecord,
    utcnow,
)

__all__ = ["FEATURES", "ChainlitLayer", "adapt_chainlit_layer", "is_chainlit_layer"]

logger = logging.getLogger("lightchat")

#: The feature each of a Chainlit layer's methods serves: a method it does not implement
#: turns that feature off (reported once at start, see ``ChainlitLayer.missing``).
FEATURES: dict[str, str] = {
    "get_user": "signed-in users kept in the history",
    "create_user": "signed-in users kept in the history",
    "update_thread": "saving chats (and renaming them, sharing them)",
    "create_step": "saving messages and steps",
    "update_step": "saving messages and steps",
    "delete_step": "removing messages from saved chats",
    "get_thread": "opening and resuming past chats",
    "list_threads": "the history list and its search",
    "delete_thread": "deleting chats",
    "upsert_feedback": "feedback on answers",
    "delete_feedback": "taking feedback back",
    "create_element": "saving elements",
    "get_element": "reading saved elements",
    "delete_element": "removing saved elements",
    "get_favorite_steps": "favourite messages",
}

#: The methods that make an object a Chainlit data layer (rather than lightchat's own).
_SHAPE = ("create_step", "update_step", "get_thread", "list_threads", "update_thread")

_KNOWN_STEPS = 100_000
"""How many step ids' threads are remembered (the oldest are forgotten first)."""


def is_chainlit_layer(candidate: object) -> bool:
    """Whether ``candidate`` has the methods of Chainlit's ``BaseDataLayer``."""
    return all(hasattr(candidate, name) for name in _SHAPE)


def _placeholder(function: Callable[..., Any]) -> bool:
    """Whether a method's body does nothing but raise ``NotImplementedError`` (or pass)."""
    if getattr(function, "__isabstractmethod__", False):
        return True
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):  # no source (made at run time): take it as implemented
        return False
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return True
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc
            if isinstance(raised, ast.Call):
                raised = raised.func
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                continue
        return False
    return True


def _implemented(layer: object, name: str) -> bool:
    method = getattr(layer, name, None)
    if not callable(method):
        return False
    return not _placeholder(getattr(method, "__func__", method))


def _iso(moment: datetime) -> str:
    """A time as Chainlit writes it: ISO 8601 in UTC, with a ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _time(value: Any) -> datetime | None:
    """A time a Chainlit layer gives back (ISO text, or a datetime), as aware UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_HEX_ID = re.compile(r"[0-9a-f]{32}")


def _out(value: str) -> str:
    """An id as the Chainlit layer is given it: lightchat's ids (a UUID's 32 hex digits)
    in a UUID's usual text, as Chainlit makes them and its tables' uuid columns take."""
    return str(uuid.UUID(value)) if _HEX_ID.fullmatch(value) else value


def _out_opt(value: str | None) -> str | None:
    return None if value is None else _out(value)


def _in(value: Any) -> Any:
    """An id as lightchat uses it (the reverse of ``_out``; other ids are kept)."""
    if isinstance(value, str) and len(value) == 36:
        try:
            return uuid.UUID(value).hex
        except ValueError:
            return value
    return value


def _identifier(owner: str) -> str:
    """The Chainlit user identifier of an owner key (see the module docstring)."""
    return owner.removeprefix("user:") if owner.startswith("user:") else f"browser:{owner}"


def _owner(identifier: str | None) -> str:
    """The owner key of a Chainlit user identifier (the reverse of ``_identifier``)."""
    if not identifier:
        return ""
    if identifier.startswith("browser:"):
        return identifier.removeprefix("browser:")
    return f"user:{identifier}"


class _Element:
    """An element as a Chainlit layer's ``create_element`` reads it (its attributes and
    ``to_dict``); it has no bytes: the file is in the app's file storage already."""

    def __init__(self, record: ElementRecord) -> None:
        meta = dict(record.meta or {})
        self.id = _out(record.id)
        self.thread_id: str | None = _out(record.thread_id)
        self.for_id = _out_opt(record.for_id)
        self.name = record.name
        self.type = record.type
        self.mime = record.mime
        self.url = record.url
        self.object_key = record.storage_key
        self.chainlit_key: str | None = None
        self.display = record.display
        extra = meta.get("extra")
        size = extra.get("size") if isinstance(extra, dict) else None
        self.size: str | None = size if isinstance(size, str) else None
        self.language = meta.get("language")
        self.page = meta.get("page")
        self.props: dict[str, Any] = {"lightchat": {**meta, "bytes": record.size}}
        self.path: str | None = None
        self.content: bytes | str | None = None
        self.auto_play: bool | None = None
        self.player_config: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "threadId": self.thread_id,
            "type": self.type,
            "chainlitKey": self.chainlit_key,
            "url": self.url,
            "objectKey": self.object_key,
            "name": self.name,
            "display": self.display,
            "size": self.size,
            "language": self.language,
            "page": self.page,
            "props": self.props,
            "autoPlay": self.auto_play,
            "playerConfig": self.player_config,
            "forId": self.for_id,
            "mime": self.mime,
        }


def _element_record(data: Any, thread_id: str, *, shared_files: bool = False) -> ElementRecord:
    """The record of an element dict the layer read. ``shared_files``: the layer's files
    are the app's, so an ``objectKey`` names a file the app serves (after the owner check)
    rather than a link, signed or stored, that the browser would follow."""
    props = data.get("props")
    ours = props.get("lightchat") if isinstance(props, dict) else None
    key = data.get("objectKey") if ours or shared_files else None
    meta = {key: value for key, value in (ours or {}).items() if key != "bytes"}
    if not ours:
        if data.get("language"):
            meta["language"] = data["language"]
        if data.get("page") is not None:
            meta["page"] = data["page"]
        if isinstance(data.get("size"), str):
            meta["extra"] = {"size": data["size"]}
    size = (ours or {}).get("bytes")
    return ElementRecord(
        id=_in(str(data.get("id") or "")),
        thread_id=_in(str(data.get("threadId") or thread_id)),
        for_id=_in(data.get("forId")),
        name=str(data.get("name") or ""),
        type=str(data.get("type") or "file"),
        mime=data.get("mime"),
        size=size if isinstance(size, int) else None,
        storage_key=key or None,
        display=str(data.get("display") or "inline"),
        url=None if key and shared_files else data.get("url"),
        meta=meta,
    )


def _step_dict(record: StepRecord) -> dict[str, Any]:
    metadata = dict(record.meta or {})
    # What Chainlit's schemas may have no column for, so that it reads back the same.
    metadata["lightchat"] = {
        "type": record.type,
        "status": record.status,
        "showInput": record.show_input,
        "language": record.language,
        "streaming": record.streaming,
    }
    if record.favorite_at is not None:
        metadata["favorite"] = True
    return {
        "id": _out(record.id),
        "threadId": _out(record.thread_id),
        "parentId": _out_opt(record.parent_id),
        "name": record.name,
        "type": record.type,
        "input": record.input,
        "output": record.output,
        "language": record.language,
        "isError": record.is_error,
        "streaming": record.streaming,
        "showInput": record.show_input,
        "metadata": metadata,
        "createdAt": _iso(record.created_at),
        "start": _iso(record.started_at or record.created_at),
        "end": None if record.ended_at is None else _iso(record.ended_at),
        "generation": record.generation,
    }


def _step_record(data: Any, thread_id: str) -> StepRecord:
    metadata = data.get("metadata")
    meta = dict(metadata) if isinstance(metadata, dict) else {}
    ours = meta.pop("lightchat", None)
    ours = ours if isinstance(ours, dict) else {}
    favorite = bool(meta.pop("favorite", False))
    created = _time(data.get("createdAt")) or _time(data.get("start")) or utcnow()
    show_input = data.get("showInput")
    if ours:
        show_input = ours.get("showInput")
    elif show_input is True:
        show_input = "true"
    elif not isinstance(show_input, str) or show_input == "false":
        show_input = None
    generation = data.get("generation")
    return StepRecord(
        id=_in(str(data.get("id") or "")),
        thread_id=_in(str(data.get("threadId") or thread_id)),
        parent_id=_in(data.get("parentId")),
        name=str(data.get("name") or ""),
        type=str(ours.get("type") or data.get("type") or "undefined"),
        input=str(data.get("input") or ""),
        output=str(data.get("output") or ""),
        language=ours.get("language", data.get("language")),
        is_error=bool(data.get("isError")),
        status=ours.get("status"),
        streaming=bool(ours.get("streaming", data.get("streaming"))),
        show_input=show_input,
        created_at=created,
        started_at=_time(data.get("start")),
        ended_at=_time(data.get("end")),
        meta=meta,
        favorite_at=created if favorite else None,
        generation=generation if isinstance(generation, dict) else None,
    )


class ChainlitLayer:
    """lightchat's ``DataLayer`` over a Chainlit data layer (see the module docstring)."""

    def __init__(self, layer: Any, files: object | None = None) -> None:
        self.layer = layer
        self.shared_files = files is not None and any(
            getattr(layer, name, None) is files for name in ("storage_client", "storage_provider")
        )
        """Whether the layer keeps element files through the app's file storage ``files``."""
        self.missing: dict[str, str] = {
            name: feature for name, feature in FEATURES.items() if not _implemented(layer, name)
        }
        """The methods the layer does not implement, with the feature each turns off."""
        self._users: dict[str, str] = {}  # owner -> the Chainlit user's id
        self._steps: OrderedDict[str, str] = OrderedDict()  # step id -> thread id
        self._unnamed: set[str] = set()  # threads known to have no name yet
        self._checked: set[tuple[str | None, str]] = set()  # (owner, thread) seen to match
        self._elements: OrderedDict[str, str] = OrderedDict()  # element id -> thread id
        self._feedback: OrderedDict[str, str] = OrderedDict()  # feedback id -> thread id

    def _has(self, name: str) -> bool:
        return name not in self.missing

    def _remember(self, step_id: str, thread_id: str) -> None:
        _note(self._steps, step_id, thread_id)

    # -- users ----------------------------------------------------------------------------

    async def get_user(self, identifier: str) -> UserRecord | None:
        if not self._has("get_user"):
            return None
        found = await self.layer.get_user(identifier)
        return None if found is None else self._user_record(found)

    async def create_user(
        self,
        identifier: str,
        *,
        display_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> UserRecord:
        user = User(identifier=identifier, display_name=display_name, metadata=metadata or {})
        made = await self.layer.create_user(user) if self._has("create_user") else None
        if made is None:
            return UserRecord(identifier=identifier, display_name=display_name, meta=user.metadata)
        return self._user_record(made)

    @staticmethod
    def _user_record(user: Any) -> UserRecord:
        metadata = getattr(user, "metadata", None)
        return UserRecord(
            id=str(getattr(user, "id", "") or ""),
            identifier=user.identifier,
            display_name=getattr(user, "display_name", None),
            meta=dict(metadata) if isinstance(metadata, dict) else {},
            created_at=_time(getattr(user, "createdAt", None)) or utcnow(),
        )

    async def _user_id(self, owner: str, *, make: bool = True) -> str | None:
        """The id of the owner's Chainlit user, made if need be and ``make`` (None if the
        layer keeps no users, or has none for the owner yet)."""
        known = self._users.get(owner)
        if known is not None:
            return known
        identifier = _identifier(owner)
        user = await self.layer.get_user(identifier) if self._has("get_user") else None
        if user is None and make and self._has("create_user"):
            user = await self.layer.create_user(User(identifier=identifier))
        if user is None or not getattr(user, "id", None):
            return None
        self._users[owner] = str(user.id)
        return self._users[owner]

    # -- threads --------------------------------------------------------------------------

    async def _author(self, thread_id: str) -> str | None:
        """The identifier of the user whose thread it is (None: no such thread)."""
        if self._has("get_thread_author") and callable(
            getattr(self.layer, "get_thread_author", None)
        ):
            try:
                author = await self.layer.get_thread_author(_out(thread_id))
            except Exception:  # Chainlit's layers raise for a thread they do not have
                author = None
            if author:
                return str(author)
        thread = await self._thread_dict(thread_id)
        return None if thread is None else thread.get("userIdentifier")

    async def _thread_dict(self, thread_id: str) -> ThreadDict | None:
        if not self._has("get_thread"):
            return None
        found: ThreadDict | None = await self.layer.get_thread(_out(thread_id))
        return found

    async def _owns(self, thread_id: str, owner: str | None) -> bool:
        author = await self._author(thread_id)
        if author is None:
            return False
        return owner is None or author == _identifier(owner)

    async def _writable(self, thread_id: str, owner: str | None) -> None:
        """Raise ``NotFoundError`` unless the thread is the owner's (checked once per
        thread: a thread's owner never changes)."""
        if (owner, thread_id) in self._checked:
            return
        if not await self._owns(thread_id, owner):
            raise NotFoundError(f"no thread {thread_id!r}")
        self._checked.add((owner, thread_id))

    def _thread_record(self, data: ThreadDict, owner: str | None) -> ThreadRecord:
        metadata = data.get("metadata")
        meta = dict(metadata) if isinstance(metadata, dict) else {}
        created = _time(data.get("createdAt")) or utcnow()
        updated = _time(meta.pop("lightchat_updated_at", None)) or created
        shared = _time(meta.get("shared_at")) if meta.get("is_shared") else None
        tags = data.get("tags")
        return ThreadRecord(
            id=_in(data["id"]),
            owner=owner if owner is not None else _owner(data.get("userIdentifier")),
            user_id=data.get("userId"),
            name=data.get("name"),
            tags=list(tags) if isinstance(tags, list) else [],
            meta=meta,
            created_at=created,
            updated_at=updated,
            shared_at=shared,
        )

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
        record = ThreadRecord(owner=owner, name=name, tags=tags or [], meta=metadata or {})
        if thread_id is not None:
            record.id = thread_id
        if await self._author(record.id) is not None:
            raise ConflictError(f"thread {record.id!r} exists already")
        record.user_id = await self._user_id(owner)
        await self.layer.update_thread(
            _out(record.id), name=name, user_id=record.user_id, metadata=metadata, tags=tags
        )
        if name is None:
            self._unnamed.add(record.id)
        self._checked.add((owner, record.id))
        return record

    async def update_thread(
        self,
        thread_id: str,
        *,
        owner: str | None,
        name: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ThreadRecord:
        if not await self._owns(thread_id, owner):
            raise NotFoundError(f"no thread {thread_id!r}")
        if metadata is not None:
            current = await self._thread_dict(thread_id)
            kept = (current.get("metadata") if current else None) or {}
            # Chainlit's own keys (sharing) stay: the caller replaces the app's metadata.
            metadata = {
                **{key: kept[key] for key in ("is_shared", "shared_at") if key in kept},
                **metadata,
            }
        await self.layer.update_thread(_out(thread_id), name=name, metadata=metadata, tags=tags)
        if name is not None:
            self._unnamed.discard(thread_id)
        found = await self.get_thread(thread_id, owner=owner)
        if found is None:
            raise NotFoundError(f"no thread {thread_id!r}")
        return found

    async def get_thread(self, thread_id: str, *, owner: str | None) -> ThreadRecord | None:
        data = await self._thread_dict(thread_id)
        if data is None or not await self._owns(thread_id, owner):
            return None
        return self._thread_record(data, owner)

    async def load_thread(self, thread_id: str, *, owner: str | None) -> StoredThread | None:
        data = await self._thread_dict(thread_id)
        if data is None or not await self._owns(thread_id, owner):
            return None
        stored = StoredThread(thread=self._thread_record(data, owner))
        for step in data.get("steps") or []:
            record = _step_record(step, thread_id)
            self._remember(record.id, thread_id)
            stored.steps.append(record)
            feedback = step.get("feedback")
            if feedback and feedback.get("value") in (0, 1):
                _note(self._feedback, str(feedback.get("id") or ""), thread_id)
                stored.feedback[record.id] = FeedbackRecord(
                    id=str(feedback.get("id") or ""),
                    for_id=record.id,
                    thread_id=thread_id,
                    value=int(feedback["value"]),
                    comment=feedback.get("comment"),
                )
        stored.steps.sort(key=lambda step: step.created_at)
        stored.elements = [
            _element_record(element, thread_id, shared_files=self.shared_files)
            for element in data.get("elements") or []
        ]
        for element in stored.elements:
            _note(self._elements, element.id, thread_id)
        return stored

    async def delete_thread(self, thread_id: str, *, owner: str | None) -> list[str]:
        stored = await self.load_thread(thread_id, owner=owner)
        if stored is None or not self._has("delete_thread"):
            raise NotFoundError(f"no thread {thread_id!r}")
        await self.layer.delete_thread(_out(thread_id))
        for step in stored.steps:
            self._steps.pop(step.id, None)
        self._checked = {pair for pair in self._checked if pair[1] != thread_id}
        return [element.storage_key for element in stored.elements if element.storage_key]

    async def list_threads(
        self,
        owner: str,
        pagination: Pagination | None = None,
        filters: ThreadFilter | None = None,
    ) -> ThreadPage:
        if not self._has("list_threads"):
            return ThreadPage([], has_next=False, end_cursor=None)
        pagination = pagination or Pagination()
        filters = filters or ThreadFilter()
        user_id = await self._user_id(owner, make=False)  # a first look makes no user
        if user_id is None:
            return ThreadPage([], has_next=False, end_cursor=None)
        feedback = filters.feedback if filters.feedback in (0, 1) else None
        page = await self.layer.list_threads(
            ChainlitPagination(
                first=min(pagination.first, MAX_PAGE_SIZE), cursor=pagination.cursor
            ),
            ChainlitFilter(feedback=feedback, userId=user_id, search=filters.search),  # type: ignore[arg-type]
        )
        threads = [self._thread_record(thread, owner) for thread in page.data]
        return ThreadPage(
            threads, has_next=bool(page.pageInfo.hasNextPage), end_cursor=page.pageInfo.endCursor
        )

    async def get_thread_owner(self, thread_id: str) -> str | None:
        author = await self._author(thread_id)
        return None if author is None else _owner(author)

    async def get_thread_author(self, thread_id: str) -> str | None:
        author = await self._author(thread_id)
        return None if author is None or author.startswith("browser:") else author

    # -- steps ----------------------------------------------------------------------------

    async def upsert_step(self, step: StepRecord, *, owner: str | None) -> None:
        creates, updates = self._has("create_step"), self._has("update_step")
        if not (creates or updates):
            return  # reported at start: messages are not saved
        await self._writable(step.thread_id, owner)
        data = _step_dict(step)
        # A step written or read before is updated; Chainlit's own layers take either.
        if (step.id in self._steps and updates) or not creates:
            await self.layer.update_step(data)
        else:
            await self.layer.create_step(data)
        self._remember(step.id, step.thread_id)
        if step.type == "user_message" and step.thread_id in self._unnamed:
            name = thread_name(step.output)
            if name is not None:
                await self.layer.update_thread(_out(step.thread_id), name=name)
                self._unnamed.discard(step.thread_id)

    async def delete_step(self, step_id: str, *, owner: str | None) -> list[str]:
        found = await self._find_step(step_id, owner)
        if found is None or not self._has("delete_step"):
            return []
        stored, _ = found
        doomed = {step_id}
        for step in stored.steps:  # nested steps go with their parent, as in the store
            if step.parent_id in doomed:
                doomed.add(step.id)
        keys = [e.storage_key for e in stored.elements if e.for_id in doomed and e.storage_key]
        for doomed_id in doomed:
            await self.layer.delete_step(_out(doomed_id))
            self._steps.pop(doomed_id, None)
        return keys

    async def _find_step(
        self, step_id: str, owner: str | None
    ) -> tuple[StoredThread, StepRecord] | None:
        thread_id = self._steps.get(step_id)
        if thread_id is None:
            return None
        stored = await self.load_thread(thread_id, owner=owner)
        if stored is None:
            return None
        for step in stored.steps:
            if step.id == step_id:
                return stored, step
        return None

    async def get_thread_steps(self, thread_id: str, *, owner: str | None) -> list[StepRecord]:
        stored = await self.load_thread(thread_id, owner=owner)
        return [] if stored is None else stored.steps

    async def get_step(self, step_id: str, *, owner: str | None) -> StepRecord | None:
        found = await self._find_step(step_id, owner)
        return None if found is None else found[1]

    # -- elements -------------------------------------------------------------------------

    async def create_element(self, element: ElementRecord, *, owner: str | None) -> None:
        if not self._has("create_element"):
            return
        await self._writable(element.thread_id, owner)
        await self.layer.create_element(_Element(element))
        _note(self._elements, element.id, element.thread_id)

    async def get_element(
        self, element_id: str, *, owner: str | None, thread_id: str | None = None
    ) -> ElementRecord | None:
        if thread_id is None or not self._has("get_element"):
            return None
        if not await self._owns(thread_id, owner):
            return None
        found = await self.layer.get_element(_out(thread_id), _out(element_id))
        if found is None:
            return None
        return _element_record(found, thread_id, shared_files=self.shared_files)

    async def delete_element(self, element_id: str, *, owner: str | None) -> ElementRecord | None:
        # The history deletes an element it wrote, or read with its thread: its thread is
        # known (Chainlit's layers find an element by thread).
        thread_id = self._elements.get(element_id)
        if thread_id is None:
            return None
        found = await self.get_element(element_id, owner=owner, thread_id=thread_id)
        if found is not None and self._has("delete_element"):
            await self.layer.delete_element(_out(element_id), _out(thread_id))
            self._elements.pop(element_id, None)
        return found

    # -- feedback -------------------------------------------------------------------------

    async def upsert_feedback(
        self, for_id: str, value: int, *, owner: str | None, comment: str | None = None
    ) -> FeedbackRecord:
        found = await self._find_step(for_id, owner)
        if found is None or not self._has("upsert_feedback"):
            raise NotFoundError(f"no step {for_id!r}")
        stored, step = found
        before = stored.feedback.get(for_id)
        verdict: Literal[0, 1] = 1 if value else 0
        feedback_id = await self.layer.upsert_feedback(
            Feedback(
                forId=_out(for_id),
                value=verdict,
                threadId=_out(step.thread_id),
                id=before.id if before is not None and before.id else None,
                comment=comment,
            )
        )
        _note(self._feedback, str(feedback_id or ""), step.thread_id)
        return FeedbackRecord(
            id=str(feedback_id or ""),
            for_id=for_id,
            thread_id=step.thread_id,
            value=verdict,
            comment=comment,
        )

    async def list_feedback(
        self, thread_id: str, *, owner: str | None
    ) -> dict[str, FeedbackRecord]:
        stored = await self.load_thread(thread_id, owner=owner)
        return {} if stored is None else stored.feedback

    async def delete_feedback(self, feedback_id: str, *, owner: str | None) -> bool:
        if not self._has("delete_feedback"):
            return False
        thread_id = self._feedback.get(feedback_id)  # noted when its thread was read
        if thread_id is None:
            return False
        stored = await self.load_thread(thread_id, owner=owner)
        if stored is None or all(f.id != feedback_id for f in stored.feedback.values()):
            return False
        self._feedback.pop(feedback_id, None)
        return bool(await self.layer.delete_feedback(feedback_id))

    # -- the rest -------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise when the layer's database does not answer (the readiness check): a layer
        with a ``ping`` of its own is asked; one without counts as answering."""
        ping = getattr(self.layer, "ping", None)
        if callable(ping):
            await ping()

    async def close(self) -> None:
        close = getattr(self.layer, "close", None)
        if callable(close) and not _placeholder(getattr(close, "__func__", close)):
            await close()


def _note(known: OrderedDict[str, str], key: str, thread_id: str) -> None:
    """Remember which thread ``key`` is in (the oldest forgotten past ``_KNOWN_STEPS``)."""
    known[key] = thread_id
    known.move_to_end(key)
    while len(known) > _KNOWN_STEPS:
        known.popitem(last=False)


class _Sharing:
    """Sharing (``ThreadSharing``) as Chainlit's server does it: the thread's metadata."""

    async def share_thread(
        self, thread_id: str, *, owner: str | None, shared: bool
    ) -> ThreadRecord:
        adapter: ChainlitLayer = self  # type: ignore[assignment]
        data = await adapter._thread_dict(thread_id)
        if data is None or not await adapter._owns(thread_id, owner):
            raise NotFoundError(f"no thread {thread_id!r}")
        metadata = dict(data.get("metadata") or {})
        if shared and not metadata.get("is_shared"):
            metadata["is_shared"] = True
            metadata["shared_at"] = _iso(utcnow())
        elif not shared:
            metadata.pop("is_shared", None)
            metadata.pop("shared_at", None)
        await adapter.layer.update_thread(_out(thread_id), metadata=metadata)
        found = await adapter.get_thread(thread_id, owner=owner)
        if found is None:
            raise NotFoundError(f"no thread {thread_id!r}")
        return found


class _Favorites:
    """Favourites (``FavoriteSteps``) as Chainlit keeps them: the step's metadata."""

    async def set_favorite(self, step_id: str, *, owner: str | None, favorite: bool) -> StepRecord:
        adapter: ChainlitLayer = self  # type: ignore[assignment]
        found = await adapter._find_step(step_id, owner)
        if found is None:
            raise NotFoundError(f"no step {step_id!r}")
        step = found[1]
        if favorite and step.favorite_at is None:
            step.favorite_at = utcnow()
        elif not favorite:
            step.favorite_at = None
        await adapter.layer.update_step(_step_dict(step))
        return step

    async def list_favorites(
        self, owner: str, *, thread_id: str | None = None, limit: int = MAX_FAVORITES
    ) -> list[StepRecord]:
        adapter: ChainlitLayer = self  # type: ignore[assignment]
        user_id = await adapter._user_id(owner, make=False)
        if user_id is None:
            return []
        steps = [_step_record(step, "") for step in await adapter.layer.get_favorite_steps(user_id)]
        mine = [
            step
            for step in steps
            if (thread_id is None or step.thread_id == thread_id)
            and await adapter._owns(step.thread_id, owner)
        ]
        for step in mine:
            adapter._remember(step.id, step.thread_id)
        mine.sort(key=lambda step: step.created_at, reverse=True)
        return mine[: min(limit, MAX_FAVORITES)]


def adapt_chainlit_layer(layer: object, files: object | None = None) -> ChainlitLayer:
    """lightchat's ``DataLayer`` over a Chainlit data layer, with sharing when it can save
    and read threads, and favourites when it implements ``get_favorite_steps``; ``files``,
    the app's file storage (see ``ChainlitLayer.shared_files``)."""
    probe = ChainlitLayer(layer, files)
    bases: list[type] = []
    if not {"update_thread", "get_thread"} & probe.missing.keys():
        bases.append(_Sharing)
    if not {"get_favorite_steps", "update_step"} & probe.missing.keys():
        bases.append(_Favorites)
    if not bases:
        return probe
    kind = type("ChainlitLayer", (*bases, ChainlitLayer), {})
    adapter: ChainlitLayer = kind(layer, files)
    return adapter
