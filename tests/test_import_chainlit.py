"""``lightchat import-chainlit SOURCE``: a Chainlit database's history copied into
lightchat's store, from either of Chainlit's schemas, on the real PostgreSQL server and on
SQLite; a second run copies nothing twice, an interrupted one goes on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from lightchat.cli import main
from lightchat.store import SQLStore, StoredThread
from lightchat.store.chainlit_import import import_chainlit
from tests.chainlit_schemas import (
    ADA,
    ANSWER,
    OFFICIAL_DDL,
    OFFICIAL_SAMPLE,
    ROME,
    SQLALCHEMY_DDL,
    SQLALCHEMY_SAMPLE,
    create_tables,
)
from tests.pg import postgres_database

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def pg() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["import-chainlit", *args])
    return result.exit_code, result.output


def stored(target: str) -> tuple[StoredThread | None, list[str]]:
    """Ada's Rome thread in lightchat's store at ``target``, and the users there."""

    async def read() -> tuple[StoredThread | None, list[str]]:
        store = await SQLStore.open(target)
        try:
            thread = await store.load_thread(uuid.UUID(ROME).hex, owner="user:ada")
            users = [u.identifier for u in [await store.get_user("ada")] if u is not None]
            return thread, users
        finally:
            await store.close()

    return asyncio.run(read())


def check_rome(target: str) -> None:
    thread, users = stored(target)
    assert users == ["ada"]
    assert thread is not None
    assert thread.thread.name == "Trip to Rome"
    assert thread.thread.user_id is not None
    assert thread.thread.updated_at > thread.thread.created_at  # its latest step's time
    assert [(s.type, s.output) for s in thread.steps] == [
        ("user_message", "Plan a trip to Rome"),
        ("assistant_message", "Day 1: the Colosseum"),
    ]
    answer = uuid.UUID(ANSWER).hex
    assert [(k, f.value, f.comment) for k, f in thread.feedback.items()] == [
        (answer, 1, "great plan")
    ]
    [element] = thread.elements
    assert (element.name, element.for_id) == ("itinerary.txt", answer)
    assert element.url == "https://files.example.com/itinerary.txt"


def test_the_official_schema_on_postgresql_into_sqlite(pg: str, tmp_path: Path) -> None:
    create_tables(pg, OFFICIAL_DDL + OFFICIAL_SAMPLE)
    target = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    code, said = run(pg, "--to", target)
    assert code == 0, said
    assert "Source: Chainlit's official (DATABASE_URL) schema" in said
    assert "Users: 1" in said
    assert "Threads copied: 1 (2 steps, 1 elements, 1 feedback)" in said
    check_rome(target)

    code, said = run(pg, "--to", target)  # again: nothing twice
    assert code == 0, said
    assert "Threads copied: 0" in said
    assert "Threads already in the store (skipped): 1" in said
    check_rome(target)


def test_sqlalchemy_schema_on_sqlite_into_postgresql(pg: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'chainlit.db'}"
    create_tables(source, SQLALCHEMY_DDL + SQLALCHEMY_SAMPLE)
    code, said = run(source, "--to", pg)
    assert code == 0, said
    assert "Source: Chainlit's SQLAlchemyDataLayer schema" in said
    assert "Threads copied: 1 (2 steps, 1 elements, 1 feedback)" in said
    check_rome(pg)
    code, said = run(source, "--to", pg)
    assert "Threads already in the store (skipped): 1" in said


def test_the_default_target_is_the_app_folders_store(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'chainlit.db'}"
    create_tables(source, SQLALCHEMY_DDL + SQLALCHEMY_SAMPLE)
    code, said = run(source, "--app-dir", str(tmp_path / "app"))
    assert code == 0, said
    check_rome(f"sqlite+aiosqlite:///{tmp_path / 'app' / '.lightchat' / 'chat.db'}")


def test_an_interrupted_copy_goes_on_where_it_stopped(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'chainlit.db'}"
    more = [
        f"""INSERT INTO threads (id, "createdAt", name, "userId", "userIdentifier", metadata)
            VALUES ('{uuid.uuid4()}', '2025-03-0{day}T10:00:00.000Z', 'Day {day}',
            '{ADA}', 'ada', '{{}}')"""
        for day in (2, 3, 4)
    ]
    create_tables(source, SQLALCHEMY_DDL + SQLALCHEMY_SAMPLE + more)
    target = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"

    async def interrupted() -> None:
        store = await SQLStore.open(target)
        copied: list[int] = []

        def after_each() -> None:
            copied.append(1)
            if len(copied) == 2:
                raise KeyboardInterrupt

        try:
            with pytest.raises(KeyboardInterrupt):
                await import_chainlit(source, store, on_thread=after_each)
            page = await store.list_threads("user:ada")
            assert sorted(t.name or "" for t in page.threads) == ["Day 2", "Trip to Rome"]
        finally:
            await store.close()

    asyncio.run(interrupted())
    code, said = run(source, "--to", target)
    assert code == 0, said
    assert "Threads copied: 2 (0 steps, 0 elements, 0 feedback)" in said
    assert "Threads already in the store (skipped): 2" in said
    check_rome(target)


def test_a_database_without_chainlits_tables_is_refused(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'empty.db'}"
    create_tables(source, ["CREATE TABLE notes (id TEXT)"])
    code, said = run(source, "--to", f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    assert code == 2
    assert "No Chainlit tables there" in said
