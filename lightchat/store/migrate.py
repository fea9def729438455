"""Versioned schema migrations, applied when the store opens.

The scripts ship inside the package (``lightchat/store/migrations/versions``), one per
schema version, with sequential ids (``0001``, ``0002``, ...). Alembic records the applied
version in ``lightchat_schema_version``. ``upgrade(engine)`` brings a database of any older
version (or an empty one) to the newest, keeping its rows; the app calls it on start.

Start-up cost: almost every start finds the database current. ``upgrade`` therefore first
reads the version table with one plain query and returns when it holds ``HEAD_REVISION``;
only a database that needs migrating imports Alembic (``lightchat.store.migrations.runner``,
which also describes how a migration runs and how concurrent starts take turns).

Writing a new migration: copy the newest script, bump ``revision``/``down_revision``, spell
out column types in the script (never import ``records``), update ``records.py`` to match,
set ``HEAD_REVISION`` to the new id, and run the tests: ``test_records_match_migrations``
fails while the records and the scripts disagree, and another test while ``HEAD_REVISION``
is not the newest script's id.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from lightchat.store.errors import StoreError
from lightchat.store.records import VERSION_TABLE

__all__ = [
    "HEAD_REVISION",
    "current_revision",
    "downgrade",
    "head_revision",
    "schema_differences",
    "upgrade",
]

#: The newest schema version, the id of the newest script in ``migrations/versions``.
HEAD_REVISION = "0007"

_READ_VERSION = text(f"SELECT version_num FROM {VERSION_TABLE}")


def _runner() -> ModuleType:
    # Imported on demand, not at the top: Alembic (with Mako) costs about 0.1 s and 6 MB
    # more, and a database that is already current never needs it (see the docstring).
    return importlib.import_module("lightchat.store.migrations.runner")


def head_revision() -> str:
    """The newest schema version this lightchat knows (e.g. ``"0002"``)."""
    return HEAD_REVISION


async def _versions(engine: AsyncEngine) -> list[str] | None:
    """The versions recorded in the database; None when it has no version table."""
    async with engine.connect() as connection:
        try:
            rows = await connection.execute(_READ_VERSION)
        except DBAPIError:  # no such table: a database lightchat never touched
            return None
        return sorted(str(version) for version in rows.scalars())


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's schema version, or None for a database lightchat never touched."""
    versions = await _versions(engine)
    if not versions:
        return None
    if len(versions) > 1:
        raise StoreError(
            f"The database records several lightchat schema versions ({versions}); "
            f"lightchat's migrations are linear. Keep one row in {VERSION_TABLE}."
        )
    return versions[0]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the pending migrations up to ``revision`` (the newest by default).

    Safe to call on every start and from several processes at once (see the module
    docstring). Raises ``StoreError`` when the database was migrated by a newer lightchat.
    """
    newest = revision in ("head", HEAD_REVISION)
    if newest and await _versions(engine) == [HEAD_REVISION]:
        return  # current: nothing to do, and Alembic stays unimported
    await _runner().run(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Undo migrations down to ``revision`` (``"base"`` removes lightchat's tables).

    For development and rollbacks; an app never calls it on its own.
    """
    await _runner().run(engine, "downgrade", revision)


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    """What differs between the database's schema and ``records.py`` (empty when in sync).

    Each item is one of Alembic's autogenerate diffs, e.g. ``("add_column", ...)``.
    """
    found: list[Any] = await _runner().differences(engine)
    return found
