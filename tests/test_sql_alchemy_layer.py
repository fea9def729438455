"""``lightchat.data.sql_alchemy.SQLAlchemyDataLayer`` on the schema Chainlit documents for
it, on SQLite and on the real PostgreSQL server (a database of its own per test): its
methods as a Chainlit app calls them, and the history of an app served with it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lightchat import File, LightChat, Message, Settings, Step
from lightchat.data.sql_alchemy import SQLAlchemyDataLayer
from lightchat.domain.user import User
from lightchat.types import Feedback, Pagination, StepDict, ThreadFilter
from tests.chainlit_schemas import SQLALCHEMY_DDL, create_tables
from tests.helpers import HTMX, Serve, chat_id, thread_items
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(params=["sqlite", "postgresql"])
def conninfo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with Chainlit's tables, empty."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'chainlit.db'}"
        create_tables(url, SQLALCHEMY_DDL)
        yield url
    else:
        with postgres_database() as url:
            create_tables(url, SQLALCHEMY_DDL)
            yield url


class Bucket:
    """A storage client with Chainlit's methods, keeping the files in a dict."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.closed = False

    async def upload_file(
        self, object_key: str, data: bytes | str, mime: str = "", overwrite: bool = True
    ) -> dict[str, Any]:
        self.files[object_key] = data.encode() if isinstance(data, str) else data
        return {"object_key": object_key, "url": f"https://bucket.test/{object_key}"}

    async def delete_file(self, object_key: str) -> bool:
        return self.files.pop(object_key, None) is not None

    async def get_read_url(self, object_key: str) -> str:
        return f"https://bucket.test/{object_key}?signed"

    async def close(self) -> None:
        self.closed = True


class Attachment:
    """An element as a Chainlit app hands it to ``create_element``: bytes to upload."""

    def __init__(self, thread_id: str, for_id: str) -> None:
        self.id = str(uuid.uuid4())
        self.thread_id = thread_id
        self.for_id = for_id
        self.name = "notes.txt"
        self.mime = "text/plain"
        self.content = b"the notes"
        self.path = None
        self.url = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "threadId": self.thread_id, "forId": self.for_id, "type": "file",
            "name": self.name, "mime": self.mime, "display": "inline", "props": {"a": 1},
        }  # fmt: skip


def step(thread_id: str, kind: str, output: str, created: str) -> StepDict:
    return {
        "id": str(uuid.uuid4()), "threadId": thread_id, "name": "Ada", "type": kind,
        "output": output, "input": "", "createdAt": created, "start": created, "end": created,
        "metadata": {"k": "v"}, "streaming": False, "isError": False, "generation": None,
    }  # fmt: skip


async def test_the_layer_keeps_users_threads_steps_feedback_and_elements(conninfo: str) -> None:
    bucket = Bucket()
    layer = SQLAlchemyDataLayer(conninfo=conninfo, storage_provider=bucket, user_thread_limit=50)
    try:
        ada = await layer.create_user(User(identifier="ada", metadata={"role": "admin"}))
        bob = await layer.create_user(User(identifier="bob"))
        assert ada is not None
        assert bob is not None
        assert (await layer.create_user(User("ada", metadata={"role": "x"})) or ada).id == ada.id
        assert (await layer.get_user("ada") or ada).metadata == {"role": "x"}
        assert await layer.get_user("nobody") is None

        first, second, bobs = (str(uuid.uuid4()) for _ in range(3))
        await layer.update_thread(first, name="Paris", user_id=ada.id, tags=["trip"])
        await layer.update_thread(second, name="Invoice", user_id=ada.id, metadata={"a": 1})
        await layer.update_thread(bobs, name="Bob's", user_id=bob.id)
        question = step(first, "user_message", "Where to eat in Paris?", "2026-01-01T10:00:00Z")
        answer = step(first, "assistant_message", "At the bistro", "2026-01-01T10:00:01Z")
        later = step(second, "user_message", "And April?", "2026-01-02T10:00:00Z")
        for made in (question, answer, later):
            await layer.create_step(made)
        answer["output"] = "At the bistro, by the river"
        await layer.update_step(answer)
        assert await layer.get_thread_author(first) == "ada"
        with pytest.raises(ValueError, match="Author not found"):
            await layer.get_thread_author(str(uuid.uuid4()))

        # Metadata merges; a key set to None goes.
        await layer.update_thread(second, metadata={"b": 2})
        await layer.update_thread(second, metadata={"a": None})
        thread = await layer.get_thread(second)
        assert thread is not None
        assert thread["metadata"] == {"b": 2}
        assert (thread["name"], thread["userIdentifier"]) == ("Invoice", "ada")

        # Feedback and elements (the bytes go to the storage provider).
        feedback_id = await layer.upsert_feedback(
            Feedback(forId=answer["id"], value=1, comment="good")
        )
        attachment = Attachment(first, answer["id"])
        await layer.create_element(attachment)
        [key] = bucket.files
        assert bucket.files[key] == b"the notes"
        element = await layer.get_element(first, attachment.id)
        assert element is not None
        assert (element["objectKey"], element["url"]) == (key, f"https://bucket.test/{key}?signed")
        assert element["props"] == {"a": 1}

        thread = await layer.get_thread(first)
        assert thread is not None
        assert thread["tags"] == ["trip"]
        assert [s["output"] for s in thread["steps"]] == [
            "Where to eat in Paris?",
            "At the bistro, by the river",
        ]
        rated = thread["steps"][1]
        assert rated["feedback"] == {
            "forId": answer["id"], "id": feedback_id, "value": 1, "comment": "good",
        }  # fmt: skip
        assert rated["metadata"] == {"k": "v"}
        assert [e["id"] for e in thread["elements"] or []] == [attachment.id]

        # Listing: the user's threads, latest activity first, searched, by feedback, paged.
        page = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=ada.id))
        assert [t["id"] for t in page.data] == [second, first]
        page = await layer.list_threads(Pagination(first=1), ThreadFilter(userId=ada.id))
        assert ([t["id"] for t in page.data], page.pageInfo.hasNextPage) == ([second], True)
        page = await layer.list_threads(
            Pagination(first=1, cursor=page.pageInfo.endCursor), ThreadFilter(userId=ada.id)
        )
        assert ([t["id"] for t in page.data], page.pageInfo.hasNextPage) == ([first], False)
        searched = await layer.list_threads(
            Pagination(first=10), ThreadFilter(userId=ada.id, search="BISTRO")
        )
        assert [t["id"] for t in searched.data] == [first]
        rated_threads = await layer.list_threads(
            Pagination(first=10), ThreadFilter(userId=ada.id, feedback=1)
        )
        assert [t["id"] for t in rated_threads.data] == [first]
        with pytest.raises(ValueError, match="userId"):
            await layer.list_threads(Pagination(first=10), ThreadFilter())

        # Favourites, deletes.
        await layer.set_step_favorite(question, True)
        assert [s["id"] for s in await layer.get_favorite_steps(ada.id)] == [question["id"]]
        assert await layer.get_favorite_steps(bob.id) == []
        assert await layer.delete_feedback(feedback_id)
        await layer.delete_step(answer["id"])
        assert not bucket.files  # the element's file went with its step
        await layer.delete_thread(first)
        assert await layer.get_thread(first) is None
        page = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=ada.id))
        assert [t["id"] for t in page.data] == [second]
    finally:
        await layer.close()
    assert bucket.closed


async def test_an_app_keeps_its_history_in_the_layer(
    conninfo: str, tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))

    @app.data_layer
    def get_data_layer() -> SQLAlchemyDataLayer:
        return SQLAlchemyDataLayer(conninfo=conninfo)

    @app.on_message
    async def main(message: Message) -> None:
        async with Step(name="lookup", type="tool") as looked:
            looked.output = f"found {len(message.content)} letters"
        notes = File(name="notes.txt", content=b"the notes", display="inline")
        await Message(content=f"Answer to *{message.content}*", elements=[notes]).send()

    async with serve(app, lifespan=True) as site:
        await site.history.ping()  # the layer's database answers
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
        # The element's row is the layer's, its file the app's: served after the owner check.
        link = re.search(r'href="([^"]+)"[^>]*>\s*notes\.txt', reopened.text)
        assert link is not None, reopened.text
        assert (await me.get(link.group(1))).content == b"the notes"
        assert (await other.get(link.group(1))).status_code == 404
        assert (await other.get(invoice)).status_code == 404

        renamed = await me.post(f"{paris}/rename", data={"name": "Lisbon instead"})
        assert renamed.status_code == 303
        answer = site.answers(me, paris)[0]
        rated = await me.post(f"{paris}/feedback/{answer.id}", data={"value": "1"})
        assert rated.status_code == 303
        assert (await me.post(f"{invoice}/delete")).status_code == 303
        listed = await me.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Lisbon instead"]

    # Written in Chainlit's shape: a Chainlit app on the same tables reads it.
    layer = SQLAlchemyDataLayer(conninfo=conninfo)
    try:
        thread = await layer.get_thread(str(uuid.UUID(chat_id(paris))))
        assert thread is not None
        assert thread["name"] == "Lisbon instead"
        kinds = [(s["type"], s["output"]) for s in thread["steps"]]
        assert kinds == [
            ("user_message", "Paris trip"),
            ("tool", "found 10 letters"),
            ("assistant_message", "Answer to *Paris trip*"),
        ]
        assert thread["steps"][2]["feedback"] is not None
        assert await layer.get_thread(str(uuid.UUID(chat_id(invoice)))) is None
    finally:
        await layer.close()
