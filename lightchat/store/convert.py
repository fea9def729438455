"""Conversions between ``StepRecord`` rows and the chat's ``MessageData``/``StepData``.

A message is stored as a step (as in Chainlit): its author goes to ``name``, its text to
``output``, its type (``user_message``, ...) to ``type``. Times are epoch seconds in the
domain objects and aware UTC datetimes in the records; a round trip keeps them to the
microsecond.

    record = record_from_item(message, thread_id)      # to persist
    item = item_from_record(record)                     # MessageData or StepData, to show
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast, get_args

from lightchat.domain.events import (
    Display,
    ElementData,
    MessageData,
    MessageType,
    StepData,
    StepStatus,
    StepType,
)
from lightchat.store.records import ElementRecord, StepRecord, built

__all__ = [
    "MESSAGE_TYPES",
    "element_from_record",
    "from_timestamp",
    "item_from_record",
    "message_from_record",
    "record_from_element",
    "record_from_item",
    "record_from_message",
    "record_from_step",
    "step_from_record",
    "to_timestamp",
]

#: Step types that are messages.
MESSAGE_TYPES: frozenset[str] = frozenset(get_args(MessageType))
_STEP_TYPES: frozenset[str] = frozenset(get_args(StepType))
_STATUSES: frozenset[str] = frozenset(get_args(StepStatus))


def from_timestamp(seconds: float) -> datetime:
    """Epoch seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def to_timestamp(moment: datetime) -> float:
    """An aware datetime to epoch seconds."""
    return moment.timestamp()


def record_from_message(message: MessageData, thread_id: str) -> StepRecord:
    """The row that stores a message of a thread (not its favourite mark, which only
    ``FavoriteSteps.set_favorite`` writes)."""
    # Not the constructor: the history makes one per message state (see ``built``).
    return built(
        StepRecord,
        {
            "id": message.id,
            "thread_id": thread_id,
            "parent_id": message.parent_id,
            "name": message.author,
            "type": message.type,
            "output": message.content,
            "language": message.language,
            "is_error": message.type == "error",
            "streaming": message.streaming,
            "created_at": from_timestamp(message.created_at),
            # Kept in the metadata: no column (and no migration) for a rare mark.
            "meta": {"interrupted": True} if message.interrupted else {},
        },
    )


def record_from_step(step: StepData, thread_id: str) -> StepRecord:
    """The row that stores a step of a thread."""
    show_input = step.show_input
    return built(  # see record_from_message
        StepRecord,
        {
            "id": step.id,
            "thread_id": thread_id,
            "parent_id": step.parent_id,
            "name": step.name,
            "type": step.type,
            "input": step.input,
            "output": step.output,
            "language": step.language,
            "is_error": step.status == "failed",
            "status": step.status,
            "show_input": "true" if show_input is True else show_input or None,
            "created_at": from_timestamp(step.started_at),
            "started_at": from_timestamp(step.started_at),
            "ended_at": None if step.ended_at is None else from_timestamp(step.ended_at),
            "meta": {"interrupted": True} if step.interrupted else {},
            "generation": step.generation,
        },
    )


def record_from_item(item: MessageData | StepData, thread_id: str) -> StepRecord:
    """The row that stores a message or a step."""
    if isinstance(item, MessageData):
        return record_from_message(item, thread_id)
    return record_from_step(item, thread_id)


def message_from_record(record: StepRecord) -> MessageData:
    """The message a row stores; raises ``ValueError`` if the row is not a message."""
    if record.type not in MESSAGE_TYPES:
        raise ValueError(f"step {record.id!r} of type {record.type!r} is not a message")
    return MessageData(
        id=record.id,
        author=record.name,
        type=cast(MessageType, record.type),
        content=record.output,
        language=record.language,
        parent_id=record.parent_id,
        created_at=to_timestamp(record.created_at),
        streaming=record.streaming,
        interrupted=bool((record.meta or {}).get("interrupted")),
        favorite=record.favorite_at is not None,
    )


def step_from_record(record: StepRecord) -> StepData:
    """The step a row stores (an unknown type reads as ``undefined``).

    Raises ``ValueError`` for a message row.
    """
    if record.type in MESSAGE_TYPES:
        raise ValueError(f"step {record.id!r} is a {record.type}, not a step")
    step_type = record.type if record.type in _STEP_TYPES else "undefined"
    if record.status in _STATUSES:
        status = record.status
    else:
        status = "failed" if record.is_error else "done"
    show_input: bool | str = False
    if record.show_input == "true":
        show_input = True
    elif record.show_input:
        show_input = record.show_input
    started = record.started_at or record.created_at
    return StepData(
        id=record.id,
        name=record.name,
        type=cast(StepType, step_type),
        parent_id=record.parent_id,
        input=record.input,
        output=record.output,
        status=cast(StepStatus, status),
        show_input=show_input,
        language=record.language,
        started_at=to_timestamp(started),
        ended_at=None if record.ended_at is None else to_timestamp(record.ended_at),
        interrupted=bool((record.meta or {}).get("interrupted")),
        generation=record.generation if isinstance(record.generation, dict) else None,
    )


def item_from_record(record: StepRecord) -> MessageData | StepData:
    """The message or step a row stores."""
    if record.type in MESSAGE_TYPES:
        return message_from_record(record)
    return step_from_record(record)


_DISPLAYS = ("inline", "side", "page")


def record_from_element(element: ElementData, thread_id: str, for_id: str) -> ElementRecord:
    """The row that stores an element shown with the message ``for_id``.

    The file itself is in file storage (``storage_key``); what the element shows inline
    (a text, a table, a task list) and how (its language, page, size) go in ``meta``.
    """
    meta = {
        "content": element.content,
        "language": element.language,
        "page": element.page,
        "extra": element.extra,
    }
    return ElementRecord(
        id=element.id,
        thread_id=thread_id,
        for_id=for_id,
        name=element.name,
        type=element.kind,
        mime=element.mime,
        size=element.size,
        storage_key=element.key,
        display=element.display,
        url=element.url,
        meta={key: value for key, value in meta.items() if value not in (None, {})},
    )


def element_from_record(record: ElementRecord) -> ElementData:
    """The element a row stores (an unknown display reads as ``inline``)."""
    meta = record.meta or {}
    display = record.display if record.display in _DISPLAYS else "inline"
    extra = meta.get("extra")
    return ElementData(
        id=record.id,
        kind=record.type,
        name=record.name,
        display=cast(Display, display),
        for_id=record.for_id,
        key=record.storage_key,
        url=record.url,
        mime=record.mime,
        size=record.size,
        content=meta.get("content"),
        language=meta.get("language"),
        page=meta.get("page"),
        extra=dict(extra) if isinstance(extra, dict) else {},
    )
