"""Database URLs and the async engine: SQLite (aiosqlite) by default, PostgreSQL (asyncpg).

``make_engine`` is the only place that knows driver details:

- ``postgresql://`` and ``postgres://`` URLs are run through asyncpg; ``sqlite://`` through
  aiosqlite. An explicit driver (``postgresql+psycopg://``) is kept as given. Other databases
  are refused: the store relies on SQLite's and PostgreSQL's ``ON CONFLICT`` upserts.
- SQLite: the file's folder is created; every connection turns on WAL mode (readers never
  wait for the writer), foreign keys (the cascades delete a thread's steps, elements and
  feedback), ``synchronous=NORMAL`` (safe with WAL) and a 5 s busy timeout.

Transactions on SQLite: the sqlite3 module opens transactions lazily and in "deferred" mode,
so a transaction that reads and then writes can fail with "database is locked" when another
connection wrote in between. The engine therefore switches the module's own transaction
handling off and emits ``BEGIN`` itself (the recipe from SQLAlchemy's SQLite documentation):
plain ``BEGIN`` for reads, ``BEGIN IMMEDIATE`` for connections made with the
``WRITE_OPTION`` execution option (see :func:`writer`), and none for connections made with
``ONE_READ_OPTION`` (see :func:`one_read`): a single ``SELECT`` reads one snapshot by
itself. Writers thus queue on SQLite's lock up front (waiting up to the busy timeout)
instead of failing halfway; readers run alongside them. This also makes SQLite's DDL
transactional, so a migration applies whole or not at all.

Creating an engine opens no connection; the first query does.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from lightchat.errors import ConfigError

__all__ = [
    "ONE_READ_OPTION",
    "WRITE_OPTION",
    "database_url",
    "default_database_url",
    "is_sqlite",
    "make_engine",
    "one_read",
    "writer",
]

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "lightchat_write"
#: Execution option that makes a SQLite connection begin no transaction (one ``SELECT``).
ONE_READ_OPTION = "lightchat_one_read"

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def default_database_url(app_dir: Path) -> str:
    """The embedded default: ``.lightchat/chat.db`` in the app's folder.

    >>> default_database_url(Path("/srv/app"))
    'sqlite+aiosqlite:////srv/app/.lightchat/chat.db'
    """
    path = (app_dir / ".lightchat" / "chat.db").absolute()
    return f"sqlite+aiosqlite:///{path.as_posix()}"


def database_url(url: str) -> URL:
    """Parse a database URL and pick the async driver when none is named.

    >>> database_url("postgres://me@db/chat").render_as_string()
    'postgresql+asyncpg://me@db/chat'

    Raises ``ConfigError`` for a malformed URL or a database other than SQLite/PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"Cannot read the database URL {url!r}: use e.g. "
            "'sqlite+aiosqlite:///path/chat.db' or 'postgresql://user@host/dbname'."
        ) from exc
    name, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if name == "postgres" else name
    if backend not in _DRIVERS:
        raise ConfigError(
            f"lightchat stores chats in SQLite or PostgreSQL, not {backend!r}: set the "
            "database URL to 'sqlite:///path/chat.db' or 'postgresql://user@host/dbname'."
        )
    return parsed.set(drivername=f"{backend}+{driver}" if driver else _DRIVERS[backend])


def is_sqlite(engine: AsyncEngine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) with transactions that are meant to write.

    On SQLite they begin with ``BEGIN IMMEDIATE`` (see the module docstring); elsewhere the
    option changes nothing.
    """
    return engine.execution_options(**{WRITE_OPTION: True})


def one_read(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for connections that run a single ``SELECT``.

    On SQLite they begin no transaction (see the module docstring): the statement is one
    snapshot by itself, and the ``BEGIN`` would cost another round trip to the driver's
    thread; elsewhere the option changes nothing.
    """
    return engine.execution_options(**{ONE_READ_OPTION: True})


def make_engine(url: str, *, schema: str | None = None, **options: Any) -> AsyncEngine:
    """An async engine for a database URL (see the module docstring for what it sets up).

    ``schema`` (PostgreSQL only) puts lightchat's tables in that schema, which must exist,
    by setting each connection's ``search_path``. Other keyword arguments go to SQLAlchemy's
    ``create_async_engine`` (e.g. ``pool_size``, ``echo``).

    >>> engine = make_engine("sqlite:///.lightchat/chat.db")  # doctest: +SKIP
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise ConfigError("The 'schema' option is for PostgreSQL; SQLite has none.")
        return _sqlite_engine(parsed, options)
    if schema is not None:
        connect_args = dict(options.pop("connect_args", {}))
        settings = dict(connect_args.get("server_settings", {}))
        settings["search_path"] = schema
        connect_args["server_settings"] = settings
        options["connect_args"] = connect_args
    options.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, **options)


def _sqlite_engine(url: URL, options: dict[str, Any]) -> AsyncEngine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        # Each connection to ":memory:" is a new, empty database: share one connection.
        options.setdefault("poolclass", StaticPool)
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # None: the driver emits no BEGIN of its own; _sqlite_on_begin does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        _set_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _set_wal(cursor: Any, attempts: int = 50) -> None:
    """Switch to WAL, retrying while another connection holds the new database's lock.

    SQLite answers a journal mode change it cannot make at once with "database is locked"
    without waiting for the busy timeout; it happens when several workers open a brand-new
    database at the same moment. The mode persists in the file, so only that first moment
    retries. (This runs in the driver's thread, so sleeping blocks no event loop.)
    """
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError, wrapped by SQLAlchemy
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.05 * random.random())


def _sqlite_on_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get(WRITE_OPTION, False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif not options.get(ONE_READ_OPTION, False):
        connection.exec_driver_sql("BEGIN")
