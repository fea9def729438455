"""Migration 0005 (a step's generation), on SQLite and PostgreSQL: a database made by 0004
keeps its chats when it gains ``lightchat_steps.generation`` (empty for the old steps, SQL's
NULL for the new ones without a generation), and keeps them again when it goes back down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lightchat.store import SQLStore, StepRecord, current_revision, make_engine, upgrade
from lightchat.store.migrate import downgrade, schema_differences
from lightchat.store.records import UTCDateTime, utcnow
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

GENERATION = {
    "type": "CHAT",
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Où est Lisbonne ? ✓"}],
    "settings": {"temperature": 0.2},
    "inputTokenCount": 9,
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chat.db'}"
    else:
        with postgres_database() as made:
            yield made


async def _chat_made_by_0004(engine: AsyncEngine) -> None:
    """A thread with a question, an LLM step and an answer with feedback, as 0004 wrote them."""
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
        rows = [("user_message", "Hi"), ("llm", "thinking"), ("assistant_message", "Yo")]
        for n, (kind, output) in enumerate(rows):
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
                " VALUES ('f1', 's2', 't1', 1, :at)"
            ).bindparams(at),
            {"at": now},
        )


async def _null_generations(engine: AsyncEngine) -> list[str]:
    """The steps whose generation column is SQL's NULL (not JSON's null)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT id FROM lightchat_steps WHERE generation IS NULL ORDER BY id")
        )
        return [row[0] for row in found.all()]


async def test_0005_adds_generations_and_keeps_old_chats_both_ways(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine, "0004")
        await _chat_made_by_0004(engine)

        await upgrade(engine, "0005")
        assert await current_revision(engine) == "0005"
        # The records describe the newest schema: only what later migrations add differs.
        later = {getattr(diff[-1], "name", None) for diff in await schema_differences(engine)}
        assert "lightchat_mcp_servers" in later
        assert "generation" not in later
        await upgrade(engine)  # the store reads the newest schema
        store = SQLStore(engine)
        loaded = await store.load_thread("t1", owner="me")
        assert loaded is not None
        assert [s.generation for s in loaded.steps] == [None, None, None]  # none had one

        llm = loaded.steps[1]
        await store.upsert_step(
            StepRecord.model_validate({**llm.model_dump(), "generation": GENERATION}), owner="me"
        )
        added = StepRecord(id="s3", thread_id="t1", name="plain", type="tool", output="x")
        await store.upsert_step(added, owner="me")
        again = await store.load_thread("t1", owner="me")
        assert again is not None
        assert {s.id: s.generation for s in again.steps} == {
            "s0": None,
            "s1": GENERATION,
            "s2": None,
            "s3": None,
        }
        assert await _null_generations(engine) == ["s0", "s2", "s3"]
        assert again.feedback["s2"].value == 1

        await downgrade(engine, "0004")
        assert await current_revision(engine) == "0004"
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("lightchat_steps")}
            )
            steps = (await connection.execute(text("SELECT id FROM lightchat_steps"))).all()
            feedback = (await connection.execute(text("SELECT id FROM lightchat_feedback"))).all()
        assert "generation" not in columns
        assert sorted(row[0] for row in steps) == ["s0", "s1", "s2", "s3"]  # all there
        assert [row[0] for row in feedback] == ["f1"]

        await upgrade(engine)
        back = await store.load_thread("t1", owner="me")
        assert back is not None
        assert [s.generation for s in back.steps] == [None, None, None, None]  # went with it
    finally:
        await engine.dispose()
