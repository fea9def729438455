"""Element files go with their chat: deleting a chat (or a message) deletes its files.

The app's file storage (``.lightchat/files`` in the app's folder, where uploads and element
files go) is the one the history deletes from. Runs on SQLite and on PostgreSQL, with the
app in-process as in tests/test_history_http.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lightchat.domain.events import RemoveEvent
from lightchat.files import LocalFileStorage
from lightchat.store import ElementRecord
from tests.helpers import Serve, chat_id, history_app

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


async def test_deleting_a_chat_deletes_its_element_files(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        files = site.history.files
        assert files is site.services.chats.files  # uploads and history: one storage
        assert isinstance(files, LocalFileStorage)
        assert files.root == (tmp_path / ".lightchat" / "files").absolute()
        store = site.history.store
        assert store is not None

        me = site.browser()
        doomed, kept = await site.chat(me, "with files"), await site.chat(me, "keep me")
        owner = site.owner(me)
        answer = site.answers(me, doomed)[0]
        await site.history.flush()  # the chats are in the store
        report = await files.put(b"%PDF-1.4 report", name="report.pdf", mime="application/pdf")
        chart = await files.put(b"\x89PNG chart", name="chart.png", mime="image/png")
        other = await files.put(b"kept", name="kept.txt", mime="text/plain")
        for key, thread, for_id in [
            (report.key, chat_id(doomed), answer.id),
            (chart.key, chat_id(doomed), None),
            (other.key, chat_id(kept), None),
        ]:
            element = ElementRecord(thread_id=thread, for_id=for_id, storage_key=key)
            await store.create_element(element, owner=owner)
        paths = {key: files.path(key) for key in (report.key, chart.key, other.key)}
        assert all([await exists(path) for path in paths.values()])

        deleted = await me.post(f"{doomed}/delete")

        assert deleted.status_code == 303
        assert not await exists(paths[report.key])
        assert not await exists(paths[chart.key])
        assert await exists(paths[other.key])  # another chat's file stays
        assert await store.get_thread(chat_id(doomed), owner=owner) is None


async def test_removing_a_message_deletes_its_element_files(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        files, store = site.history.files, site.history.store
        assert isinstance(files, LocalFileStorage)
        assert store is not None
        me = site.browser()
        url = await site.chat(me, "one", "two")
        owner, thread = site.owner(me), chat_id(url)
        first, second = site.answers(me, url)
        await site.history.flush()  # the chat is in the store
        for answer in (first, second):
            stored = await files.put(b"data", name="data.csv", mime="text/csv")
            element = ElementRecord(thread_id=thread, for_id=answer.id, storage_key=stored.key)
            await store.create_element(element, owner=owner)
        loaded = await store.load_thread(thread, owner=owner)
        assert loaded is not None
        key_of = {element.for_id: element.storage_key for element in loaded.elements}

        site.session(me, url).emit(RemoveEvent(first.id))  # as Message.remove() does
        await site.history.flush()

        assert await store.get_step(first.id, owner=owner) is None
        assert not await exists(files.path(str(key_of[first.id])))
        assert await exists(files.path(str(key_of[second.id])))
        after = await store.load_thread(thread, owner=owner)
        assert after is not None
        assert [element.for_id for element in after.elements] == [second.id]
