"""Discord: the app answers as a Discord bot with Discord's own library (discord.py),
tested at its boundary: a loopback server plays Discord (its REST API and its gateway, a
websocket that sends the events Discord would send), and the test checks what the bot
posted."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from lightchat import LightChat
from lightchat.cli import load_app
from lightchat.platforms.core import thread_id_for
from tests.helpers import Serve
from tests.platforms import Call, FakePlatform, counting_app

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BOT = {"id": "100", "username": "helper", "discriminator": "0", "bot": True, "avatar": None}
ADA = {"id": "200", "username": "ada", "discriminator": "0", "global_name": "Ada", "avatar": None}
GUILD, CHANNEL, DM = "300", "400", "500"
NOW = "2026-01-01T00:00:00+00:00"


def reply(data: Any, status: int = 200) -> web.Response:
    """JSON as Discord sends it (discord.py reads a body as JSON only for exactly this type)."""
    body = json.dumps(data).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


class FakeDiscord(FakePlatform):
    """Discord's REST API and gateway; ``dispatch`` sends a gateway event to the bot."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.ids = itertools.count(1000)
        self.socket: web.WebSocketResponse | None = None
        self.identified = asyncio.Event()
        self.sequence = itertools.count(1)
        self.sent: list[dict[str, Any]] = []
        super().__init__(
            {
                "/api/v10/": self.api,
                "/gateway": self.gateway,
                "/files/": lambda call: web.Response(body=self.files[call.method]),
            }
        )

    def message(self, channel_id: str, content: str, **more: Any) -> dict[str, Any]:
        return {
            "id": str(next(self.ids)),
            "channel_id": channel_id,
            "author": BOT,
            "content": content,
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
            **more,
        }

    def api(self, call: Call) -> web.StreamResponse:
        parts = call.path.removeprefix("/api/v10/").split("/")
        if parts == ["users", "@me"]:
            return reply(BOT)
        if parts == ["oauth2", "applications", "@me"]:
            return reply(
                {
                    "id": BOT["id"],
                    "name": "helper",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "owner": ADA,
                    "flags": 0,
                }
            )
        if parts == ["gateway", "bot"]:
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            url = self.url.replace("http", "ws") + "/gateway"
            return reply({"url": url, "shards": 1, "session_start_limit": limit})
        if parts[0] == "channels" and parts[-1] == "typing":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "threads":
            thread = {
                "id": str(next(self.ids)),
                "type": 11,
                "guild_id": GUILD,
                "parent_id": parts[1],
                "name": call.values.get("name"),
                "owner_id": BOT["id"],
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": NOW,
                    "locked": False,
                },
            }
            return reply(thread)
        if parts[0] == "channels" and parts[2] == "messages" and call.verb == "DELETE":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[2] == "messages":
            content = str(call.values.get("content") or "")
            if call.verb == "PATCH":
                return reply(self.message(parts[1], content, id=parts[3]))
            sent = self.message(parts[1], content)
            self.sent.append(sent)
            return reply(sent)
        if parts[0] == "interactions":
            callback = {"interaction": {"id": parts[1], "type": 3}}
            return reply(callback)
        if parts[0] == "webhooks":
            return reply(self.message(CHANNEL, str(call.values.get("content"))))
        return reply({"message": "Unknown", "code": 0}, status=404)

    async def gateway(self, call: Call) -> web.StreamResponse:
        assert call.request is not None
        socket = web.WebSocketResponse()
        await socket.prepare(call.request)
        self.socket = socket
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                break
            payload = json.loads(frame.data)
            if payload["op"] == 1:
                await socket.send_json({"op": 11})
            elif payload["op"] == 2:
                await self.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": BOT,
                        "guilds": [{"id": GUILD, "unavailable": True}],
                        "session_id": "s1",
                        "resume_gateway_url": self.url.replace("http", "ws") + "/gateway",
                        "application": {"id": BOT["id"], "flags": 0},
                    },
                )
                await self.dispatch("GUILD_CREATE", self.guild())
                self.identified.set()
        return socket

    def guild(self) -> dict[str, Any]:
        return {
            "id": GUILD,
            "name": "Lab",
            "owner_id": ADA["id"],
            "unavailable": False,
            "member_count": 2,
            "roles": [
                {
                    "id": GUILD,
                    "name": "@everyone",
                    "permissions": "1024",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "members": [],
            "threads": [],
            "channels": [
                {
                    "id": CHANNEL,
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "guild_id": GUILD,
                    "permission_overwrites": [],
                }
            ],
            "voice_states": [],
            "presences": [],
        }

    async def dispatch(self, kind: str, data: dict[str, Any]) -> None:
        assert self.socket is not None
        await self.socket.send_json({"op": 0, "t": kind, "s": next(self.sequence), "d": data})

    async def user_says(
        self, channel_id: str, content: str, *, guild: bool = True, **more: Any
    ) -> None:
        message = self.message(channel_id, content, author=ADA, **more)
        if guild:
            message["guild_id"] = GUILD
            message["member"] = {
                "roles": [],
                "joined_at": NOW,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        await self.dispatch("MESSAGE_CREATE", message)


def posted(fake: FakePlatform, needle: str, channel: str | None = None) -> Call | None:
    for call in fake.calls:
        if (
            call.verb == "POST"
            and call.path.endswith("/messages")
            and (needle in str(call.values.get("content")) or needle.encode() in call.body)
            and (channel is None or f"/channels/{channel}/" in call.path)
        ):
            return call
    return None


def discord_app(tmp_path: Path) -> tuple[LightChat, list[str]]:
    return counting_app(
        tmp_path, lambda user: [f"id {user.metadata['id']}, name {user.display_name}"]
    )


async def test_mentions_threads_dms_buttons_and_files(
    tmp_path: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeDiscord({"notes.txt": b"my notes"}) as fake:
        monkeypatch.setenv("DISCORD_BOT_TOKEN", "bot-token")
        monkeypatch.setenv("LIGHTCHAT_DISCORD_API_URL", f"{fake.url}/api/v10")
        app, seen = discord_app(tmp_path)
        async with serve(app, lifespan=True):
            async with asyncio.timeout(10):
                await fake.identified.wait()
            login = next(c for c in fake.calls if c.path.endswith("/users/@me"))
            assert login.headers["Authorization"] == "Bot bot-token"

            # A mention in a channel opens a thread on the message; the answer goes there.
            await fake.user_says(CHANNEL, f"<@{BOT['id']}> hello", mentions=[BOT], id="600")
            opened = await fake.wait_for(
                lambda calls: [c for c in calls if c.path.endswith("/600/threads")]
            )
            assert opened[0].values["name"] == "hello"
            first = await fake.wait_for(lambda calls: posted(fake, "You said **hello** (1)"))
            thread = first.path.split("/")[4]
            assert thread != CHANNEL
            text = first.values["content"]
            assert "client discord, user discord_ada" in text
            assert "id 200, name Ada" in text
            button = first.values["components"][0]["components"][0]
            assert button["label"] == "More"
            assert any(c.path.endswith(f"/channels/{thread}/typing") for c in fake.calls)

            # In that thread the chat goes on without a mention.
            await fake.user_says(thread, "again")
            await fake.wait_for(lambda calls: posted(fake, "You said **again** (2)", thread))
            # A message in the channel that does not mention the bot is not for it.
            await fake.user_says(CHANNEL, "not for you")

            # The button, clicked: an interaction through the gateway.
            shown = next(m for m in fake.sent if "You said **hello**" in m["content"])
            message = {**shown, "components": first.values["components"]}
            await fake.dispatch(
                "INTERACTION_CREATE",
                {
                    "id": "700",
                    "application_id": BOT["id"],
                    "type": 3,
                    "token": "itoken",
                    "version": 1,
                    "channel_id": thread,
                    "guild_id": GUILD,
                    "member": {
                        "user": ADA,
                        "roles": [],
                        "joined_at": NOW,
                        "deaf": False,
                        "mute": False,
                        "permissions": "1024",
                        "flags": 0,
                    },
                    "message": message,
                    "data": {"custom_id": button["custom_id"], "component_type": 2},
                    "app_permissions": "1024",
                    "locale": "en-US",
                    "entitlements": [],
                    "authorizing_integration_owners": {},
                    "attachment_size_limit": 1000,
                },
            )
            await fake.wait_for(lambda calls: posted(fake, "More for 1", thread))
            assert any(c.path.startswith("/api/v10/interactions/700/") for c in fake.calls)

            # A direct message with a file: the app reads it; its file goes as an attachment.
            attachment = {
                "id": "800",
                "filename": "notes.txt",
                "size": 8,
                "url": f"{fake.url}/files/notes.txt",
                "proxy_url": f"{fake.url}/files/notes.txt",
                "content_type": "text/plain",
            }
            await fake.user_says(DM, "see attached", guild=False, attachments=[attachment])
            reply = await fake.wait_for(lambda calls: posted(fake, "see attached", DM))
            assert "file notes.txt: my notes" in reply.values["content"]
            upload = await fake.wait_for(lambda calls: posted(fake, "the answer", DM))
            assert b'filename="answer.txt"' in upload.body
            assert seen == ["hello", "again", "see attached"]
            assert not posted(fake, "not for you")

            # The thread's chat is in the user's history.
            await app.history.flush()  # type: ignore[union-attr]
            stored = await app.history.load(  # type: ignore[union-attr]
                thread_id_for("discord", thread), "user:discord_ada"
            )
            assert stored is not None
            outputs = [(s.type, s.output) for s in stored.steps]
            assert ("user_message", "hello") in outputs
            assert any(t == "assistant_message" and "More for 1" in o for t, o in outputs)
            today = datetime.now(UTC).strftime("%Y-%m-%d")
            dm = await app.history.load(  # type: ignore[union-attr]
                thread_id_for("discord", DM, today), "user:discord_ada"
            )
            assert dm is not None


@pytest.mark.usefixtures("isolated_import")
async def test_the_discord_example_answers_in_a_thread(
    tmp_path: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_app(str(EXAMPLES / "29_discord" / "app.py"))
    app.configure(app_dir=str(tmp_path), history=False)
    async with FakeDiscord({}) as fake:
        monkeypatch.setenv("DISCORD_BOT_TOKEN", "bot-token")
        monkeypatch.setenv("LIGHTCHAT_DISCORD_API_URL", f"{fake.url}/api/v10")
        async with serve(app, lifespan=True, history_must_open=False):
            async with asyncio.timeout(10):
                await fake.identified.wait()
            await fake.user_says(DM, "hi there", guild=False)
            answer = await fake.wait_for(lambda calls: posted(fake, "Hello Ada!", DM))
            assert "You said **hi there** (message 1, on discord)." in answer.values["content"]
