"""``@data_layer`` returning a data layer written for Chainlit (a ``BaseDataLayer``
subclass): the history, search, rename, delete, resume, feedback, sharing, favourites and
elements go through its methods, and what it does not implement is said once at start.

The layer below is written as a Chainlit app would write one: it knows nothing of
lightchat, keeps Chainlit's dicts in memory, and filters threads by ``userId`` the way
Chainlit's layers do. The apps are visited like a browser without JavaScript.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from lightchat import Element, File, LightChat, Message, Settings, Step
from lightchat.data import BaseDataLayer
from lightchat.domain.user import PersistedUser, User
from lightchat.types import (
    ElementDict,
    Feedback,
    PageInfo,
    PaginatedResponse,
    Pagination,
    StepDict,
    ThreadDict,
    ThreadFilter,
)
from tests.helpers import HTMX, Serve, thread_items
from tests.helpers import chat_id as lightchat_id


def chat_id(url: str) -> str:
    """The id of a chat's thread as a Chainlit layer has it: a UUID in its usual text."""
    return str(uuid.UUID(lightchat_id(url)))


pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


class DictLayer(BaseDataLayer):
    """A complete Chainlit data layer in a few dicts."""

    def __init__(self) -> None:
        self.users: dict[str, PersistedUser] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.elements: dict[str, dict[str, Any]] = {}
        self.feedback: dict[str, dict[str, Any]] = {}  # by step id
        self.calls: list[str] = []
        self.closed = False

    async def get_user(self, identifier: str) -> PersistedUser | None:
        return self.users.get(identifier)

    async def create_user(self, user: User) -> PersistedUser | None:
        self.calls.append("create_user")
        if user.identifier not in self.users:
            self.users[user.identifier] = PersistedUser(
                identifier=user.identifier,
                display_name=user.display_name,
                metadata=user.metadata,
                id=f"u{len(self.users) + 1}",
                createdAt="2026-01-01T00:00:00Z",
            )
        return self.users[user.identifier]

    async def delete_feedback(self, feedback_id: str) -> bool:
        for step_id, given in list(self.feedback.items()):
            if given["id"] == feedback_id:
                del self.feedback[step_id]
                return True
        return False

    async def upsert_feedback(self, feedback: Feedback) -> str:
        self.calls.append("upsert_feedback")
        feedback_id = feedback.id or f"f-{feedback.forId}"
        self.feedback[feedback.forId] = {
            "id": feedback_id,
            "forId": feedback.forId,
            "value": feedback.value,
            "comment": feedback.comment,
        }
        return feedback_id

    async def create_element(self, element: Any) -> None:
        self.calls.append("create_element")
        self.elements[element.id] = element.to_dict()

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        found = self.elements.get(element_id)
        return found if found and found["threadId"] == thread_id else None  # type: ignore[return-value]

    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        self.elements.pop(element_id, None)

    async def create_step(self, step_dict: StepDict) -> None:
        self.calls.append("create_step")
        self.steps[step_dict["id"]] = dict(step_dict)

    async def update_step(self, step_dict: StepDict) -> None:
        self.calls.append("update_step")
        self.steps[step_dict["id"]] = dict(step_dict)

    async def delete_step(self, step_id: str) -> None:
        self.steps.pop(step_id, None)

    async def get_thread_author(self, thread_id: str) -> str:
        thread = self.threads[thread_id]  # raises for a missing thread, as Chainlit's do
        return str(thread["userIdentifier"])

    async def delete_thread(self, thread_id: str) -> None:
        self.threads.pop(thread_id, None)
        for step_id in [s for s, step in self.steps.items() if step["threadId"] == thread_id]:
            del self.steps[step_id]
            self.feedback.pop(step_id, None)

    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        self.calls.append(f"list_threads:{filters.userId}:{filters.search}")
        found = []
        for thread in reversed(list(self.threads.values())):
            if thread["userId"] != filters.userId:
                continue
            if filters.search:
                texts = [thread.get("name") or ""] + [
                    step["output"]
                    for step in self.steps.values()
                    if step["threadId"] == thread["id"]
                ]
                if not any(filters.search.lower() in text.lower() for text in texts):
                    continue
            found.append(await self.get_thread(thread["id"]))
        page = [thread for thread in found if thread is not None][: pagination.first]
        return PaginatedResponse(PageInfo(False, None, None), page)

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        thread = self.threads.get(thread_id)
        if thread is None:
            return None
        steps = [dict(s) for s in self.steps.values() if s["threadId"] == thread_id]
        for step in steps:
            step["feedback"] = self.feedback.get(step["id"])
        elements = [e for e in self.elements.values() if e["threadId"] == thread_id]
        return {**thread, "steps": steps, "elements": elements}  # type: ignore[return-value]

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.calls.append("update_thread")
        thread = self.threads.setdefault(
            thread_id,
            {"id": thread_id, "createdAt": "2026-01-01T00:00:00Z", "name": None, "userId": None,
             "userIdentifier": None, "tags": [], "metadata": {}},
        )  # fmt: skip
        if user_id is not None:
            thread["userId"] = user_id
            thread["userIdentifier"] = next(
                u.identifier for u in self.users.values() if u.id == user_id
            )
        for key, value in (("name", name), ("metadata", metadata), ("tags", tags)):
            if value is not None:
                thread[key] = value

    async def build_debug_url(self) -> str:
        return ""

    async def close(self) -> None:
        self.closed = True

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        mine = {t for t, thread in self.threads.items() if thread["userId"] == user_id}
        return [
            s  # type: ignore[misc]
            for s in self.steps.values()
            if s["threadId"] in mine and (s.get("metadata") or {}).get("favorite")
        ]


class NoFeedbackLayer(DictLayer):
    """A layer that left feedback and deleting threads as Chainlit's placeholders."""

    async def upsert_feedback(self, feedback: Feedback) -> str:
        raise NotImplementedError()

    async def delete_feedback(self, feedback_id: str) -> bool:
        raise NotImplementedError

    async def delete_thread(self, thread_id: str) -> None:
        """Not kept."""
        raise NotImplementedError("threads are kept")


def chainlit_app(tmp_path: Path, layer: DictLayer) -> LightChat:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))

    @app.data_layer
    def get_data_layer() -> DictLayer:
        return layer

    @app.on_message
    async def main(message: Message) -> None:
        async with Step(name="lookup", type="tool") as step:
            step.output = f"found {len(message.content)} letters"
        elements: list[Element] = []
        if "file" in message.content:
            elements = [File(name="notes.txt", content=b"the notes", display="inline")]
        await Message(content=f"Answer to *{message.content}*", elements=elements).send()

    return app


async def test_a_chainlit_data_layer_keeps_the_history(tmp_path: Path, serve: Serve) -> None:
    layer = DictLayer()
    app = chainlit_app(tmp_path, layer)
    async with serve(app, lifespan=True) as site:
        me, other = site.browser(), site.browser()
        paris = await site.chat(me, "Paris trip")
        invoice = await site.chat(me, "Invoice for March with the file", "And April?")
        await site.history.flush()
        owner = site.owner(me)

        # A Chainlit user per owner; threads, steps and elements in Chainlit's shapes.
        user = layer.users[f"browser:{owner}"]
        thread = layer.threads[chat_id(paris)]
        assert (thread["userId"], thread["name"]) == (user.id, "Paris trip")
        steps = [s for s in layer.steps.values() if s["threadId"] == chat_id(paris)]
        assert {(s["type"], s["output"]) for s in steps} >= {
            ("user_message", "Paris trip"),
            ("tool", "found 10 letters"),
            ("assistant_message", "Answer to *Paris trip*"),
        }
        assert all(s["createdAt"].endswith("Z") for s in steps)
        [element] = layer.elements.values()
        assert (element["name"], element["threadId"]) == ("notes.txt", chat_id(invoice))
        assert element["objectKey"]  # the file is in the app's file storage

        # Listing and search go through list_threads, with the owner's Chainlit user.
        listed = await me.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Invoice for March with the file", "Paris trip"]
        searched = await me.get("/history", params={"q": "april"}, headers=HTMX)
        assert thread_items(searched.text) == ["Invoice for March with the file"]
        assert f"list_threads:{user.id}:april" in layer.calls
        assert thread_items((await other.get("/history", headers=HTMX)).text) == []
        assert list(layer.users) == [f"browser:{owner}"]  # a look at the history makes none

        # Resume: with the live chat ended, the page is rebuilt from the layer's thread.
        await site.services.chats.end(lightchat_id(invoice), owner)
        reopened = await me.get(invoice)
        assert reopened.status_code == 200
        assert "Answer to <em>And April?</em>" in reopened.text
        assert "notes.txt" in reopened.text

        # Owner checks: another browser sees none of it, changes none of it.
        assert (await other.get(invoice)).status_code == 404
        refused = await other.post(f"{paris}/rename", data={"name": "Mine now"})
        assert refused.status_code == 404
        assert (await other.post(f"{paris}/delete")).status_code == 404
        assert layer.threads[chat_id(paris)]["name"] == "Paris trip"

        # Rename and feedback.
        renamed = await me.post(f"{paris}/rename", data={"name": "Lisbon instead"})
        assert renamed.status_code == 303
        assert layer.threads[chat_id(paris)]["name"] == "Lisbon instead"
        answer = site.answers(me, paris)[0]
        rated = await me.post(f"{paris}/feedback/{answer.id}", data={"value": "0"})
        assert rated.status_code == 303
        assert layer.feedback[str(uuid.UUID(answer.id))]["value"] == 0
        taken_back = await me.post(f"{paris}/feedback/{answer.id}", data={"value": "0"})
        assert taken_back.status_code == 303
        assert not layer.feedback

        # Delete: the thread and its steps leave the layer.
        deleted = await me.post(f"{paris}/delete")
        assert deleted.status_code == 303
        assert chat_id(paris) not in layer.threads
        assert not [s for s in layer.steps.values() if s["threadId"] == chat_id(paris)]
        listed = await me.get("/history", headers=HTMX)
        assert thread_items(listed.text) == ["Invoice for March with the file"]
    assert layer.closed
    assert not (tmp_path / ".lightchat" / "chat.db").exists()  # no SQL store was opened


async def test_sharing_and_favourites_go_through_the_thread_and_step_metadata(
    tmp_path: Path, serve: Serve
) -> None:
    layer = DictLayer()
    async with serve(chainlit_app(tmp_path, layer), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "Keep this")
        await site.history.flush()
        owner, store = site.owner(me), site.history.store
        assert site.history.can_share
        assert site.history.can_favorite

        link = await site.history.share(lightchat_id(url), owner, shared=True)
        assert link is not None
        metadata = layer.threads[chat_id(url)]["metadata"]
        assert metadata["is_shared"] is True
        assert metadata["shared_at"].endswith("Z")
        assert await site.history.share(lightchat_id(url), "someone-else", shared=True) is None
        assert await site.history.load_shared(lightchat_id(url)) is not None

        question = next(s for s in layer.steps.values() if s["type"] == "user_message")
        marked = uuid.UUID(question["id"]).hex  # lightchat's form of the id
        await site.history.mark_favorite(marked, owner, favorite=True)
        assert layer.steps[question["id"]]["metadata"]["favorite"] is True
        assert [f.id for f in await site.history.favorites(owner)] == [marked]
        assert await site.history.favorites("someone-else") == []
        with pytest.raises(LookupError):
            await site.history.mark_favorite(marked, "someone-else", favorite=False)
        assert store is not None


async def test_a_chat_kept_in_a_chainlit_layer_is_shared_through_the_pages(
    tmp_path: Path, serve: Serve
) -> None:
    layer = DictLayer()
    app = LightChat(
        settings=Settings(
            name="Bot",
            app_dir=str(tmp_path),
            auth_secret="chainlit-layer-" + "x" * 40,
            allow_thread_sharing=True,
        )
    )
    app.data_layer(lambda: layer)

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return User(identifier=username) if password == "pw" else None

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Answer to *{message.content}*").send()

    @app.on_shared_thread_view
    async def may_view(thread: dict[str, Any], viewer: User | None) -> bool:
        return viewer is not None and viewer.identifier == "bob"

    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob, eve = site.browser(), site.browser(), site.browser()
        for client, name in ((ada, "ada"), (bob, "bob"), (eve, "eve")):
            signed = await client.post("/login", data={"username": name, "password": "pw"})
            assert signed.status_code == 303, signed.text
        url = await site.chat(ada, "Lisbon")
        await site.history.flush()
        thread = chat_id(url)
        assert layer.threads[thread]["userIdentifier"] == "ada"  # the signed-in user's

        assert (await ada.post(f"{url}/share", headers=HTMX)).status_code == 200
        assert layer.threads[thread]["metadata"]["is_shared"] is True
        shared = await bob.get(f"/share/{lightchat_id(url)}")
        assert shared.status_code == 200
        assert "Answer to <em>Lisbon</em>" in shared.text
        assert (await eve.get(f"/share/{lightchat_id(url)}")).status_code == 404
        assert (await bob.post(f"{url}/share", headers=HTMX)).status_code == 404

        assert (await ada.post(f"{url}/unshare", headers=HTMX)).status_code == 200
        assert "is_shared" not in layer.threads[thread]["metadata"]
        assert (await bob.get(f"/share/{lightchat_id(url)}")).status_code == 404


async def test_what_a_chainlit_layer_does_not_implement_is_said_once_at_start(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    layer = NoFeedbackLayer()
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        async with serve(chainlit_app(tmp_path, layer), lifespan=True) as site:
            me = site.browser()
            url = await site.chat(me, "Hello")
            await site.history.flush()
            answer = site.answers(me, url)[0]
            rated = await me.post(f"{url}/feedback/{answer.id}", data={"value": "1"})
            assert rated.status_code == 404  # no feedback to give: the layer keeps none
            listed = await me.get("/history", headers=HTMX)
            assert thread_items(listed.text) == ["Hello"]  # the rest works
            # The live chat ends; the thread stays, and a second try finds nothing to do.
            assert (await me.post(f"{url}/delete")).status_code == 303
            assert chat_id(url) in layer.threads
            assert (await me.post(f"{url}/delete")).status_code == 404
    said = [r.getMessage() for r in caplog.records if "does not implement" in r.getMessage()]
    assert said == [
        "The data layer NoFeedbackLayer does not implement delete_thread: deleting chats is "
        "off; upsert_feedback: feedback on answers is off; delete_feedback: taking feedback "
        "back is off"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
