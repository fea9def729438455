"""Running the migration scripts with Alembic (imported by ``lightchat.store.migrate``
only when the database is not at the newest version: a current one never loads Alembic).

How it runs: Alembic is synchronous, the engine is async, so ``run`` opens one async
connection, begins a transaction and hands the underlying sync connection to Alembic with
``run_sync``. Every pending migration then runs in that single transaction (DDL is
transactional on both databases; on SQLite see ``lightchat.store.engine``), so a failed
upgrade leaves the database as it was.

Concurrency: several workers may start at once. On PostgreSQL the transaction first takes
a transaction-scoped advisory lock, so one worker migrates while the others wait, then find
nothing left to do. On SQLite the transaction begins with ``BEGIN IMMEDIATE``, which gives
the same one-at-a-time guarantee through SQLite's own write lock.
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

__all__ = ["MIGRATIONS_DIR", "differences", "run", "script_head"]

#: Where Alembic finds ``env.py`` and the version scripts.
MIGRATIONS_DIR = Path(__file__).parent

# Arbitrary, fixed: all lightchat processes on one PostgreSQL database agree on it.
_ADVISORY_LOCK_KEY = 0x6C69676874636874


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_head() -> str:
    """The id of the newest migration script."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "lightchat ships at least one migration"
    return head


async def run(engine: AsyncEngine, direction: str, revision: str) -> None:
    """Migrate (``direction`` ``"upgrade"`` or ``"downgrade"``) to ``revision``."""
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
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        found = context.get_current_revision()
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if found is not None and found not in known:
            raise StoreError(
                f"The database is at lightchat schema version {found!r}, newer than this "
                f"lightchat knows (up to {script_head()!r}): a newer lightchat made it. "
                "Upgrade lightchat, or point it at another database."
            ) from exc
        raise StoreError(f"Cannot {direction} lightchat's tables to {revision!r}: {exc}") from exc


async def differences(engine: AsyncEngine) -> list[Any]:
    """Alembic's autogenerate diffs between the database and ``records.py``."""
    async with engine.connect() as connection:
        return await connection.run_sync(_differences)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return list(compare_metadata(context, METADATA))
