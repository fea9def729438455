"""Chainlit's ``[project]`` options for the keys users give (``user_env``):
``persist_user_env`` keeps them in the thread for a resumed chat, ``mask_user_env`` hides
them as they are typed."""

from __future__ import annotations

from pathlib import Path

import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.chat.chats import _restore_env
from tests.helpers import Serve, new_session

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("mask", "shown"), [(True, "password"), (False, "text")])
async def test_mask_user_env_decides_how_the_keys_are_typed(
    tmp_path: Path, serve: Serve, mask: bool, shown: str
) -> None:
    app = LightChat(
        settings=Settings(app_dir=str(tmp_path), user_env="API_KEY", mask_user_env=mask)
    )

    @app.on_message
    async def main(message: cl.Message) -> None: ...

    async with serve(app) as site:
        form = await site.browser().get("/env")
        assert f'<input type="{shown}" name="API_KEY"' in form.text


@pytest.mark.parametrize("persist", [True, False])
async def test_persist_user_env_keeps_the_keys_in_the_thread(
    tmp_path: Path, database: str, serve: Serve, persist: bool
) -> None:
    settings = Settings(
        app_dir=str(tmp_path), database_url=database, user_env="API_KEY", persist_user_env=persist
    )
    app = LightChat(settings=settings)

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content="Noted.").send()

    async with serve(app, lifespan=True) as site:
        me = site.browser()
        assert (await me.get("/")).headers["location"] == "/env"  # asked first
        saved = await me.post("/env", data={"API_KEY": "sk-123"})
        assert saved.status_code == 303
        url = await site.chat(me, "hello")
        await site.history.flush()
        stored = await site.history.load(url.rsplit("/", 1)[1], site.owner(me))
        assert stored is not None
        if persist:
            assert stored.thread.meta["env"] == {"API_KEY": "sk-123"}
        else:
            assert "env" not in stored.thread.meta


async def test_a_resumed_chat_gets_the_kept_keys_back_unless_it_has_its_own() -> None:
    session = new_session(LightChat())
    _restore_env(session, {"env": {"API_KEY": "kept"}})
    assert session.user_env == {"API_KEY": "kept"}
    _restore_env(session, {"env": {"API_KEY": "older"}})
    assert session.user_env == {"API_KEY": "kept"}  # the browser's own keys stay
    fresh = new_session(LightChat())
    _restore_env(fresh, {"env": "not a dict"})
    assert fresh.user_env == {}
    await session.close()
    await fresh.close()
