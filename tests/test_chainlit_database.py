"""``DATABASE_URL`` as Chainlit's official data layer uses it: lightchat serves the history
of a database Chainlit made (its Prisma schema, on the real PostgreSQL server), written by
the test as Chainlit would have, and writes new chats there in Chainlit's shape; with a
bucket (moto's S3 server), the files Chainlit kept there are served to their owner and
new ones go there.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx
import pytest

from lightchat import LightChat, Message, Settings, User
from lightchat.data.chainlit_data_layer import ChainlitDataLayer
from lightchat.storage.s3 import S3StorageClient
from tests.chainlit_schemas import (
    ADA,
    ANSWER,
    OFFICIAL_DDL,
    OFFICIAL_SAMPLE,
    ROME,
    create_tables,
)
from tests.helpers import HTMX, Serve, Site, thread_items
from tests.pg import postgres_database
from tests.storage_servers import Endpoint, moto_s3

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


@pytest.fixture(scope="module")
def s3_server() -> Iterator[Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def bucket_variables(
    s3_server: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    """A new bucket on moto's S3 server, named by Chainlit's variables; its name and a
    boto3 client reading it directly."""
    name = f"files-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)
    for variable, value in {
        "BUCKET_NAME": name,
        "APP_AWS_ACCESS_KEY": "testing",
        "APP_AWS_SECRET_KEY": "testing",
        "APP_AWS_REGION": "us-east-1",
        "DEV_AWS_ENDPOINT": s3_server.url,
    }.items():
        monkeypatch.setenv(variable, value)
    yield name, client
    client.close()


BUCKET_FILE = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"
BUDGET = b"Hotel: 3 nights\n" * 5000  # several chunks


async def chainlit_file_in_bucket(url: str, bucket: str, s3: Any) -> str:
    """An element of ada's trip as Chainlit's layer stores a file with its storage client:
    the bytes only in the bucket, the row naming them by ``objectKey``, with no URL."""
    object_key = f"{ADA}/{BUCKET_FILE}/budget.txt"
    await asyncio.to_thread(
        s3.put_object, Bucket=bucket, Key=object_key, Body=BUDGET, ContentType="text/plain"
    )
    create_tables(
        url,
        [
            f"""INSERT INTO "Element" (id, "threadId", "stepId", metadata, mime, name,
            "objectKey", display, props) VALUES ('{BUCKET_FILE}', '{ROME}', '{ANSWER}',
            '{{"type": "file"}}', 'text/plain', 'budget.txt', '{object_key}', 'inline',
            '{{}}')"""
        ],
    )
    return object_key


def file_link(page: str, name: str) -> str:
    link = re.search(rf'<a class="lc-file" href="([^"]+)" download="{re.escape(name)}"', page)
    assert link is not None
    href = html.unescape(link.group(1))
    assert "/elements/" in href  # the app's URL, not one of the bucket's
    return href


async def test_files_chainlit_kept_in_the_bucket_are_served_and_new_ones_go_there(
    chainlit_database: str,
    bucket_variables: tuple[str, Any],
    tmp_path: Path,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket, s3 = bucket_variables
    object_key = await chainlit_file_in_bucket(chainlit_database, bucket, s3)
    closed: list[S3StorageClient] = []
    close = S3StorageClient.close

    async def watched_close(self: S3StorageClient) -> None:
        closed.append(self)
        await close(self)

    monkeypatch.setattr(S3StorageClient, "close", watched_close)
    rome = f"/chat/{uuid.UUID(ROME).hex}"
    async with serve(planner(tmp_path, []), lifespan=True, opened_page=True) as site:
        files = site.services.chats.files
        assert isinstance(files, S3StorageClient)
        ada, bob = await signed_in(site, "ada"), await signed_in(site, "bob")
        href = file_link((await ada.get(rome)).text, "budget.txt")
        served = await ada.get(href)
        assert served.status_code == 200
        assert served.content == BUDGET
        assert served.headers["content-type"].startswith("text/plain")
        assert (await bob.get(href)).status_code == 404

        # An upload in the continued chat: in the bucket, its row in Chainlit's shape.
        posted = await ada.post(
            f"{rome}/messages",
            data={"content": "Here is the map"},
            files={"files": ("map.txt", b"Colosseum -> Forum", "text/plain")},
        )
        assert posted.status_code == 303
        await site.history.flush()
        assert not closed  # the history's layer leaves the app's bucket open
    assert closed == [files]  # closed once, by the app, after the history

    connection = await asyncpg.connect(chainlit_database)
    try:
        row = await connection.fetchrow(
            'SELECT "objectKey", "threadId", "stepId", url, mime, metadata FROM "Element" '
            "WHERE name = $1",
            "map.txt",
        )
    finally:
        await connection.close()
    assert row is not None
    assert row["threadId"] == ROME
    assert row["mime"] == "text/plain"
    assert json.loads(row["metadata"])["type"] == "file"
    stored = await asyncio.to_thread(s3.get_object, Bucket=bucket, Key=row["objectKey"])
    assert stored["Body"].read() == b"Colosseum -> Forum"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == sorted([object_key, row["objectKey"]])


async def test_with_signed_urls_the_owner_of_a_chainlit_file_is_sent_to_the_bucket(
    chainlit_database: str,
    bucket_variables: tuple[str, Any],
    tmp_path: Path,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket, s3 = bucket_variables
    object_key = await chainlit_file_in_bucket(chainlit_database, bucket, s3)
    monkeypatch.setenv("LIGHTCHAT_STORAGE_SIGNED_URLS", "1")
    async with serve(planner(tmp_path, []), lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, "ada"), await signed_in(site, "bob")
        href = file_link((await ada.get(f"/chat/{uuid.UUID(ROME).hex}")).text, "budget.txt")
        answered = await ada.get(href)
        assert answered.status_code == 307
        location = answered.headers["location"]
        assert location.startswith(f"{os.environ['DEV_AWS_ENDPOINT']}/{bucket}/{object_key}?")
        assert answered.headers["cache-control"] == "no-store"
        async with httpx.AsyncClient() as direct:
            assert (await direct.get(location)).content == BUDGET
        assert (await bob.get(href)).status_code == 404
