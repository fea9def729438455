"""Slack: the app answers in Slack through Slack's Events API, with Slack's own SDK
(``slack_bolt`` and ``slack_sdk``, the ``slack`` extra).

``POST /slack/events`` takes Slack's events; Bolt checks each request's signature with the
signing secret (``SLACK_SIGNING_SECRET``) and refuses a forged or unsigned one before any
listener runs. A mention of the bot (``app_mention``), a direct message, or a reply in a
Slack thread the bot answers in, is a message of the chat of that Slack thread (one chat
per thread, kept in the history like a web chat); the answers are posted in the thread,
files as uploads, actions as buttons. The user is a ``cl.User`` named ``slack_`` and their
email (or Slack id), with their Slack profile and id as metadata; ``user_session``'s
``client_type`` is ``"slack"``, ``slack_event`` the event, and
``fetch_slack_message_history`` reads the thread's messages from Slack.

Calls to Slack's Web API go to ``LIGHTCHAT_SLACK_API_URL`` when it is set (a proxy, or a
test's stand-in), else to Slack.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from lightchat.domain.user import User
from lightchat.platforms.core import (
    Bridge,
    Conversation,
    Incoming,
    Outgoing,
    Poster,
    thread_id_for,
)

logger = logging.getLogger("lightchat")

PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
SECTION_CHARS = 3000
"""The most a section block's text holds."""
USER_PREFIX = "slack_"
ACTION_PREFIX = "lightchat_action_"
GONE = "This button is no longer available."


def mrkdwn(markdown: str) -> str:
    """Markdown as Slack's mrkdwn: bold, italics, strike-through, links and headings."""
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: "\0" + (m[1] or m[2]) + "\0", markdown)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"_\1_", text)
    text = re.sub(r"~~(.+?)~~", r"~\1~", text)
    text = re.sub(r"!?\[([^\]]*)\]\(([^)\s]+)\)", lambda m: f"<{m[2]}|{m[1] or m[2]}>", text)
    text = re.sub(r"(?m)^#{1,6}\s+(.+)$", "\0\\1\0", text)
    return text.replace("\0", "*")


def blocks_of(out: Outgoing) -> list[dict[str, Any]]:
    """A message as Slack blocks: its text in sections, its actions as buttons."""
    blocks: list[dict[str, Any]] = []
    text = mrkdwn(out.text)
    while text:
        cut = len(text) if len(text) <= SECTION_CHARS else text.rfind("\n", 0, SECTION_CHARS)
        if cut <= 0:
            cut = SECTION_CHARS
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:cut]}})
        text = text[cut:].lstrip("\n")
    if out.buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"{ACTION_PREFIX}{index}",
                        "text": {"type": "plain_text", "text": button.label[:75] or "…"},
                        "value": button.action_id,
                    }
                    for index, button in enumerate(out.buttons[:25])
                ],
            }
        )
    return blocks


class SlackPoster(Poster):
    """Posts to Slack threads through the Web API."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, conversation: Conversation, out: Outgoing) -> Any:
        place = conversation.place
        if not out.text and not out.buttons:
            return None  # only files: they go as uploads
        answer = await self.client.chat_postMessage(
            channel=place["channel"],
            thread_ts=place["thread_ts"],
            text=mrkdwn(out.text) or "…",
            blocks=blocks_of(out),
        )
        return (place["channel"], answer["ts"])

    async def update(self, conversation: Conversation, ref: Any, out: Outgoing) -> None:
        channel, ts = ref
        await self.client.chat_update(
            channel=channel, ts=ts, text=mrkdwn(out.text) or "…", blocks=blocks_of(out)
        )

    async def delete(self, conversation: Conversation, ref: Any) -> None:
        channel, ts = ref
        await self.client.chat_delete(channel=channel, ts=ts)

    async def upload(
        self, conversation: Conversation, name: str, data: bytes, mime: str | None
    ) -> None:
        place = conversation.place
        await self.client.files_upload_v2(
            channel=place["channel"],
            thread_ts=place["thread_ts"],
            content=data,
            filename=name,
            title=name,
        )


class Slack:
    """The Slack side of an app: its Bolt app, its endpoint and its conversations."""

    path = PATH

    def __init__(self, services: Any, environ: Mapping[str, str]) -> None:
        self.token = environ["SLACK_BOT_TOKEN"]
        base_url = environ.get("LIGHTCHAT_SLACK_API_URL") or DEFAULT_API_URL
        self.bolt = AsyncApp(
            token=self.token, signing_secret=environ["SLACK_SIGNING_SECRET"], logger=logger
        )
        self.client: AsyncWebClient = self.bolt.client
        self.client.base_url = base_url.rstrip("/") + "/"
        self.bridge = Bridge("slack", SlackPoster(self.client), services)
        self.users: dict[str, User] = {}
        self.bolt.event("app_mention")(self._mention)
        self.bolt.event("message")(self._message)
        self.bolt.event("reaction_added")(self._reaction)
        self.bolt.action(re.compile(f"^{ACTION_PREFIX}"))(self._click)

    async def handle(self, request: Request) -> Response:
        """``POST /slack/events``: Bolt checks the signature, answers at once (Slack wants
        its answer within three seconds) and runs the listener in the background."""
        body = (await request.body()).decode("utf-8", "replace")
        answer = await self.bolt.async_dispatch(
            AsyncBoltRequest(body=body, query=request.url.query, headers=dict(request.headers))
        )
        return Response(
            content=answer.body,
            status_code=answer.status,
            headers=answer.first_headers_without_set_cookie(),
        )

    async def start(self) -> None:
        """Nothing to start: Slack sends its events to the endpoint."""

    async def close(self) -> None:
        await self.bridge.close()

    # -- users ------------------------------------------------------------------------

    async def user(self, slack_id: str) -> User:
        """The ``cl.User`` of a Slack user: ``slack_`` and their email (else their id),
        their profile and Slack id in ``metadata``."""
        found = self.users.get(slack_id)
        if found is not None:
            return found
        profile: dict[str, Any] = {}
        try:
            answer = await self.client.users_info(user=slack_id)
            profile = dict((answer.get("user") or {}).get("profile") or {})
        except SlackApiError as exc:
            logger.warning("Slack did not give the profile of %s: %s", slack_id, exc)
        name = profile.get("real_name") or profile.get("display_name") or None
        user = User(
            identifier=USER_PREFIX + (profile.get("email") or slack_id),
            display_name=name,
            metadata={**profile, "slack_id": slack_id},
        )
        self.users[slack_id] = user
        return user

    # -- events -----------------------------------------------------------------------

    async def _mention(self, event: dict[str, Any], context: Any) -> None:
        await self._chat(event, context)

    async def _message(self, event: dict[str, Any], context: Any) -> None:
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return  # the bot's own messages, edits, joins...
        if event.get("channel_type") == "im":
            await self._chat(event, context)
            return
        # In a channel: a reply in a Slack thread the bot answers in goes on with its chat
        # (a reply that mentions the bot comes as an app_mention too).
        bot = context.get("bot_user_id") or ""
        thread_ts = event.get("thread_ts")
        if not thread_ts or (bot and f"<@{bot}>" in (event.get("text") or "")):
            return
        thread_id = self._thread_id(event, context, thread_ts)
        if thread_id in self.bridge.conversations:
            await self._chat(event, context)

    def _thread_id(self, event: Mapping[str, Any], context: Any, thread_ts: str) -> str:
        team = event.get("team") or context.get("team_id") or ""
        return thread_id_for("slack", str(team), str(event["channel"]), thread_ts)

    async def _chat(self, event: dict[str, Any], context: Any) -> None:
        slack_id = event.get("user")
        if not slack_id:
            return
        channel = str(event["channel"])
        thread_ts = str(event.get("thread_ts") or event["ts"])
        conversation = self.bridge.conversation(
            self._thread_id(event, context, thread_ts),
            {"channel": channel, "thread_ts": thread_ts},
        )
        user = await self.user(slack_id)
        files = [await self._download(f) for f in event.get("files") or []]
        bot = context.get("bot_user_id") or ""
        text = event.get("text") or ""
        if bot:
            text = text.replace(f"<@{bot}>", "")
        await self.bridge.message(
            conversation,
            user,
            text.strip(),
            [f for f in files if f is not None],
            values=self._values(event, channel, thread_ts),
        )

    def _values(self, event: dict[str, Any], channel: str, thread_ts: str) -> dict[str, Any]:
        return {
            "slack_event": event,
            "fetch_slack_message_history": partial(self.history, channel, thread_ts),
        }

    async def history(self, channel: str, thread_ts: str, limit: int = 30) -> list[Any]:
        """The messages of a Slack thread (``user_session["fetch_slack_message_history"]``)."""
        answer = await self.client.conversations_replies(channel=channel, ts=thread_ts, limit=limit)
        return list(answer.get("messages") or [])

    async def _download(self, file: Mapping[str, Any]) -> Incoming | None:
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            return None
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession() as http, http.get(str(url), headers=headers) as got:
            if got.status != 200:
                logger.warning("A file shared on Slack could not be read (%s)", got.status)
                return None
            data = await got.read()
        return Incoming(str(file.get("name") or "file"), data)

    async def _reaction(self, event: dict[str, Any], context: Any) -> None:
        """``@cl.on_slack_reaction_added``: a reaction to one of the bot's messages."""
        if "on_slack_reaction_added" not in self.bridge.chats.registry.callbacks:
            return
        item = event.get("item") or {}
        slack_id = event.get("user")
        bot = context.get("bot_user_id")
        if item.get("type") != "message" or not slack_id or slack_id == bot:
            return
        channel, ts = str(item.get("channel")), str(item.get("ts"))
        thread_id = self.bridge.refs.get((channel, ts))
        thread_ts = None
        if thread_id is None:
            answer = await self.client.conversations_replies(channel=channel, ts=ts, limit=1)
            messages = answer.get("messages") or []
            if not messages:
                return
            first = messages[0]
            if first.get("user") != bot and first.get("bot_id") != context.get("bot_id"):
                return  # not a message of the bot's
            thread_ts = str(first.get("thread_ts") or ts)
            thread_id = self._thread_id({**item, "team": event.get("team")}, context, thread_ts)
        known = self.bridge.conversations.get(thread_id)
        if known is not None:
            conversation = known
        else:
            conversation = self.bridge.conversation(
                thread_id, {"channel": channel, "thread_ts": thread_ts or ts}
            )
        place = conversation.place
        await self.bridge.hook(
            conversation,
            await self.user(slack_id),
            "on_slack_reaction_added",
            event,
            values=self._values(event, place["channel"], place["thread_ts"]),
        )

    async def _click(self, ack: Any, body: dict[str, Any]) -> None:
        """A button under one of the bot's messages."""
        await ack()
        action = (body.get("actions") or [{}])[0]
        channel = str((body.get("channel") or {}).get("id"))
        message = body.get("message") or {}
        thread_id = self.bridge.refs.get((channel, str(message.get("ts"))))
        conversation = self.bridge.conversations.get(thread_id or "")
        if conversation is None or not await self.bridge.click(
            conversation, str(action.get("value"))
        ):
            user = (body.get("user") or {}).get("id")
            if user:
                await self.client.chat_postEphemeral(
                    channel=channel,
                    user=str(user),
                    text=GONE,
                    thread_ts=message.get("thread_ts") or message.get("ts"),
                )
