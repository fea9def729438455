"""Versioned schema migrations (Alembic), applied when the store opens.

The scripts ship inside the package (``lightchat/store/migrations/versions``), one per
schema version, with sequential ids (``0001``, ``0002``, ...). Alembic records the applied
version in ``lightchat_schema_version``. ``upgrade(engine)`` brings a database of any older
version (or an empty one) to the newest, keeping its rows; the app calls it on start.

How it runs: Alembic is synchronous, the engine is async, so ``upgrade`` opens one async
connection, begins a transaction and hands the underlying sync connection to Alembic with
``run_sync``. Every pending migration then runs in that single transaction (DDL is
transactional on both databases; on SQLite see ``engine``), so a failed upgrade leaves the
database as it was.

Concurrency: several workers may start at once. On PostgreSQL the transaction first takes
a transaction-scoped advisory lock, so one worker migrates while the others wait, then find
nothing left to do. On SQLite the transaction begins with ``BEGIN IMMEDIATE``, which gives
the same one-at-a-time guarantee through SQLite's own write lock.

Writing a new migration: copy the newest script, bump ``revision``/``down_revision``, spell
out column types in the script (never import ``records``), update ``records.py`` to match,
and run the tests: ``test_records_match_migrations`` fails while the two disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from lightchat.store.engine import writer
from lightchat.store.errors import StoreError
from lightchat.store.records import METADATA, VERSION_TABLE

__all__ = [
    "MIGRATIONS_DIR",
    "current_revision",
    "downgrade",
    "head_revision",
    "schema_differences",
    "upgrade",
]

#: Where Alembic finds ``env.py`` and the version scripts.
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Arbitrary, fixed: all lightchat processes on one PostgreSQL database agree on it.
_ADVISORY_LOCK_KEY = 0x6C69676874636874


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema version this lightchat knows (e.g. ``"0002"``)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "lightchat ships at least one migration"
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's schema version, or None for a database lightchat never touched."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the pending migrations up to ``revision`` (the newest by default).

    Safe to call on every start and from several processes at once (see the module
    docstring). Raises ``StoreError`` when the database was migrated by a newer lightchat.
    """
    await _run(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Undo migrations down to ``revision`` (``"base"`` removes lightchat's tables).

    For development and rollbacks; an app never calls it on its own.
    """
    await _run(engine, "downgrade", revision)


async def _run(engine: AsyncEngine, direction: str, revision: str) -> None:
    async with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        await connection.run_sync(_migrate, direction, revision)


def _migrate(connection: Connection, direction: str, revision: str) -> None:
    config = _config(connection)
    try:
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
    except CommandError as exc:
        found = _current_revision(connection)
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if found is not None and found not in known:
            raise StoreError(
                f"The database is at lightchat schema version {found!r}, newer than this "
                f"lightchat knows (up to {head_revision()!r}): a newer lightchat made it. "
                "Upgrade lightchat, or point it at another database."
            ) from exc
        raise StoreError(f"Cannot {direction} lightchat's tables to {revision!r}: {exc}") from exc


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    """What differs between the database's schema and ``records.py`` (empty when in sync).

    Each item is one of Alembic's autogenerate diffs, e.g. ``("add_column", ...)``.
    """
    async with engine.connect() as connection:
        return await connection.run_sync(_differences)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return list(compare_metadata(context, METADATA))
