"""Microsoft Teams: the app answers as a Teams bot, with Microsoft's Bot Framework SDK
(``botbuilder-core`` and ``botbuilder-integration-aiohttp``, the ``teams`` extra).

``POST /teams/events`` takes the Bot Framework's activities. Each request's bearer token is
checked by the SDK's ``CloudAdapter`` (signed by the Bot Framework's keys, issued for this
bot's ``TEAMS_APP_ID``, for the ``serviceUrl`` the activity names): a forged or missing
token is a 401 and reaches no callback. A message is one of the chat of its Teams
conversation (a chat per conversation and day, as Chainlit's), answered in the
conversation: the typing indicator first, then the app's messages, edited or deleted as the
app changes them; actions as buttons of a card, files as attachments. Replies go to the
``serviceUrl`` each activity carries, with the bot's own token (``TEAMS_APP_PASSWORD``).

The user is a ``cl.User`` named ``teams_`` and their name, with their Teams id, name and
Entra object id as metadata; ``user_session``'s ``client_type`` is ``"teams"`` and
``teams_turn_context`` the SDK's ``TurnContext``.

``TEAMS_APP_TYPE`` (``MultiTenant``, ``SingleTenant``...) and ``TEAMS_APP_TENANT_ID`` name
the bot's kind of app registration; ``LIGHTCHAT_TEAMS_OPENID_METADATA_URL`` the document
that lists the Bot Framework's signing keys (a proxy, or a test's stand-in).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    ActionTypes,
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    HeroCard,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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

PATH = "/teams/events"
USER_PREFIX = "teams_"
ACTION_KEY = "lightchat_action"
GONE = "This button is no longer available."
DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"

# The Bot Framework's public cloud, as the SDK names it (used when its metadata address is
# given, which makes the SDK read every address from the configuration).
PUBLIC_CLOUD = {
    "TO_CHANNEL_FROM_BOT_LOGIN_URL": "https://login.microsoftonline.com/botframework.com",
    "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": "https://api.botframework.com",
    "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": "https://api.botframework.com",
    "OAUTH_URL": "https://api.botframework.com",
    "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": (
        "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"
    ),
}


def activity_of(out: Outgoing) -> Activity:
    """A message as a Teams activity: markdown text, its actions as a card's buttons."""
    activity = MessageFactory.text(out.text or "…")
    activity.text_format = "markdown"
    if out.buttons:
        card = HeroCard(
            buttons=[
                CardAction(
                    type=ActionTypes.message_back,
                    title=button.label,
                    text=button.label,
                    display_text=button.label,
                    value={ACTION_KEY: button.action_id},
                )
                for button in out.buttons
            ]
        )
        activity.attachments = [CardFactory.hero_card(card)]
    return activity


class TeamsPoster(Poster):
    """Posts in a Teams conversation, through the turn that the latest activity opened."""

    async def post(self, conversation: Conversation, out: Outgoing) -> Any:
        if not out.text and not out.buttons:
            return None  # only files: they go as attachments
        turn: TurnContext = conversation.place["turn"]
        answer = await turn.send_activity(activity_of(out))
        return answer.id if answer is not None else None

    async def update(self, conversation: Conversation, ref: Any, out: Outgoing) -> None:
        turn: TurnContext = conversation.place["turn"]
        activity = activity_of(out)
        activity.id = ref
        await turn.update_activity(activity)

    async def delete(self, conversation: Conversation, ref: Any) -> None:
        turn: TurnContext = conversation.place["turn"]
        await turn.delete_activity(ref)

    async def upload(
        self, conversation: Conversation, name: str, data: bytes, mime: str | None
    ) -> None:
        turn: TurnContext = conversation.place["turn"]
        kind = mime or "application/octet-stream"
        url = f"data:{kind};base64,{base64.b64encode(data).decode()}"
        attachment = Attachment(content_type=kind, content_url=url, name=name)
        await turn.send_activity(Activity(type=ActivityTypes.message, attachments=[attachment]))


class Teams:
    """The Teams side of an app: the Bot Framework's adapter, its endpoint, its chats."""

    path = PATH

    def __init__(self, services: Any, environ: Mapping[str, str]) -> None:
        config: dict[str, Any] = {
            "APP_ID": environ["TEAMS_APP_ID"],
            "APP_PASSWORD": environ["TEAMS_APP_PASSWORD"],
            "APP_TYPE": environ.get("TEAMS_APP_TYPE") or "MultiTenant",
            "APP_TENANTID": environ.get("TEAMS_APP_TENANT_ID") or "",
        }
        metadata = environ.get("LIGHTCHAT_TEAMS_OPENID_METADATA_URL")
        if metadata:
            config.update(PUBLIC_CLOUD, TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=metadata)
        self.app_id = config["APP_ID"]
        self.adapter = CloudAdapter(
            ConfigurationBotFrameworkAuthentication(SimpleNamespace(**config))
        )
        self.bridge = Bridge("teams", TeamsPoster(), services)
        self.users: dict[str, User] = {}

    async def handle(self, request: Request) -> Response:
        """``POST /teams/events``: the token is checked, then the turn runs in the
        background (the Bot Framework wants its answer within seconds)."""
        try:
            body = json.loads(await request.body())
            activity = Activity().deserialize(body)
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": "Not an activity."}, 400)
        auth = request.headers.get("Authorization", "")
        try:
            checked = await self.adapter.bot_framework_authentication.authenticate_request(
                activity, auth
            )
        except Exception as exc:  # the SDK raises PermissionError, or a JWT error
            logger.warning("Teams: an activity was refused (%s)", type(exc).__name__)
            return JSONResponse({"error": "Unauthorized."}, 401)
        self.bridge.spawn(self.adapter.process_activity(checked, activity, self.on_turn))
        return Response(status_code=200)

    async def start(self) -> None:
        """Nothing to start: the Bot Framework sends its activities to the endpoint."""

    async def close(self) -> None:
        await self.bridge.close()

    def user(self, account: Any) -> User:
        """The ``cl.User`` of a Teams user: ``teams_`` and their name."""
        key = str(account.id)
        found = self.users.get(key)
        if found is None:
            name = str(account.name or account.id)
            found = User(
                identifier=USER_PREFIX + name,
                display_name=name,
                metadata={
                    "id": key,
                    "name": name,
                    "aad_object_id": getattr(account, "aad_object_id", None),
                },
            )
            self.users[key] = found
        return found

    async def on_turn(self, turn: TurnContext) -> None:
        activity = turn.activity
        if activity.type != ActivityTypes.message:
            return
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        user = self.user(activity.from_property)
        conversation = self.bridge.conversation(
            thread_id_for("teams", str(activity.conversation.id), day),
            {"turn": turn},
            f"{user.display_name} Teams DM {day}",
        )
        conversation.place["turn"] = turn
        value = activity.value if isinstance(activity.value, dict) else {}
        if ACTION_KEY in value:
            if not await self.bridge.click(conversation, str(value[ACTION_KEY])):
                await turn.send_activity(GONE)
            return
        await turn.send_activity(Activity(type=ActivityTypes.typing))
        text = TurnContext.remove_recipient_mention(activity) or activity.text or ""
        files = await self._files(activity.attachments or [])
        await self.bridge.message(
            conversation,
            user,
            text.strip(),
            files,
            values={"teams_turn_context": turn},
        )

    async def _files(self, attachments: list[Any]) -> list[Incoming]:
        """The files a user shared: Teams' file download links and pasted images."""
        found: list[Incoming] = []
        for attachment in attachments:
            content = attachment.content if isinstance(attachment.content, dict) else {}
            if attachment.content_type == DOWNLOAD_INFO and content.get("downloadUrl"):
                url = str(content["downloadUrl"])
            elif str(attachment.content_type or "").startswith("image/") and attachment.content_url:
                url = str(attachment.content_url)
            else:
                continue  # cards, mentions...
            async with aiohttp.ClientSession() as http, http.get(url) as got:
                if got.status != 200:
                    logger.warning("A file shared on Teams could not be read (%s)", got.status)
                    continue
                data = await got.read()
            found.append(Incoming(str(attachment.name or "file"), data))
        return found
