"""Persistence: users, threads, steps, elements and feedback, and the files they point to.

Layer 3 (see docs/architecture.md, "The layers, as folders"): the store imports only the
domain (``lightchat.domain.events``), the errors and file storage; it knows nothing of the
bus, the session or HTTP. It is the only place that imports SQLModel, SQLAlchemy and
Alembic.

The parts, one concept per module:

- ``records``: the tables (``UserRecord``, ``ThreadRecord``, ``StepRecord``,
  ``ElementRecord``, ``FeedbackRecord``, ``McpServerRecord``);
- ``engine``: database URLs and the async engine (SQLite/aiosqlite, PostgreSQL/asyncpg);
- ``migrate``: versioned schema migrations, applied on start (with Alembic, which
  ``migrations.runner`` imports only when a database needs migrating);
- ``layer``: the ``DataLayer`` interface an app may implement (``@data_layer``), and the
  optional ones (``BatchWriter``, ``OutputWriter``, ``ThreadsWriter``, ``ThreadLister``,
  ``ThreadSharing``, ``FavoriteSteps``, ``McpServerKeeper``);
- ``sql``: ``SQLStore``, the interface on SQLite or PostgreSQL;
- ``memory``: ``MemoryStore``, the interface in process memory;
- ``convert``: ``StepRecord`` <-> ``MessageData``/``StepData``;
- ``lightchat.files`` (re-exported here): the ``FileStorage`` interface and
  ``LocalFileStorage``.

A typical start and use::

    store = await SQLStore.open(default_database_url(app_dir))   # migrates
    thread = await store.create_thread(owner)
    await store.upsert_step(record_from_item(message, thread.id), owner=owner)
    page = await store.list_threads(owner, Pagination(first=20))
"""

from __future__ import annotations

from lightchat.files import (
    DEFAULT_MAX_BYTES,
    FileStorage,
    FileTooLargeError,
    InvalidKeyError,
    LocalFileStorage,
    StoredFile,
)
from lightchat.store.chainlit_layer import ChainlitLayer, adapt_chainlit_layer, is_chainlit_layer
from lightchat.store.convert import (
    MESSAGE_TYPES,
    element_from_record,
    item_from_record,
    message_from_record,
    record_from_element,
    record_from_item,
    record_from_message,
    record_from_step,
    step_from_record,
)
from lightchat.store.engine import database_url, default_database_url, make_engine
from lightchat.store.errors import (
    ConflictError,
    InvalidCursorError,
    NotFoundError,
    StoreError,
)
from lightchat.store.layer import (
    MAX_PAGE_SIZE,
    THREAD_NAME_LENGTH,
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
    missing_operations,
    thread_name,
)
from lightchat.store.memory import MemoryStore
from lightchat.store.migrate import current_revision, head_revision, upgrade
from lightchat.store.records import (
    ElementRecord,
    FeedbackRecord,
    McpServerRecord,
    StepRecord,
    ThreadRecord,
    UserRecord,
)
from lightchat.store.sql import SQLStore

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_PAGE_SIZE",
    "MESSAGE_TYPES",
    "THREAD_NAME_LENGTH",
    "BatchWriter",
    "ChainlitLayer",
    "ConflictError",
    "DataLayer",
    "ElementRecord",
    "FavoriteSteps",
    "FeedbackRecord",
    "FileStorage",
    "FileTooLargeError",
    "InvalidCursorError",
    "InvalidKeyError",
    "LocalFileStorage",
    "McpServerKeeper",
    "McpServerRecord",
    "MemoryStore",
    "NotFoundError",
    "OutputWriter",
    "Pagination",
    "SQLStore",
    "StepRecord",
    "StoreError",
    "StoredFile",
    "StoredThread",
    "ThreadFields",
    "ThreadFilter",
    "ThreadLister",
    "ThreadListing",
    "ThreadPage",
    "ThreadRecord",
    "ThreadSharing",
    "ThreadsWriter",
    "UserRecord",
    "adapt_chainlit_layer",
    "current_revision",
    "database_url",
    "default_database_url",
    "element_from_record",
    "head_revision",
    "is_chainlit_layer",
    "item_from_record",
    "make_engine",
    "message_from_record",
    "missing_operations",
    "record_from_element",
    "record_from_item",
    "record_from_message",
    "record_from_step",
    "step_from_record",
    "thread_name",
    "upgrade",
]
