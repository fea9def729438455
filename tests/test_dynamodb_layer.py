"""``lightchat.data.dynamodb.DynamoDBDataLayer`` against moto's server on loopback, which
speaks DynamoDB (and S3, where the layer's storage provider keeps element files): a table
laid out as Chainlit's layer lays it out, its methods as a Chainlit app calls them, and
the history of an app served with it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lightchat import LightChat, Message, Settings, Step
from lightchat.data.dynamodb import DynamoDBDataLayer
from lightchat.data.storage_clients.s3 import S3StorageClient
from lightchat.domain.user import User
from lightchat.types import Feedback, Pagination, StepDict, ThreadFilter
from tests.helpers import HTMX, Serve, chat_id, thread_items
from tests.storage_servers import Endpoint, moto_s3

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def aws() -> Iterator[Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


def dynamodb(endpoint: Endpoint) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint.url, region_name="us-east-1", **KEYS)


@pytest.fixture
def table(aws: Endpoint) -> str:
    """A new table in the layout Chainlit documents for its DynamoDB layer."""
    name = f"chat-{uuid.uuid4().hex[:10]}"
    strings = ["PK", "SK", "UserThreadPK", "UserThreadSK"]
    client = dynamodb(aws)
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in strings],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "UserThread",
                "KeySchema": [
                    {"AttributeName": "UserThreadPK", "KeyType": "HASH"},
                    {"AttributeName": "UserThreadSK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.close()
    return name


@pytest.fixture
def bucket(aws: Endpoint) -> Iterator[S3StorageClient]:
    storage = S3StorageClient(
        f"files-{uuid.uuid4().hex[:10]}",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    storage.client.create_bucket(Bucket=storage.bucket)
    yield storage
    storage.client.close()


class Attachment:
    """An element as a Chainlit app hands it to ``create_element``: bytes to upload."""

    def __init__(self, thread_id: str, for_id: str | None) -> None:
        self.id = str(uuid.uuid4())
        self.thread_id = thread_id
        self.for_id = for_id
        self.content = b"the notes"
        self.path = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "threadId": self.thread_id, "forId": self.for_id, "type": "file",
            "name": "notes.txt", "mime": "text/plain", "display": "inline", "props": {"a": 1.5},
        }  # fmt: skip


def step(thread_id: str, kind: str, output: str, created: str) -> StepDict:
    return {
        "id": str(uuid.uuid4()), "threadId": thread_id, "name": "Ada", "type": kind,
        "output": output, "input": "", "createdAt": created, "start": created, "end": created,
        "metadata": {"k": "v"}, "streaming": False, "isError": False,
    }  # fmt: skip


async def test_the_layer_keeps_users_threads_steps_feedback_and_elements(
    aws: Endpoint, table: str, bucket: S3StorageClient
) -> None:
    layer = DynamoDBDataLayer(table, client=dynamodb(aws), storage_provider=bucket)
    ada = await layer.create_user(User(identifier="ada", metadata={"role": "admin"}))
    assert ada is not None
    assert (ada.id, ada.identifier, ada.metadata) == ("ada", "ada", {"role": "admin"})
    assert await layer.create_user(User(identifier="ada")) == ada  # found, not made again
    assert await layer.get_user("nobody") is None

    threads = [str(uuid.uuid4()) for _ in range(4)]
    for number, thread_id in enumerate(threads):
        await layer.update_thread(thread_id, name=f"Trip {number}", user_id="ada", tags=["t"])
    await layer.update_thread(threads[0], metadata={"lang": "fr"})  # moves it to the top
    await layer.update_thread(str(uuid.uuid4()), name="Bob's", user_id="bob")
    assert await layer.get_thread_author(threads[1]) == "ada"
    with pytest.raises(ValueError, match="Author not found"):
        await layer.get_thread_author("missing")

    question = step(threads[1], "user_message", "Where to in April?", "2026-01-01T10:00:00Z")
    answer = step(threads[1], "assistant_message", "Lisbon", "2026-01-01T10:00:01Z")
    await layer.create_step(answer)
    await layer.create_step(question)
    await layer.update_step({**answer, "output": "Lisbon, in spring"})
    feedback_id = await layer.upsert_feedback(
        Feedback(forId=answer["id"], threadId=threads[1], value=1, comment="good")
    )
    attachment = Attachment(threads[1], answer["id"])
    await layer.create_element(attachment)  # type: ignore[arg-type]

    thread = await layer.get_thread(threads[1])
    assert thread is not None
    assert (thread["name"], thread["userId"], thread["tags"]) == ("Trip 1", "ada", ["t"])
    assert [s["output"] for s in thread["steps"]] == ["Where to in April?", "Lisbon, in spring"]
    rated = thread["steps"][1].get("feedback")
    assert rated is not None
    assert (rated["value"], rated["comment"]) == (1, "good")
    [element] = thread["elements"] or []
    key = f"ada/{threads[1]}/{attachment.id}"
    assert element["objectKey"] == key
    assert element["props"] == {"a": 1.5}
    assert str(element["url"]).startswith(f"{aws.url}/{bucket.bucket}/{key}?")  # signed now
    assert await bucket.read(key) == b"the notes"  # the file, in the real bucket
    found = await layer.get_element(threads[1], attachment.id)
    assert found is not None
    assert found["name"] == "notes.txt"

    assert await layer.delete_feedback(feedback_id)
    thread = await layer.get_thread(threads[1])
    assert thread is not None
    assert "feedback" not in thread["steps"][1]

    # Listing: the last changed first, a page at a time, and search in names and messages.
    first = await layer.list_threads(Pagination(first=3), ThreadFilter(userId="ada"))
    assert [t["name"] for t in first.data] == ["Trip 0", "Trip 3", "Trip 2"]
    assert first.pageInfo.hasNextPage
    rest = await layer.list_threads(
        Pagination(first=3, cursor=first.pageInfo.endCursor), ThreadFilter(userId="ada")
    )
    assert [t["name"] for t in rest.data] == ["Trip 1"]
    assert not rest.pageInfo.hasNextPage
    searched = await layer.list_threads(
        Pagination(first=10), ThreadFilter(userId="ada", search="APRIL")
    )
    assert [t["name"] for t in searched.data] == ["Trip 1"]
    top = await layer.get_thread(threads[0])
    assert top is not None
    assert top["metadata"] == {"lang": "fr"}

    # Favourites: a step's metadata; a step removed without naming its thread.
    await layer.update_step({**question, "metadata": {"favorite": True}})
    assert [s["id"] for s in await layer.get_favorite_steps("ada")] == [question["id"]]
    assert await layer.get_favorite_steps("bob") == []
    await layer.delete_step(question["id"])
    await layer.delete_element(attachment.id)
    thread = await layer.get_thread(threads[1])
    assert thread is not None
    assert [s["id"] for s in thread["steps"]] == [answer["id"]]
    assert thread["elements"] == []

    await layer.delete_thread(threads[1])
    assert await layer.get_thread(threads[1]) is None
    await layer.close()


async def test_an_app_keeps_its_history_in_the_layer(
    aws: Endpoint, table: str, tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))

    @app.data_layer
    def get_data_layer() -> DynamoDBDataLayer:
        return DynamoDBDataLayer(table, client=dynamodb(aws))

    @app.on_message
    async def main(message: Message) -> None:
        async with Step(name="lookup", type="tool") as looked:
            looked.output = f"found {len(message.content)} letters"
        await Message(content=f"Answer to *{message.content}*").send()

    async with serve(app, lifespan=True) as site:
        me, other = site.browser(), site.browser()
        paris = await site.chat(me, "Paris trip")
        invoice = await site.chat(me, "Invoice for March", "And April?")
        await site.history.flush()
        listed = await me.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Invoice for March", "Paris trip"]
        searched = await me.get("/history", params={"q": "april"}, headers=HTMX)
        assert thread_items(searched.text) == ["Invoice for March"]
        assert thread_items((await other.get("/history", headers=HTMX)).text) == []

        await site.services.chats.end(chat_id(invoice), site.owner(me))
        reopened = await me.get(invoice)
        assert "Answer to <em>And April?</em>" in reopened.text
        assert (await other.get(invoice)).status_code == 404

        renamed = await me.post(f"{paris}/rename", data={"name": "Lisbon instead"})
        assert renamed.status_code == 303
        answer = site.answers(me, paris)[0]
        rated = await me.post(f"{paris}/feedback/{answer.id}", data={"value": "1"})
        assert rated.status_code == 303
        assert (await me.post(f"{invoice}/delete")).status_code == 303
        listed = await me.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Lisbon instead"]

    # Written in Chainlit's layout: a Chainlit app on the same table reads it.
    layer = DynamoDBDataLayer(table, client=dynamodb(aws))
    thread = await layer.get_thread(str(uuid.UUID(chat_id(paris))))
    assert thread is not None
    assert thread["name"] == "Lisbon instead"
    kinds = [(s["type"], s["output"]) for s in thread["steps"]]
    assert kinds == [
        ("user_message", "Paris trip"),
        ("tool", "found 10 letters"),
        ("assistant_message", "Answer to *Paris trip*"),
    ]
    kept = thread["steps"][2].get("feedback")
    assert kept is not None
    assert kept["value"] == 1
    assert await layer.get_thread(str(uuid.UUID(chat_id(invoice)))) is None
    await layer.close()


def test_a_literal_ai_key_is_said_to_be_ignored_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), history=False))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content="hi").send()

    monkeypatch.setenv("LITERAL_API_KEY", "lsk-test")
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        app.build()
    said = [r.getMessage() for r in caplog.records if "LITERAL_API_KEY" in r.getMessage()]
    assert said == [
        "LITERAL_API_KEY is set, but lightchat has no Literal AI data layer: "
        "the history is kept as the other settings say, not in Literal AI."
    ]
