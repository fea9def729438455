"""``@data_layer``: the history kept in the app's own data layer, and a data layer that fails.

The apps run in-process with their lifespan, visited like a browser without JavaScript (as
in tests/test_history_http.py). The data layer is ``MemoryStore``, a second implementation
of ``DataLayer`` with no database at all: every history read and write below goes through
it, and no SQLite file is ever made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings, Step
from lightchat.errors import ConfigError
from lightchat.files import LocalFileStorage
from lightchat.store import ElementRecord, MemoryStore, Pagination, ThreadFilter, ThreadPage
from tests.helpers import HTMX, Serve, chat_id, thread_items

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


def layered_app(tmp_path: Path, get_data_layer: Callable[[], Any]) -> LightChat:
    """Answers with a tool step and a message; history in what ``get_data_layer`` returns."""
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))
    app.data_layer(get_data_layer)

    @app.on_message
    async def main(message: Message) -> None:
        async with Step(name="lookup", type="tool") as step:
            step.output = f"found {len(message.content)} letters"
        await Message(content=f"Answer to *{message.content}*").send()

    return app


async def test_history_goes_through_the_apps_data_layer(tmp_path: Path, serve: Serve) -> None:
    layer = MemoryStore()
    made: list[MemoryStore] = []
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))

    @app.data_layer
    def get_data_layer() -> MemoryStore:
        made.append(layer)
        return layer

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Answer to *{message.content}*").send()

    async with serve(app, lifespan=True) as site:
        assert made == [layer]
        assert site.history.store is layer
        me = site.browser()
        paris = await site.chat(me, "Paris trip")
        invoice = await site.chat(me, "Invoice for March", "And April?")
        owner = site.owner(me)

        # Listing: the sidebar and the history page list what the data layer holds.
        listed = await me.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Invoice for March", "Paris trip"]
        await site.history.flush()  # a listing does not wait for the writes; they land
        page = await layer.list_threads(owner)
        assert [t.id for t in page.threads] == [chat_id(invoice), chat_id(paris)]
        searched = await me.get("/history", params={"q": "april"}, headers=HTMX)
        assert thread_items(searched.text) == ["Invoice for March"]

        # Opening: with the live chat ended, the page is rebuilt from the data layer.
        await site.services.chats.end(chat_id(invoice), owner)
        reopened = await me.get(invoice)
        assert reopened.status_code == 200
        assert "Answer to <em>And April?</em>" in reopened.text

        # Rename.
        renamed = await me.post(f"{paris}/rename", data={"name": "Lisbon instead"})
        assert renamed.status_code == 303
        stored = await layer.get_thread(chat_id(paris), owner=owner)
        assert stored is not None
        assert stored.name == "Lisbon instead"

        # Feedback.
        answer = site.answers(me, paris)[0]
        rated = await me.post(f"{paris}/feedback/{answer.id}", data={"value": "0"})
        assert rated.status_code == 303
        given = await layer.list_feedback(chat_id(paris), owner=owner)
        assert [(k, v.value) for k, v in given.items()] == [(answer.id, 0)]

        # Delete: the thread, its steps and its files.
        kept = await site.history.files.put(b"notes", name="notes.txt", mime="text/plain")
        await layer.create_element(
            ElementRecord(thread_id=chat_id(paris), for_id=answer.id, storage_key=kept.key),
            owner=owner,
        )
        deleted = await me.post(f"{paris}/delete")
        assert deleted.status_code == 303
        assert await layer.get_thread(chat_id(paris), owner=owner) is None
        assert await layer.get_step(answer.id, owner=None) is None
        files = site.history.files
        assert isinstance(files, LocalFileStorage)
        assert not await asyncio.to_thread(files.path(kept.key).exists)
        assert thread_items((await me.get("/history", headers=HTMX)).text) == ["Invoice for March"]

    assert not (tmp_path / ".lightchat" / "chat.db").exists()  # no SQL store was opened


async def chat_works(client: httpx.AsyncClient, question: str) -> str:
    """Ask in a new chat without JavaScript; returns the chat page once answered."""
    start = await client.get("/")
    assert start.status_code == 303
    url = start.headers["location"]
    posted = await client.post(f"{url}/messages", data={"content": question})
    assert posted.status_code == 303
    page = await client.get(url)
    assert page.status_code == 200
    assert f"Answer to <em>{question}</em>" in page.text
    return url


def broken() -> MemoryStore:
    raise RuntimeError("the database is down")


def not_a_layer() -> object:
    return object()


async def slow_and_broken() -> MemoryStore:
    await asyncio.sleep(0)
    raise RuntimeError("the database is down")


@pytest.mark.parametrize(
    ("factory", "said"),
    [
        (broken, "the @data_layer function broken() failed: the database is down"),
        (slow_and_broken, "function slow_and_broken() failed: the database is down"),
        (
            not_a_layer,
            "it returned object, which is not a data layer: it has no get_user, create_user",
        ),
    ],
)
async def test_a_data_layer_that_cannot_be_made_turns_history_off_saying_why(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    factory: Callable[[], Any],
    said: str,
    serve: Serve,
) -> None:
    app = layered_app(tmp_path, factory)
    with caplog.at_level(logging.ERROR, logger="lightchat"):
        async with serve(app, lifespan=True, history_must_open=False) as site:
            client = site.browser()
            assert app.history is not None
            assert not await app.history.wait_ready()
            assert app.history.failed is not None
            # The chat itself works, again and again: no crash, no restart.
            for question in ("first", "second"):
                await chat_works(client, question)
            listed = await client.get("/history", headers=HTMX)
            assert listed.status_code == 200
            assert thread_items(listed.text) == []
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.startswith("Chat history is off: ")
    assert said in error
    if factory is not_a_layer:
        assert isinstance(app.history.failed, ConfigError)
        assert "lightchat.store.DataLayer" in error


class FailingStore(MemoryStore):
    """A data layer whose listing and step writes fail, as a database that went away."""

    async def list_threads(
        self,
        owner: str,
        pagination: Pagination | None = None,
        filters: ThreadFilter | None = None,
    ) -> ThreadPage:
        raise RuntimeError("connection lost")

    async def upsert_step(self, step: Any, *, owner: str | None) -> None:
        raise RuntimeError("connection lost")

    async def close(self) -> None:
        raise RuntimeError("connection lost")


async def test_failing_operations_are_logged_and_the_chat_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: Serve
) -> None:
    layer = FailingStore()
    app = layered_app(tmp_path, lambda: layer)
    with caplog.at_level(logging.ERROR, logger="lightchat"):
        async with serve(app, lifespan=True, history_must_open=False) as site:
            client = site.browser()
            assert app.history is not None
            assert await app.history.wait_ready()
            url = await chat_works(client, "first")
            await chat_works(client, "second")
            await app.history.flush()  # the writer is alive: it finishes what it was given
            listed = await client.get("/history", headers=HTMX)
            assert listed.status_code == 200
            assert thread_items(listed.text) == []
            # The thread itself was made; its messages could not be saved.
            owner = (await layer.get_thread_owner(chat_id(url))) or ""
            assert await layer.get_thread_steps(chat_id(url), owner=owner) == []
    messages = {r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR}
    assert f"Could not save to chat history (thread {chat_id(url)})" in messages
    assert "Could not list the chats of the history" in messages
    assert "Could not close the chat history's data layer" in messages


def test_data_layer_registers_like_the_other_decorators(tmp_path: Path) -> None:
    assert cl.data_layer == cl.default_app.data_layer  # bound to the default app
    app = LightChat(settings=Settings(app_dir=str(tmp_path)))

    def get_data_layer() -> MemoryStore:
        return MemoryStore()

    assert app.data_layer(get_data_layer) is get_data_layer
    assert app.callbacks["data_layer"] is get_data_layer
    with pytest.raises(ConfigError, match=r"write it as `def get_data_layer\(\): return"):
        app.data_layer(lambda url: MemoryStore())
    app.build()
    with pytest.raises(ConfigError, match="after the app started serving"):
        app.data_layer(get_data_layer)


async def test_an_async_data_layer_function_is_awaited(tmp_path: Path, serve: Serve) -> None:
    layer = MemoryStore()

    async def get_data_layer() -> MemoryStore:
        await asyncio.sleep(0)
        return layer

    async with serve(layered_app(tmp_path, get_data_layer), lifespan=True) as site:
        assert site.history.store is layer
        me = site.browser()
        url = await site.chat(me, "hello")
        await site.history.flush()
        steps = await layer.get_thread_steps(chat_id(url), owner=site.owner(me))
        assert [(s.type, s.output) for s in steps] == [
            ("user_message", "hello"),
            ("tool", "found 5 letters"),
            ("assistant_message", "Answer to *hello*"),
        ]
