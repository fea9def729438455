"""``init_http_context``: the app's own code writes to a chat from outside a callback (a
route of its own, a webhook, a background job), as Chainlit's does."""

from __future__ import annotations

from pathlib import Path

import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.context import init_http_context
from lightchat.domain.events import MessageData
from tests.helpers import Serve, chat_id

pytestmark = pytest.mark.anyio


def history_app(tmp_path: Path, database: str) -> LightChat:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), database_url=database))

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content="Working on it.").send()

    return app


def contents(session: object) -> list[str]:
    items = session.transcript.items.values()  # type: ignore[attr-defined]
    return [item.content for item in items if isinstance(item, MessageData)]


async def test_a_message_reaches_a_running_chat_and_its_history(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "build it")
        context = init_http_context(thread_id=chat_id(url), auth_token="t0k")
        assert context is cl.context
        assert cl.context.session is site.session(me, url)
        assert cl.context.session.token == "t0k"
        await cl.Message(content="The build passed.").send()
        async with cl.Step(name="deploy", type="tool") as step:
            step.output = "deployed"
        assert contents(site.session(me, url))[-1] == "The build passed."
        await site.history.flush()
        stored = await site.history.load(chat_id(url), site.owner(me))
        assert stored is not None
        assert [s.output for s in stored.steps if s.type == "assistant_message"][-1] == (
            "The build passed."
        )
        assert any(s.name == "deploy" for s in stored.steps)


async def test_only_a_chat_running_here_and_of_that_user(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "hello")
        with pytest.raises(cl.NoSessionError, match="runs in this process"):
            init_http_context(thread_id="0" * 32)
        with pytest.raises(cl.NoSessionError, match="runs in this process"):
            # The chat is a browser's, not this user's: refused like a missing one.
            init_http_context(thread_id=chat_id(url), user=cl.User(identifier="ada"))
        with pytest.raises(cl.NoSessionError, match="needs its user"):
            init_http_context()


async def test_a_new_chat_for_a_user_lands_in_their_history(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    started: list[str] = []
    app = history_app(tmp_path, database)

    @app.on_chat_start
    async def start() -> None:
        started.append("started")

    async with serve(app, lifespan=True):
        ada = cl.User(identifier="ada@example.com")
        init_http_context(user=ada, user_env={"API_KEY": "k"})
        session = cl.context.session
        assert (session.owner, session.user) == ("user:ada@example.com", ada)
        assert cl.user_session.get("env") == {"API_KEY": "k"}
        await cl.Message(content="Your report is ready.").send()
        await cl.context.emitter.init_thread("Weekly report")  # named, so it is listed
        assert app.history is not None
        await app.history.flush()
        stored = await app.history.load(session.thread_id, "user:ada@example.com")
        assert stored is not None
        assert stored.thread.name == "Weekly report"
        listed = await app.history.threads("user:ada@example.com")
        assert [thread.name for thread in listed] == ["Weekly report"]
        assert started == []  # no page opened it: on_chat_start does not run


def test_before_an_app_is_served_there_is_nothing_to_write_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lightchat.chat import chats

    monkeypatch.setattr(chats, "_served", [])
    with pytest.raises(cl.NoSessionError, match="No app is served"):
        init_http_context(thread_id="x")
