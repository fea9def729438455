"""Migration 0004 (favourite messages), on SQLite and PostgreSQL: a database made by 0003
keeps its chats when it gains ``lightchat_steps.favorite_at`` and its partial index, and
keeps them again when it goes back down (dropping the column must not drop, nor cascade
from, the steps table)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lightchat.store import SQLStore, current_revision, head_revision, make_engine, upgrade
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


async def _chat_made_by_0003(engine: AsyncEngine) -> None:
    """A thread with a question, an answer and feedback on it, as lightchat 0003 wrote them."""
    now = utcnow()
    at = bindparam("at", type_=UTCDateTime())
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO lightchat_threads (id, owner, name, tags, metadata, created_at,"
                " updated_at) VALUES ('t1', 'me', 'Old chat', '[]', '{}', :at, :at)"
            ).bindparams(at),
            {"at": now},
        )
        for n, (kind, output) in enumerate([("user_message", "Hi"), ("assistant_message", "Yo")]):
            await connection.execute(
                text(
                    "INSERT INTO lightchat_steps (id, thread_id, name, type, input, output,"
                    " is_error, streaming, created_at, metadata) VALUES (:id, 't1', 'n',"
                    " :type, '', :output, false, false, :at, '{}')"
                ).bindparams(at),
                {"id": f"s{n}", "type": kind, "output": output, "at": now + timedelta(seconds=n)},
            )
        await connection.execute(
            text(
                "INSERT INTO lightchat_feedback (id, for_id, thread_id, value, created_at)"
                " VALUES ('f1', 's1', 't1', 1, :at)"
            ).bindparams(at),
            {"at": now},
        )


async def _step_schema(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: (
                {c["name"] for c in inspect(sync).get_columns("lightchat_steps")},
                {str(i["name"]) for i in inspect(sync).get_indexes("lightchat_steps")},
            )
        )


async def test_0004_adds_favourites_and_keeps_old_chats_both_ways(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine, "0003")
        await _chat_made_by_0003(engine)

        await upgrade(engine)
        assert await current_revision(engine) == head_revision()  # 0004 and after
        assert await schema_differences(engine) == []
        columns, indexes = await _step_schema(engine)
        assert "favorite_at" in columns
        assert "ix_lightchat_steps_favorites" in indexes

        store = SQLStore(engine)
        assert await store.list_favorites("me") == []  # nothing old is a favourite
        await store.set_favorite("s0", owner="me", favorite=True)
        assert [step.output for step in await store.list_favorites("me")] == ["Hi"]

        await downgrade(engine, "0003")
        assert await current_revision(engine) == "0003"
        columns, indexes = await _step_schema(engine)
        assert "favorite_at" not in columns
        assert "ix_lightchat_steps_favorites" not in indexes
        async with engine.connect() as connection:
            steps = (await connection.execute(text("SELECT id FROM lightchat_steps"))).all()
            feedback = (await connection.execute(text("SELECT id FROM lightchat_feedback"))).all()
        assert sorted(row[0] for row in steps) == ["s0", "s1"]  # the chat is all there
        assert [row[0] for row in feedback] == ["f1"]

        await upgrade(engine)
        assert await store.list_favorites("me") == []  # the mark went with its column
        loaded = await store.load_thread("t1", owner="me")
        assert loaded is not None
        assert [s.output for s in loaded.steps] == ["Hi", "Yo"]
    finally:
        await engine.dispose()
