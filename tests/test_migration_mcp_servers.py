"""Migration 0006 (the MCP servers users remember), on SQLite and PostgreSQL: a database made
by 0005 keeps its chats when it gains ``lightchat_mcp_servers``, and again when it goes back
down; a server is kept by owner and name, replaced by a later one of the same name, listed
for its owner only, and forgotten."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lightchat.store import (
    McpServerRecord,
    MemoryStore,
    SQLStore,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from lightchat.store.layer import McpServerKeeper
from lightchat.store.migrate import downgrade, schema_differences
from lightchat.store.records import UTCDateTime, utcnow
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chat.db'}"
    else:
        with postgres_database() as made:
            yield made


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))


async def _chat_made_by_0005(engine: AsyncEngine) -> None:
    at = bindparam("at", type_=UTCDateTime())
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO lightchat_threads (id, owner, name, tags, metadata, created_at,"
                " updated_at) VALUES ('t1', 'me', 'Old chat', '[]', '{}', :at, :at)"
            ).bindparams(at),
            {"at": utcnow()},
        )


async def test_0006_adds_the_servers_table_and_keeps_old_chats_both_ways(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine, "0005")
        await _chat_made_by_0005(engine)

        await upgrade(engine)
        assert await current_revision(engine) == head_revision() == "0007"
        assert await schema_differences(engine) == []
        assert "lightchat_mcp_servers" in await _tables(engine)
        store = SQLStore(engine)
        await store.save_mcp_server(
            McpServerRecord(owner="me", name="files", kind="stdio", sealed="opaque")
        )
        assert [s.name for s in await store.list_mcp_servers("me")] == ["files"]

        await downgrade(engine, "0005")
        assert "lightchat_mcp_servers" not in await _tables(engine)
        async with engine.connect() as connection:  # the 0005 schema: not today's records
            found = await connection.execute(text("SELECT name FROM lightchat_threads"))
            assert found.scalars().all() == ["Old chat"]

        await upgrade(engine)
        assert await store.list_mcp_servers("me") == []  # the servers went with their table
    finally:
        await engine.dispose()


async def _keeps_servers_by_owner_and_name(store: McpServerKeeper) -> None:
    first = await store.save_mcp_server(
        McpServerRecord(owner="ada", name="files", kind="stdio", sealed="one")
    )
    await store.save_mcp_server(
        McpServerRecord(owner="ada", name="weather", kind="sse", sealed="two")
    )
    await store.save_mcp_server(McpServerRecord(owner="bob", name="files", kind="sse", sealed="b"))
    again = await store.save_mcp_server(
        McpServerRecord(owner="ada", name="files", kind="streamable-http", sealed="three")
    )
    assert (again.id, again.created_at) == (first.id, first.created_at)  # replaced in place
    listed = await store.list_mcp_servers("ada")
    assert [(s.name, s.kind, s.sealed) for s in listed] == [
        ("files", "streamable-http", "three"),
        ("weather", "sse", "two"),
    ]
    assert [s.sealed for s in await store.list_mcp_servers("bob")] == ["b"]
    assert await store.delete_mcp_server("ada", "files")
    assert not await store.delete_mcp_server("ada", "files")
    assert [s.name for s in await store.list_mcp_servers("ada")] == ["weather"]
    assert [s.name for s in await store.list_mcp_servers("bob")] == ["files"]  # not bob's


async def test_the_sql_store_keeps_servers_by_owner_and_name(url: str) -> None:
    store = await SQLStore.open(url)
    try:
        await _keeps_servers_by_owner_and_name(store)
    finally:
        await store.close()


async def test_the_memory_store_keeps_servers_by_owner_and_name() -> None:
    await _keeps_servers_by_owner_and_name(MemoryStore())
