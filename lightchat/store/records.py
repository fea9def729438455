"""The tables: one SQLModel class per table, each named ``*Record``.

Records are rows, not domain objects: a message or step on screen is a
``lightchat.domain.events.MessageData``/``StepData``; ``lightchat.store.convert`` turns one into the
other. As in Chainlit, messages are steps: a ``StepRecord`` whose ``type`` is a message type
(``user_message``, ``assistant_message``, ``system_message``, ``error``) holds the message's
author in ``name`` and its text in ``output``.

The classes describe the schema at the newest migration. The schema itself is created and
changed only by the migrations in ``lightchat/store/migrations/versions`` (never by
``create_all``); a test checks that the two agree.

The tables carry a ``lightchat_`` prefix and their own ``MetaData``, so lightchat's store can
share a PostgreSQL database with an app's own tables (and an app's own SQLModel classes never
end up in lightchat's migrations).

Time columns hold timezone-aware UTC datetimes on both databases (``UTCDateTime``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    MetaData,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import configure_mappers, registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from lightchat.domain.events import new_id

__all__ = [
    "METADATA",
    "VERSION_TABLE",
    "ElementRecord",
    "FeedbackRecord",
    "McpServerRecord",
    "StepRecord",
    "ThreadRecord",
    "UTCDateTime",
    "UserRecord",
    "built",
    "utcnow",
]

#: Alembic's bookkeeping table; not ``alembic_version``, so an app's own Alembic can coexist.
VERSION_TABLE = "lightchat_schema_version"

#: Stable constraint names, so later migrations (and SQLite's batch mode) can refer to them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: lightchat's tables only (see the module docstring).
METADATA = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (what every time column holds)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database.

    PostgreSQL stores ``timestamptz``. SQLite has no time type: SQLAlchemy stores a fixed-width
    text that sorts in time order, and drops the zone, so values go in as naive UTC and come
    back with UTC attached. Naive datetimes are refused: their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalize to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give lightchat aware (UTC) datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach (or convert to) UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON everywhere, JSONB on PostgreSQL (smaller, indexable).
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

#: The same for a column that may hold nothing: None is SQL's NULL, not JSON's ``null``.
NullableJSON: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)


def _metadata_field() -> Any:
    # The attribute is ``meta``: ``metadata`` is taken by SQLAlchemy's declarative base.
    return Field(default_factory=dict, sa_type=JSONType, sa_column_kwargs={"name": "metadata"})


def _time_field(*, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime)
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


class _Record(SQLModel, registry=registry(metadata=METADATA)):
    """Base of lightchat's tables: their own registry and metadata."""


class UserRecord(_Record, table=True):
    """A signed-in user. ``identifier`` is what the auth callback returned (e.g. an email)."""

    __tablename__ = "lightchat_users"

    id: str = Field(default_factory=new_id, primary_key=True)
    identifier: str = Field(unique=True)
    display_name: str | None = None
    meta: dict[str, Any] = _metadata_field()
    created_at: datetime = _time_field()


class ThreadRecord(_Record, table=True):
    """A conversation.

    ``owner`` is the access key every read and write checks: the signed-in user's key when
    authentication is on, the browser's key otherwise. ``user_id`` links a signed-in user's
    thread to its ``UserRecord`` (it is None for browser-owned threads). ``name`` is None until
    the first user message names it (or the user renames it). ``shared_at`` is when its
    owner shared it (a read-only page at a stable link); None while it is not shared.
    ``client_type`` is the client the chat ran in (``webapp``, ``copilot``...), None for
    threads written before it was kept.
    """

    __tablename__ = "lightchat_threads"
    __table_args__ = (
        # Listing a history: WHERE owner = ? ORDER BY updated_at DESC, id DESC LIMIT n.
        Index("ix_lightchat_threads_owner_recent", "owner", "updated_at", "id"),
        # The analytics page: chats per day.
        Index("ix_lightchat_threads_created", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    owner: str
    user_id: str | None = Field(
        default=None, foreign_key="lightchat_users.id", ondelete="SET NULL", index=True
    )
    name: str | None = None
    tags: list[str] = Field(default_factory=list, sa_type=JSONType)
    meta: dict[str, Any] = _metadata_field()
    created_at: datetime = _time_field()
    updated_at: datetime = _time_field()
    shared_at: datetime | None = _time_field(nullable=True)
    client_type: str | None = None


class StepRecord(_Record, table=True):
    """A message or a step of a thread (see the module docstring).

    ``status`` is ``running``/``done``/``failed`` for steps and None for messages;
    ``is_error`` is true for failed steps and error messages; ``streaming`` is true for a
    message persisted while its answer was still being written (e.g. a stopped run).
    ``show_input`` is None (hide), ``"true"`` or the language to show the input in.
    ``favorite_at`` is when the thread's owner marked the message as a favourite
    (``features.favorites``); None: it is not one. The history's writes of the message
    never change it: only marking and unmarking do. ``generation`` is the LLM call the
    step made (Literal AI's shape, as ``lightchat.domain.generation.generation_dict``
    makes it), None for a step without one and for messages.

    ``started_at`` and ``ended_at`` are a step's times. On a question (a ``user_message``)
    they time the run it started: ``started_at`` is when the first text of its answer
    appeared (the time to first token is ``started_at - created_at``), ``ended_at`` when
    the run ended; None for questions written before they were kept, and for other
    messages.
    """

    __tablename__ = "lightchat_steps"
    __table_args__ = (
        # Opening a thread: WHERE thread_id = ? ORDER BY created_at; also serves the cascade.
        Index("ix_lightchat_steps_thread_created", "thread_id", "created_at"),
        # A user's favourites: the few marked steps of their threads, newest first. Partial,
        # so the steps nobody marked (nearly all) cost the index nothing.
        Index(
            "ix_lightchat_steps_favorites",
            "thread_id",
            "created_at",
            sqlite_where=text("favorite_at IS NOT NULL"),
            postgresql_where=text("favorite_at IS NOT NULL"),
        ),
        # The analytics page: messages per day, by type, and the questions' times (the
        # columns they read, so that they are counted from the index alone).
        Index(
            "ix_lightchat_steps_type_created",
            "type",
            "created_at",
            "thread_id",
            "started_at",
            "ended_at",
        ),
        # ... the errors and the generations per day: partial, few steps are either.
        Index(
            "ix_lightchat_steps_errors",
            "created_at",
            sqlite_where=text("is_error"),
            postgresql_where=text("is_error"),
        ),
        Index(
            "ix_lightchat_steps_generations",
            "created_at",
            sqlite_where=text("generation IS NOT NULL"),
            postgresql_where=text("generation IS NOT NULL"),
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    thread_id: str = Field(foreign_key="lightchat_threads.id", ondelete="CASCADE")
    parent_id: str | None = None
    name: str = ""
    type: str = "undefined"
    input: str = Field(default="", sa_type=Text)
    output: str = Field(default="", sa_type=Text)
    language: str | None = None
    is_error: bool = False
    status: str | None = None
    streaming: bool = False
    show_input: str | None = None
    created_at: datetime = _time_field()
    started_at: datetime | None = _time_field(nullable=True)
    ended_at: datetime | None = _time_field(nullable=True)
    meta: dict[str, Any] = _metadata_field()
    favorite_at: datetime | None = _time_field(nullable=True)
    generation: dict[str, Any] | None = Field(default=None, sa_type=NullableJSON)


class ElementRecord(_Record, table=True):
    """A file, image or other element shown in a thread, attached to a step (``for_id``).

    ``storage_key`` names the file in the file storage (None for elements that only have a
    ``url`` or inline content in ``meta``).
    """

    __tablename__ = "lightchat_elements"
    __table_args__ = (Index("ix_lightchat_elements_thread_for", "thread_id", "for_id"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    thread_id: str = Field(foreign_key="lightchat_threads.id", ondelete="CASCADE")
    for_id: str | None = None
    name: str = ""
    type: str = "file"
    mime: str | None = None
    size: int | None = None
    storage_key: str | None = None
    display: str = "inline"
    url: str | None = None
    meta: dict[str, Any] = _metadata_field()
    created_at: datetime = _time_field()


class FeedbackRecord(_Record, table=True):
    """A user's verdict on a step (1 helpful, 0 not helpful): at most one per step."""

    __tablename__ = "lightchat_feedback"
    __table_args__ = (
        CheckConstraint("value IN (0, 1)", name="value"),
        # The "threads with feedback" filter: EXISTS (... WHERE thread_id = ? AND value = ?).
        Index("ix_lightchat_feedback_thread_value", "thread_id", "value"),
        # The analytics page: feedback per day, and the newest comments.
        Index("ix_lightchat_feedback_created", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    for_id: str = Field(foreign_key="lightchat_steps.id", ondelete="CASCADE", unique=True)
    thread_id: str = Field(foreign_key="lightchat_threads.id", ondelete="CASCADE")
    value: int
    comment: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _time_field()


class McpServerRecord(_Record, table=True):
    """An MCP server a user added in a chat, remembered for their next chats.

    ``owner`` is the key that owns the user's threads (a signed-in user's, or a browser's);
    a name is unique per owner. ``kind`` is ``stdio``, ``sse`` or ``streamable-http``.
    ``sealed`` is the server's command, or its URL and headers, encrypted with the app's
    secret by the chat (``lightchat.chat.mcp_memory``): the store never sees them in clear.
    """

    __tablename__ = "lightchat_mcp_servers"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    owner: str
    name: str
    kind: str
    sealed: str = Field(sa_type=Text)
    created_at: datetime = _time_field()


R = TypeVar("R", bound=SQLModel)


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


@cache
def _defaults(record_class: type[SQLModel]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """(field, what makes its default) for each field of a record class that has one."""
    configure_mappers()  # the attributes work once the mappers are set up
    made: list[tuple[str, Callable[[], Any]]] = []
    for name, field in record_class.model_fields.items():
        if field.default_factory is not None:
            made.append((name, field.default_factory))  # type: ignore[arg-type]
        elif field.default is not PydanticUndefined:
            made.append((name, _constant(field.default)))
    return tuple(made)


def built(record_class: type[R], values: dict[str, Any]) -> R:
    """A record of ``values`` that are already what the fields hold (the right types, none
    missing without a default), built the way the ORM builds the rows it loads: a new
    instance whose attributes are set as given, the others to their defaults, without the
    validation the constructor and ``model_validate`` run (several times the cost).

    For values lightchat made itself (a row read, a message turned into its row); values
    from elsewhere go through the constructor.
    """
    for name, default in _defaults(record_class):
        if name not in values:
            values[name] = default()
    record: R = sa_inspect(record_class).class_manager.new_instance()
    record.__dict__.update(values)
    object.__setattr__(record, "__pydantic_fields_set__", set(values))
    return record
