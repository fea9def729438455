"""Throwaway PostgreSQL databases for tests that run a whole app (HTTP and browser tests).

The app's history takes a database URL and nothing else, so each use gets a database of
its own, made with asyncpg on the server in ``LIGHTCHAT_TEST_POSTGRES_URL`` (default: the
``test`` database on 127.0.0.1) and dropped afterwards. Tests are skipped, saying why, only
when no server answers.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import asyncpg
import pytest

PG_URL = os.environ.get("LIGHTCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _run(statement: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    # On a loop of its own in another thread: callers may be inside a running loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, execute()).result()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its URL and drops it at the end."""
    name = f"lightchat_test_{uuid.uuid4().hex[:12]}"
    try:
        _run(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL does not answer at {PG_URL} ({exc.__class__.__name__})")
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _run(f'DROP DATABASE "{name}" WITH (FORCE)')
