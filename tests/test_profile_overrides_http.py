"""A chat profile's ``config_overrides`` (Chainlit's ``ChainlitConfigOverrides``): the chats
of that profile get the app's settings with its keys changed, on their page and in their
session; the chats of other profiles keep the app's. Bad overrides are refused when the
profile is made; keys no chat can change alone are logged and left aside."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.config import ChainlitConfigOverrides, ConfigOverrides, FeaturesSettings, UISettings
from lightchat.errors import ConfigError
from lightchat.http.web import chat_renderer
from tests.helpers import Serve, Site

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

READER = ChainlitConfigOverrides(
    ui=UISettings(
        name="File reader",
        description="Reads files",
        header_links=[{"name": "Manual", "url": "https://example.com/manual"}],
        cot="hidden",
    ),
    features=FeaturesSettings(
        spontaneous_file_upload={"enabled": False},
        user_message_markdown=False,
        edit_message=False,
    ),
)


def profile_app(tmp_path: Path, **values: Any) -> LightChat:
    app = LightChat(
        settings=Settings(**{"name": "Bot", "app_dir": str(tmp_path), "history": False, **values})
    )

    @app.set_chat_profiles
    async def profiles(user: Any, language: Any) -> list[cl.ChatProfile]:
        return [
            cl.ChatProfile(name="Plain", default=True),
            cl.ChatProfile(name="Reader", config_overrides=READER),
            # Chainlit apps may give the same as a dict.
            cl.ChatProfile(name="Closed", config_overrides={"ui": {"confirm_new_chat": True}}),
        ]

    @app.on_message
    async def main(message: Message) -> None:
        async with cl.Step(name="lookup", type="tool") as step:
            step.output = "found"
        await Message(content=f"Got **{message.content}**").send()

    return app


async def chat_of(site: Site, profile: str) -> tuple[Any, str]:
    client = site.browser()
    started = await client.get(f"/?profile={profile}")
    assert started.status_code == 303
    return client, started.headers["location"]


async def test_a_profiles_overrides_change_its_chats_only(tmp_path: Path, serve: Serve) -> None:
    async with serve(profile_app(tmp_path)) as site:
        reader, reader_url = await chat_of(site, "Reader")
        plain, plain_url = await chat_of(site, "Plain")
        for client, url in ((reader, reader_url), (plain, plain_url)):
            posted = await client.post(f"{url}/messages", data={"content": "*hi*"})
            assert posted.status_code == 303

        page = (await reader.get(reader_url)).text
        assert "<title>File reader</title>" in page
        assert '<meta name="description" content="Reads files">' in page
        assert 'href="https://example.com/manual"' in page
        assert 'type="file"' not in page  # spontaneous uploads off
        assert '<p class="lc-plain">*hi*</p>' in page  # user_message_markdown off
        assert 'class="lc-edit"' not in page  # edit_message off
        assert 'data-step-type="tool"' not in page  # cot hidden
        # In the session too: the author of its messages, the uploads it takes.
        session = site.session(reader, reader_url)
        assert session.settings.name == "File reader"
        answer = [i for i in session.transcript.items.values() if getattr(i, "author", "")]
        assert {i.author for i in answer if i.type == "assistant_message"} == {"File reader"}
        refused = await reader.post(
            f"{reader_url}/messages", files={"files": ("a.txt", b"text", "text/plain")}
        )
        assert refused.status_code == 400  # the file is not taken: nothing was sent
        assert (
            await reader.post(f"{reader_url}/messages/x/edit", data={"content": "a"})
        ).status_code == 409

        # Another profile's chat keeps the app's settings.
        page = (await plain.get(plain_url)).text
        assert "<title>Bot</title>" in page
        assert 'type="file"' in page
        assert "example.com/manual" not in page
        assert "<p><em>hi</em></p>" in page
        assert 'data-step-type="tool"' in page
        assert site.session(plain, plain_url).settings is site.services.settings

        # The stream of each chat renders with that chat's settings.
        request = _request(site)
        assert chat_renderer(request, session).settings.name == "File reader"
        assert chat_renderer(request, site.session(plain, plain_url)) is site.services.renderer

        # A dict works as the class does.
        closed, closed_url = await chat_of(site, "Closed")
        assert "/new-chat?profile=Closed" in (await closed.get(closed_url)).text


def _request(site: Site) -> Request:
    """A request of the app (what chat_renderer needs of one: the app's services)."""
    return Request({"type": "http", "app": site.app.build(), "headers": []})


async def test_a_reopened_chat_gets_its_profiles_overrides_again(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(profile_app(tmp_path, history=True), lifespan=True) as site:
        client, url = await chat_of(site, "Reader")
        assert (await client.post(f"{url}/messages", data={"content": "hello"})).status_code == 303
        await site.history.flush()
        assert site.app.chats is not None
        await site.app.chats.close_all()
        page = (await client.get(url)).text  # reopened from history
        assert "<title>File reader</title>" in page
        assert site.session(client, url).settings.name == "File reader"


def test_overrides_are_checked_when_the_profile_is_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert ConfigOverrides is ChainlitConfigOverrides
    with pytest.raises(ConfigError, match="UISettings has no key 'nmae'"):
        cl.ChatProfile(name="A", config_overrides={"ui": {"nmae": "x"}})
    with pytest.raises(ConfigError, match=r"ChatProfile 'A': ui\.cot = \"all\": expected one of"):
        cl.ChatProfile(name="A", config_overrides=ChainlitConfigOverrides(ui={"cot": "all"}))
    with pytest.raises(ConfigError, match=r"ui\.header_links, link 1: url = 'javascript:x'"):
        cl.ChatProfile(
            name="A",
            config_overrides={"ui": {"header_links": [{"name": "x", "url": "javascript:x"}]}},
        )
    with pytest.raises(ConfigError, match="config_overrides takes a ChainlitConfigOverrides"):
        cl.ChatProfile(name="A", config_overrides="ui.name=x")
    with pytest.raises(ConfigError, match=r"FeaturesSettings\.mcp takes a McpFeature or a dict"):
        FeaturesSettings(mcp=True)

    # Keys Chainlit has that lightchat does not use, or that hold for the whole app: said
    # once, left aside.
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        for _ in range(2):
            profile = cl.ChatProfile(
                name="B",
                config_overrides={
                    "ui": {"language": "fr", "custom_css": "https://cdn.example/x.css"},
                    "features": {"mcp": {"enabled": True}},
                    "project": {"session_timeout": 10},
                },
            )
    said = sorted(r.getMessage() for r in caplog.records if "ChatProfile 'B'" in r.getMessage())
    assert len(said) == 4
    assert any("mcp holds for the whole app" in line for line in said)
    assert any("language holds for the whole app" in line for line in said)
    assert any("session_idle_timeout_s holds for the whole app" in line for line in said)
    assert any("custom_css takes a path of the app here" in line for line in said)
    assert profile.settings_for(Settings(name="Bot")) == Settings(name="Bot")
