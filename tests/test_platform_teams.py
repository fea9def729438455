"""Microsoft Teams: the app answers as a Teams bot with Microsoft's Bot Framework SDK,
tested at its HTTP boundary: a loopback server plays the Bot Framework (the document
listing its signing keys, the keys, and the conversations API the replies go to), the test
sends activities with a token signed as the Bot Framework signs it (or forged), and checks
what the bot posted. The SDK reads the keys with a blocking client, so the stand-in runs in
a thread of its own."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from botframework.connector.auth import MicrosoftAppCredentials
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import lightchat as cl
from lightchat import LightChat
from lightchat.cli import load_app
from lightchat.platforms.core import thread_id_for
from tests.helpers import Serve
from tests.platforms import counting_app

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CONVERSATION = "a:conversation-1"


@dataclass
class Seen:
    """A request the bot made to the stand-in."""

    verb: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class BotFramework:
    """The Bot Framework as the SDK reaches it, in a thread: ``calls`` as they came."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.calls: list[Seen] = []
        self.files = files
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        self.ids = iter(range(1, 10_000))
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, data: Any = None, raw: bytes | None = None) -> None:
                body = raw if raw is not None else json.dumps(data or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                body = json.loads(raw) if raw else {}
                fake.calls.append(Seen(self.command, self.path, dict(self.headers), body))
                fake.loop.call_soon_threadsafe(fake.changed.set)
                if self.path == "/openid":
                    self.answer(
                        200,
                        {
                            "issuer": ISSUER,
                            "jwks_uri": f"{fake.url}/keys",
                            "id_token_signing_alg_values_supported": ["RS256"],
                        },
                    )
                elif self.path == "/keys":
                    key = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
                    key.update(kid="k1", use="sig", endorsements=["msteams"])
                    self.answer(200, {"keys": [key]})
                elif self.path.startswith("/files/"):
                    self.answer(200, raw=fake.files[self.path.removeprefix("/files/")])
                elif self.path.startswith("/v3/conversations/"):
                    self.answer(200, {"id": f"r{next(fake.ids)}"})
                else:
                    self.answer(404)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def replies(self) -> list[Seen]:
        return [c for c in self.calls if c.path.startswith("/v3/conversations/")]

    def said(self, needle: str) -> Seen | None:
        for call in self.replies():
            if call.verb == "POST" and needle in str(call.body.get("text")):
                return call
        return None

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                self.changed.clear()
                found = check()
                if found:
                    return found
                await self.changed.wait()


@pytest.fixture
async def bot_framework(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotFramework]:
    fake = BotFramework({"notes.txt": b"my notes"})
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("TEAMS_APP_PASSWORD", "app-password")
    monkeypatch.setenv("LIGHTCHAT_TEAMS_OPENID_METADATA_URL", f"{fake.url}/openid")
    # The bot's own token comes from Microsoft's sign-in service (MSAL), not reachable here.
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", lambda self, *a: "bot-token")
    yield fake
    fake.close()


def token(service_url: str, key: Any = KEY, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": APP_ID,
        "nbf": now - 10,
        "exp": now + 3600,
        "serviceurl": service_url,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def activity(fake: BotFramework, text: str, **more: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"m{time.monotonic_ns()}",
        "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": f"{fake.url}/",
        "channelId": "msteams",
        "from": {"id": "29:ada", "name": "Ada Lovelace", "aadObjectId": "aad-1"},
        "conversation": {"id": CONVERSATION, "conversationType": "personal"},
        "recipient": {"id": "28:bot", "name": "Helper"},
        "text": text,
        "textFormat": "plain",
        **more,
    }


async def send(client: Any, fake: BotFramework, body: dict[str, Any], **claims: Any) -> Any:
    headers = {"Authorization": f"Bearer {token(body['serviceUrl'], **claims)}"}
    return await client.post("/teams/events", json=body, headers=headers)


def teams_app(tmp_path: Path) -> tuple[LightChat, list[str]]:
    def describe(user: cl.User) -> list[str]:
        turn = cl.user_session.get("teams_turn_context")
        return [
            f"id {user.metadata['id']}, aad {user.metadata['aad_object_id']}",
            f"conversation {turn.activity.conversation.id}",
        ]

    return counting_app(tmp_path, describe)


async def test_messages_buttons_files_and_typing(
    tmp_path: Path, serve: Serve, bot_framework: BotFramework
) -> None:
    fake = bot_framework
    app, seen = teams_app(tmp_path)
    async with serve(app, lifespan=True) as site:
        client = site.browser(form_token=False)
        answer = await send(client, fake, activity(fake, "hello"))
        assert answer.status_code == 200
        first = await fake.wait_for(lambda: fake.said("You said **hello** (1)"))
        text = first.body["text"]
        assert "client teams, user teams_Ada Lovelace" in text
        assert "id 29:ada, aad aad-1" in text
        assert f"conversation {CONVERSATION}" in text
        assert first.headers["Authorization"] == "Bearer bot-token"
        assert first.path.startswith("/v3/conversations/a%3Aconversation-1/activities/")
        # The typing indicator came first.
        assert fake.replies()[0].body["type"] == "typing"
        card = first.body["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.hero"
        button = card["content"]["buttons"][0]
        assert button["title"] == "More"

        # The same conversation goes on with the same chat.
        await send(client, fake, activity(fake, "again"))
        await fake.wait_for(lambda: fake.said("You said **again** (2)"))

        # The card's button: Teams sends its value back as a message.
        click = activity(fake, "More", value=button["value"])
        await send(client, fake, click)
        await fake.wait_for(lambda: fake.said("More for 1"))

        # A file the user shares; the app's file goes back as an attachment.
        shared = {
            "contentType": "application/vnd.microsoft.teams.file.download.info",
            "name": "notes.txt",
            "content": {"downloadUrl": f"{fake.url}/files/notes.txt", "fileType": "txt"},
        }
        await send(client, fake, activity(fake, "see attached", attachments=[shared]))
        reply = await fake.wait_for(lambda: fake.said("see attached"))
        assert "file notes.txt: my notes" in reply.body["text"]

        def uploaded() -> Seen | None:
            for call in fake.replies():
                for attachment in call.body.get("attachments") or []:
                    if attachment.get("name") == "answer.txt":
                        return call
            return None

        upload = await fake.wait_for(uploaded)
        url = upload.body["attachments"][0]["contentUrl"]
        assert url == "data:text/plain;base64,dGhlIGFuc3dlcg=="
        assert seen == ["hello", "again", "see attached"]

        # The conversation's chat is in the user's history.
        await site.history.flush()
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        stored = await site.history.load(
            thread_id_for("teams", CONVERSATION, day), "user:teams_Ada Lovelace"
        )
        assert stored is not None
        outputs = [(s.type, s.output) for s in stored.steps]
        assert ("user_message", "hello") in outputs
        assert any(t == "assistant_message" and "More for 1" in o for t, o in outputs)


async def test_forged_and_missing_tokens_are_refused(
    tmp_path: Path, serve: Serve, bot_framework: BotFramework
) -> None:
    fake = bot_framework
    app, seen = teams_app(tmp_path)
    async with serve(app, lifespan=True) as site:
        client = site.browser(form_token=False)
        body = activity(fake, "hello")
        missing = await client.post("/teams/events", json=body)
        assert missing.status_code == 401
        forged = await send(client, fake, body, key=OTHER_KEY)
        assert forged.status_code == 401
        other_bot = await send(client, fake, body, aud="another-bot")
        assert other_bot.status_code == 401
        # A token for another serviceUrl: replies would go where the token does not say.
        elsewhere = {"Authorization": f"Bearer {token('https://evil.example/')}"}
        moved = await client.post("/teams/events", json=body, headers=elsewhere)
        assert moved.status_code == 401
        assert seen == []
        assert not fake.replies()
        assert not site.services.chats.session_ids


@pytest.mark.usefixtures("isolated_import")
async def test_the_teams_example_answers(
    tmp_path: Path, serve: Serve, bot_framework: BotFramework
) -> None:
    fake = bot_framework
    app = load_app(str(EXAMPLES / "30_teams" / "app.py"))
    app.configure(app_dir=str(tmp_path), history=False)
    async with serve(app, lifespan=True, history_must_open=False) as site:
        client = site.browser(form_token=False)
        await send(client, fake, activity(fake, "hi there"))
        answer = await fake.wait_for(lambda: fake.said("Hello Ada Lovelace!"))
        assert "You said **hi there** (message 1, on teams)." in answer.body["text"]
