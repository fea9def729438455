"""A database that is already current opens without importing Alembic.

Each check runs in a fresh Python process (``sys.modules`` of this one has Alembic from
other tests), on SQLite and on PostgreSQL: the first start migrates the new database, so it
needs Alembic; the second finds the schema current with one query and never imports it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightchat.store import SQLStore, current_revision, head_revision
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60), pytest.mark.processes]

OPEN_AND_REPORT = """
import asyncio, sys
from lightchat.store import SQLStore

async def main(url):
    store = await SQLStore.open(url)
    thread = await store.create_thread("me")
    assert await store.get_thread(thread.id, owner="me") is not None
    await store.close()

asyncio.run(main(sys.argv[1]))
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "alembic")
print("alembic" if loaded else "no alembic")
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chat.db'}"
    else:
        with postgres_database() as made:
            yield made


def start(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPEN_AND_REPORT, url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_a_current_database_starts_without_alembic(url: str) -> None:
    assert await asyncio.to_thread(start, url) == "alembic"  # a new database is migrated
    assert await asyncio.to_thread(start, url) == "no alembic"  # then it is current
    store = await SQLStore.open(url, migrate=False)
    try:
        assert await current_revision(store.engine) == head_revision()
    finally:
        await store.close()
