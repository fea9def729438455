"""``DATABASE_URL`` as Chainlit's official data layer uses it: lightchat serves the history
of a database Chainlit made (its Prisma schema, on the real PostgreSQL server), written by
the test as Chainlit would have, and writes new chats there in Chainlit's shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from lightchat import LightChat, Message, Settings, User
from lightchat.data.chainlit_data_layer import ChainlitDataLayer
from tests.chainlit_schemas import (
    ANSWER,
    OFFICIAL_DDL,
    OFFICIAL_SAMPLE,
    ROME,
    create_tables,
)
from tests.helpers import HTMX, Serve, Site, thread_items
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SECRET = "chainlit-db-secret-" + "x" * 40
PASSWORD = "correct horse"


@pytest.fixture
def chainlit_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL database made by Chainlit's layer, with ada's history in it; named by
    ``DATABASE_URL`` as in a Chainlit deployment."""
    with postgres_database() as url:
        create_tables(url, OFFICIAL_DDL + OFFICIAL_SAMPLE)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.delenv("LIGHTCHAT_DATABASE_URL", raising=False)
        yield url


def planner(tmp_path: Path, resumed: list[dict[str, Any]]) -> LightChat:
    app = LightChat(settings=Settings(name="Planner", app_dir=str(tmp_path), auth_secret=SECRET))

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return User(identifier=username) if password == PASSWORD else None

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Noted: {message.content}").send()

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        resumed.append(thread)

    return app


async def signed_in(site: Site, name: str) -> httpx.AsyncClient:
    client = site.browser()
    response = await client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


async def test_lightchat_serves_and_extends_a_chainlit_database(
    chainlit_database: str, tmp_path: Path, serve: Serve
) -> None:
    rome = f"/chat/{uuid.UUID(ROME).hex}"
    resumed: list[dict[str, Any]] = []
    async with serve(planner(tmp_path, resumed), lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, "ada"), await signed_in(site, "bob")

        # Listed and opened from Chainlit's tables.
        listed = await ada.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Trip to Rome"]
        page = await ada.get(rome)
        assert page.status_code == 200
        assert "Plan a trip to Rome" in page.text
        assert "Day 1: the Colosseum" in page.text
        assert "itinerary.txt" in page.text
        assert thread_items((await bob.get("/history", headers=HTMX)).text) == []
        assert (await bob.get(rome)).status_code == 404

        # Resumed: the new messages go to Chainlit's tables, in its shape.
        posted = await ada.post(f"{rome}/messages", data={"content": "Add a day in Florence"})
        assert posted.status_code == 303
        answer = (await ada.get(rome)).text
        assert "Noted: Add a day in Florence" in answer
        [thread] = resumed
        assert (thread["name"], thread["tags"]) == ("Trip to Rome", ["travel"])
        assert [s["output"] for s in thread["steps"]][:2] == [
            "Plan a trip to Rome",
            "Day 1: the Colosseum",
        ]

        # A new chat of ada's is a thread of Chainlit's user ada.
        await site.chat(ada, "Weekend in Lisbon")
        await site.history.flush()
        listed = await ada.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Weekend in Lisbon", "Trip to Rome"]

    connection = await asyncpg.connect(chainlit_database)
    try:
        steps = await connection.fetch(
            'SELECT type::text AS type, output, "startTime", "endTime", metadata '
            'FROM "Step" WHERE "threadId" = $1 ORDER BY "startTime", "createdAt"',
            ROME,
        )
        assert [(s["type"], s["output"]) for s in steps] == [
            ("user_message", "Plan a trip to Rome"),
            ("assistant_message", "Day 1: the Colosseum"),
            ("user_message", "Add a day in Florence"),
            ("assistant_message", "Noted: Add a day in Florence"),
        ]
        assert all(s["startTime"] is not None and s["endTime"] is not None for s in steps)
        lisbon = await connection.fetchrow(
            'SELECT t.id, t.name, u.identifier FROM "Thread" t JOIN "User" u '
            'ON t."userId" = u.id WHERE t.name = $1',
            "Weekend in Lisbon",
        )
        assert lisbon is not None
        assert lisbon["identifier"] == "ada"
        assert uuid.UUID(lisbon["id"]).hex != lisbon["id"]  # a UUID's usual text
        rating = await connection.fetchrow('SELECT value, comment FROM "Feedback" LIMIT 1')
        assert rating is not None
        assert (rating["value"], rating["comment"]) == (1.0, "great plan")
        kept = await connection.fetchval('SELECT count(*) FROM "Step" WHERE id = $1', ANSWER)
        assert kept == 1
    finally:
        await connection.close()


async def test_chainlits_class_for_it_serves_the_same_database(
    chainlit_database: str, tmp_path: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    app = planner(tmp_path, [])

    @app.data_layer
    def get_data_layer() -> ChainlitDataLayer:
        return ChainlitDataLayer(database_url=chainlit_database)

    async with serve(app, lifespan=True, opened_page=True) as site:
        ada = await signed_in(site, "ada")
        listed = await ada.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Trip to Rome"]
        page = await ada.get(f"/chat/{uuid.UUID(ROME).hex}")
        assert "Day 1: the Colosseum" in page.text
