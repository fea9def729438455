"""Slack: the app answers through Slack's Events API with Slack's own SDK (slack_bolt),
tested at its HTTP boundary: a loopback server plays Slack (its Web API, the files users
share, the uploads), the test sends the events Slack would send, signed (or forged), and
checks what the app posted."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web

import lightchat as cl
from lightchat import LightChat
from lightchat.cli import load_app
from lightchat.platforms.core import thread_id_for
from tests.helpers import Serve
from tests.platforms import Call, FakePlatform, counting_app

pytestmark = pytest.mark.anyio

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT = "UBOT"
TEAM = "T1"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PROFILE = {"real_name": "Ada Lovelace", "email": "ada@example.com", "title": "Analyst"}


def slack(files: dict[str, bytes]) -> FakePlatform:
    """Slack's Web API as the SDK calls it, and the files users share."""
    stamps = iter(range(1, 10_000))
    uploads: dict[str, str] = {}
    threads: dict[str, str] = {}  # the Slack thread of each message posted
    fake: FakePlatform

    def api(call: Call) -> web.StreamResponse:
        values = call.values
        method = call.method
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "user_id": BOT, "bot_id": "B1", "team_id": TEAM, "user": "bot"}
            )
        if method == "users.info":
            return web.json_response(
                {"ok": True, "user": {"id": values["user"], "profile": PROFILE}}
            )
        if method in ("chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral"):
            ts = values.get("ts") or f"200.{next(stamps)}"
            if method == "chat.postMessage":
                threads[ts] = str(values.get("thread_ts") or ts)
            return web.json_response({"ok": True, "channel": values.get("channel"), "ts": ts})
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(stamps)}"
            uploads[file_id] = str(values["filename"])
            return web.json_response(
                {"ok": True, "upload_url": f"{fake.url}/upload/{file_id}", "file_id": file_id}
            )
        if method == "files.completeUploadExternal":
            shared = values["files"]
            shared = json.loads(shared) if isinstance(shared, str) else shared
            return web.json_response({"ok": True, "files": shared})
        if method == "conversations.replies":
            ts = values["ts"]
            found = {"ts": ts, "thread_ts": threads.get(ts, ts), "user": BOT, "bot_id": "B1"}
            return web.json_response({"ok": True, "messages": [found]})
        return web.json_response({"ok": False, "error": "unknown_method"})

    def shared(call: Call) -> web.StreamResponse:
        if call.headers.get("Authorization") != "Bearer xoxb-test":
            return web.Response(status=403)
        return web.Response(body=files[call.method])

    fake = FakePlatform(
        {
            "/api/": api,
            "/files/": shared,
            "/upload/": lambda call: web.Response(text="OK - uploaded"),
        }
    )
    return fake


def signed(body: str, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def event(inner: dict[str, Any]) -> str:
    return json.dumps(
        {
            "token": "unused",
            "team_id": TEAM,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": inner,
        }
    )


async def send(client: httpx.AsyncClient, body: str, *, form: bool = False) -> httpx.Response:
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    return await client.post(
        "/slack/events", content=body, headers={"Content-Type": kind, **signed(body)}
    )


def posted(calls: list[Call], needle: str, thread: str | None = None) -> Call | None:
    for call in calls:
        if (
            call.method == "chat.postMessage"
            and needle in str(call.values.get("text"))
            and (thread is None or call.values.get("thread_ts") == thread)
        ):
            return call
    return None


def slack_app(tmp_path: Path) -> tuple[LightChat, list[str]]:
    def describe(user: cl.User) -> list[str]:
        event = cl.user_session.get("slack_event")
        return [
            f"name {user.metadata['real_name']}, id {user.metadata['slack_id']}",
            f"event {event['ts']}",
        ]

    app, seen = counting_app(tmp_path, describe)

    @app.on_slack_reaction_added
    async def reacted(event: dict[str, Any]) -> None:
        await cl.Message(content=f"Thanks for the :{event['reaction']}:").send()

    return app, seen


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)


async def test_mentions_messages_buttons_files_and_reactions(
    tmp_path: Path, serve: Serve, slack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack({"notes.txt": b"my notes"}) as fake:
        monkeypatch.setenv("LIGHTCHAT_SLACK_API_URL", f"{fake.url}/api/")
        app, seen = slack_app(tmp_path)
        async with serve(app, lifespan=True) as site:
            client = site.browser(form_token=False)
            # Slack checks the URL first.
            body = json.dumps({"type": "url_verification", "challenge": "abc", "token": "t"})
            answer = await send(client, body)
            assert answer.status_code == 200
            assert "abc" in answer.text

            # A mention starts the chat of its Slack thread.
            mention = {
                "type": "app_mention",
                "user": "U1",
                "text": f"<@{BOT}> hello",
                "ts": "100.1",
                "channel": "C1",
                "team": TEAM,
            }
            answer = await send(client, event(mention))
            assert answer.status_code == 200
            first = await fake.wait_for(lambda calls: posted(calls, "hello", "100.1"))
            text = first.values["text"]
            assert "You said *hello* (1)" in text  # markdown as Slack's mrkdwn
            assert "client slack, user slack_ada@example.com" in text
            assert "name Ada Lovelace, id U1" in text
            assert "event 100.1" in text
            assert first.values["channel"] == "C1"
            blocks = first.values["blocks"]
            blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
            button = blocks[-1]["elements"][0]
            assert button["text"]["text"] == "More"

            # A reply in that Slack thread goes on with the same chat (no mention needed).
            reply = {
                "type": "message",
                "channel_type": "channel",
                "user": "U1",
                "text": "again",
                "ts": "100.5",
                "thread_ts": "100.1",
                "channel": "C1",
                "team": TEAM,
            }
            await send(client, event(reply))
            await fake.wait_for(lambda calls: posted(calls, "You said *again* (2)", "100.1"))
            # A reply in a thread the bot is not in is not for it.
            stray = {**reply, "thread_ts": "999.1", "ts": "999.2", "text": "not for you"}
            await send(client, event(stray))

            # Its button runs the action callback in that chat.
            click = {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": "U1"},
                "api_app_id": "A1",
                "token": "t",
                "trigger_id": "1.2",
                "channel": {"id": "C1"},
                "container": {"type": "message", "message_ts": first.values.get("ts")},
                "message": {"ts": "200.1", "thread_ts": "100.1", "text": text},
                "actions": [
                    {
                        "type": "button",
                        "action_id": button["action_id"],
                        "block_id": "b",
                        "value": button["value"],
                        "action_ts": "1",
                    }
                ],
            }
            answer = await send(client, urlencode({"payload": json.dumps(click)}), form=True)
            assert answer.status_code == 200
            await fake.wait_for(lambda calls: posted(calls, "More for 1", "100.1"))

            # A direct message with a file: the app reads it, and its file goes as an upload.
            dm = {
                "type": "message",
                "subtype": "file_share",
                "channel_type": "im",
                "user": "U1",
                "text": "see attached",
                "ts": "300.1",
                "channel": "D1",
                "team": TEAM,
                "files": [
                    {
                        "id": "F0",
                        "name": "notes.txt",
                        "mimetype": "text/plain",
                        "url_private": f"{fake.url}/files/notes.txt",
                    }
                ],
            }
            await send(client, event(dm))
            answer_call = await fake.wait_for(lambda calls: posted(calls, "see attached", "300.1"))
            assert "file notes.txt: my notes" in answer_call.values["text"]
            done = await fake.wait_for(
                lambda calls: [c for c in calls if c.method == "files.completeUploadExternal"]
            )
            assert done[0].values["channel_id"] == "D1"
            assert done[0].values["thread_ts"] == "300.1"
            upload = next(c for c in fake.calls if c.path.startswith("/upload/"))
            assert b"the answer" in upload.body

            # A reaction to one of the bot's messages.
            reaction = {
                "type": "reaction_added",
                "user": "U1",
                "reaction": "tada",
                "item_user": BOT,
                "item": {"type": "message", "channel": "C1", "ts": "200.1"},
                "event_ts": "400.1",
            }
            await send(client, event(reaction))
            await fake.wait_for(lambda calls: posted(calls, "Thanks for the :tada:", "100.1"))
            assert seen == ["hello", "again", "see attached"]
            assert not posted(fake.calls, "not for you")

            # The chat of the Slack thread is in the user's history, like a web chat.
            thread_id = thread_id_for("slack", TEAM, "C1", "100.1")
            await site.history.flush()
            stored = await site.history.load(thread_id, "user:slack_ada@example.com")
            assert stored is not None
            outputs = [(s.type, s.output) for s in stored.steps]
            assert ("user_message", "hello") in outputs
            assert ("user_message", "again") in outputs
            assert any(t == "assistant_message" and "More for 1" in o for t, o in outputs)


async def test_forged_and_unsigned_events_are_refused(
    tmp_path: Path, serve: Serve, slack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack({}) as fake:
        monkeypatch.setenv("LIGHTCHAT_SLACK_API_URL", f"{fake.url}/api/")
        app, seen = slack_app(tmp_path)
        async with serve(app, lifespan=True) as site:
            client = site.browser(form_token=False)
            body = event(
                {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.1", "channel": "C1"}
            )
            forged = await client.post(
                "/slack/events",
                content=body,
                headers={"Content-Type": "application/json", **signed(body, "not-the-secret")},
            )
            assert forged.status_code == 401
            unsigned = await client.post(
                "/slack/events", content=body, headers={"Content-Type": "application/json"}
            )
            assert unsigned.status_code == 401
            stale = dict(signed(body))
            stale["X-Slack-Request-Timestamp"] = str(int(time.time()) - 3600)
            replayed = await client.post(
                "/slack/events",
                content=body,
                headers={"Content-Type": "application/json", **stale},
            )
            assert replayed.status_code == 401
            assert (await client.get("/slack/events")).status_code == 405
            huge = json.dumps({"type": "url_verification", "challenge": "x" * 2_000_000})
            assert (await send(client, huge)).status_code == 413
            assert seen == []
            assert not fake.named("chat.postMessage")
            assert not site.services.chats.session_ids


async def test_no_endpoint_without_the_variables(tmp_path: Path, serve: Serve) -> None:
    app, _ = slack_app(tmp_path)
    async with serve(app) as site:
        client = site.browser(form_token=False)
        answer = await client.post("/slack/events", content="{}")
        assert answer.status_code in (403, 404)


@pytest.mark.usefixtures("isolated_import")
async def test_the_slack_example_answers_in_its_thread(
    tmp_path: Path, serve: Serve, slack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_app(str(EXAMPLES / "28_slack" / "app.py"))
    app.configure(app_dir=str(tmp_path), history=False)
    async with slack({}) as fake:
        monkeypatch.setenv("LIGHTCHAT_SLACK_API_URL", fake.url + "/api")
        async with serve(app, lifespan=True, history_must_open=False) as site:
            client = site.browser(form_token=False)
            mention = {
                "type": "app_mention",
                "user": "U1",
                "text": f"<@{BOT}> hi there",
                "ts": "5.1",
                "channel": "C9",
            }
            await send(client, event(mention))
            answer = await fake.wait_for(lambda calls: posted(calls, "Hello Ada Lovelace", "5.1"))
            assert "You said *hi there* (message 1, on slack)." in answer.values["text"]
            reaction = {
                "type": "reaction_added",
                "user": "U1",
                "reaction": "wave",
                "item": {"type": "message", "channel": "C9", "ts": "200.1"},
            }
            await send(client, event(reaction))
            await fake.wait_for(lambda calls: posted(calls, "Thanks for the :wave:!", "5.1"))


async def test_a_thread_that_comes_back_after_its_chat_ended_is_resumed(
    tmp_path: Path, serve: Serve, slack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack({}) as fake:
        monkeypatch.setenv("LIGHTCHAT_SLACK_API_URL", f"{fake.url}/api/")
        app, seen = slack_app(tmp_path)
        resumed: list[int] = []

        @app.on_chat_resume
        async def resume(thread: dict[str, Any]) -> None:
            said = [s for s in thread["steps"] if s["type"] == "user_message"]
            resumed.append(len(said))
            cl.user_session.set("count", len(said))

        async with serve(app, lifespan=True) as site:
            client = site.browser(form_token=False)
            mention = {
                "type": "app_mention",
                "user": "U1",
                "text": f"<@{BOT}> first",
                "ts": "7.1",
                "channel": "C1",
            }
            await send(client, event(mention))
            await fake.wait_for(lambda calls: posted(calls, "You said *first* (1)", "7.1"))
            thread_id = thread_id_for("slack", TEAM, "C1", "7.1")
            chats = site.services.chats
            assert await chats.end(thread_id, "user:slack_ada@example.com")  # idle, ended
            await site.history.flush()
            again = {**mention, "text": f"<@{BOT}> second", "ts": "7.9", "thread_ts": "7.1"}
            await send(client, event(again))
            await fake.wait_for(lambda calls: posted(calls, "You said *second* (2)", "7.1"))
            assert resumed == [1]
            # What the chat showed before was not posted again.
            firsts = [c for c in fake.named("chat.postMessage") if "first" in c.values["text"]]
            assert len(firsts) == 1
            assert seen == ["first", "second"]
