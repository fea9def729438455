"""Discord: the app answers as a Discord bot, with Discord's own library (``discord.py``,
the ``discord`` extra).

With ``DISCORD_BOT_TOKEN`` set, the server connects the bot to Discord's gateway when it
starts (and disconnects it when it stops). A mention of the bot in a channel opens a
Discord thread on that message, where the chat goes on (messages there need no mention);
a mention in a thread makes that thread the chat; direct messages are a chat per day, as
Chainlit's. Answers are posted in the conversation (with the typing indicator while the
app works), files as attachments, actions as buttons (their clicks come back through the
gateway). The user is a ``cl.User`` named ``discord_`` and their user name, with their
Discord id and names as metadata; ``user_session``'s ``client_type`` is ``"discord"``,
``discord_message`` and ``discord_channel`` the message and its channel.

The gateway is a connection the bot opens to Discord, authenticated by the token, so its
events carry no signature to check (Discord signs only the requests it sends to an
interactions endpoint, which this bot does not use). ``LIGHTCHAT_DISCORD_API_URL`` sends
the REST API's calls elsewhere (a proxy, or a test's stand-in); the gateway's address is
then asked of that API (``GET /gateway/bot``), as Discord documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yarl

with warnings.catch_warnings():
    # discord.py's voice support imports audioop, deprecated since Python 3.11.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

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

MESSAGE_CHARS = 2000
"""The most a Discord message holds."""
USER_PREFIX = "discord_"
CUSTOM_ID_PREFIX = "lightchat:"
GONE = "This button is no longer available."


def chunks(text: str, size: int = MESSAGE_CHARS) -> list[str]:
    """Text cut in pieces Discord takes, at line ends where it can."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        if cut <= 0:
            cut = size
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def view_of(out: Outgoing) -> discord.ui.View | None:
    """A message's actions as a row of buttons (None: it has none)."""
    if not out.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in out.buttons[:25]:
        view.add_item(
            discord.ui.Button(
                label=button.label[:80] or "…", custom_id=CUSTOM_ID_PREFIX + button.action_id
            )
        )
    return view


class DiscordPoster(Poster):
    """Posts to a Discord channel, thread or DM."""

    def __init__(self) -> None:
        self.messages: dict[int, discord.Message] = {}

    async def post(self, conversation: Conversation, out: Outgoing) -> Any:
        channel = conversation.place["channel"]
        pieces = chunks(out.text) or ([""] if out.buttons else [])
        if not pieces:
            return None  # only files: they go as attachments
        for piece in pieces[:-1]:
            await channel.send(piece)
        view = view_of(out)
        last = pieces[-1] or "…"
        sent = await (channel.send(last, view=view) if view else channel.send(last))
        self.messages[sent.id] = sent
        return sent.id

    async def update(self, conversation: Conversation, ref: Any, out: Outgoing) -> None:
        message = self.messages.get(ref)
        if message is not None:
            text = out.text
            if len(text) > MESSAGE_CHARS:
                text = text[: MESSAGE_CHARS - 1] + "…"
            self.messages[ref] = await message.edit(content=text or "…", view=view_of(out))

    async def delete(self, conversation: Conversation, ref: Any) -> None:
        message = self.messages.pop(ref, None)
        if message is not None:
            await message.delete()

    async def upload(
        self, conversation: Conversation, name: str, data: bytes, mime: str | None
    ) -> None:
        channel = conversation.place["channel"]
        await channel.send(file=discord.File(io.BytesIO(data), filename=name))


class Discord:
    """The Discord side of an app: its bot, connected while the server runs."""

    path = None  # the bot connects to Discord: no endpoint

    def __init__(self, services: Any, environ: Mapping[str, str]) -> None:
        self.token = environ["DISCORD_BOT_TOKEN"]
        self.api_url = (environ.get("LIGHTCHAT_DISCORD_API_URL") or "").rstrip("/")
        self.poster = DiscordPoster()
        self.bridge = Bridge("discord", self.poster, services)
        self.users: dict[int, User] = {}
        self.client: discord.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._saved: tuple[str, yarl.URL] | None = None

    async def handle(self, request: Any) -> Any:  # pragma: no cover - no endpoint
        raise NotImplementedError

    async def start(self) -> None:
        """Connect the bot to Discord's gateway in the background."""
        if self.api_url:
            # The library's addresses are its classes' own: set for this process, put
            # back when the bot stops.
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
            Route.BASE = self.api_url
        intents = discord.Intents.default()
        intents.message_content = True  # a privileged intent: turn it on for the bot
        client = discord.Client(intents=intents)
        self.client = client
        client.event(self.on_message)
        client.event(self.on_interaction)
        client.event(self.on_ready)
        if self.api_url:
            client.setup_hook = self._gateway_from_api  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._run(client), name="lightchat-discord")

    async def _run(self, client: discord.Client) -> None:
        try:
            await client.start(self.token)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("The Discord bot stopped")

    async def _gateway_from_api(self) -> None:
        """The gateway's address, from the API the bot is pointed at."""
        assert self.client is not None
        _, url, _ = await self.client.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def on_ready(self) -> None:
        logger.info("Discord: connected as %s", self.client.user if self.client else "?")

    async def close(self) -> None:
        await self.bridge.close()
        if self.client is not None:
            await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved

    # -- users ------------------------------------------------------------------------

    def user(self, author: discord.User | discord.Member) -> User:
        """The ``cl.User`` of a Discord user: ``discord_`` and their user name."""
        found = self.users.get(author.id)
        if found is None:
            found = User(
                identifier=USER_PREFIX + author.name,
                display_name=author.display_name,
                metadata={
                    "id": str(author.id),
                    "name": author.name,
                    "display_name": author.display_name,
                },
            )
            self.users[author.id] = found
        return found

    # -- events -----------------------------------------------------------------------

    def _known(self, channel_id: int) -> Conversation | None:
        return self.bridge.conversations.get(thread_id_for("discord", str(channel_id)))

    async def on_message(self, message: discord.Message) -> None:
        client = self.client
        if client is None or client.user is None or message.author.bot:
            return
        me = client.user
        channel: Any = message.channel
        conversation = self._known(channel.id)
        mentioned = me.mentioned_in(message) and not message.mention_everyone
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        if conversation is None and isinstance(channel, discord.DMChannel):
            # A chat per day of direct messages.
            conversation = self.bridge.conversation(
                thread_id_for("discord", str(channel.id), today),
                {"channel": channel},
                f"{message.author} Discord DM {today}",
            )
        elif conversation is None and mentioned:
            if isinstance(channel, discord.TextChannel):
                # A thread on the message, where the chat goes on.
                name = clean(message.content, me.id)[:100] or "Untitled"
                channel = await message.create_thread(name=name)
                conversation = self.bridge.conversation(
                    thread_id_for("discord", str(channel.id)), {"channel": channel}, name
                )
            else:  # a thread, or a channel of another kind: the chat is there
                conversation = self.bridge.conversation(
                    thread_id_for("discord", str(channel.id)), {"channel": channel}
                )
        if conversation is None:
            return
        files = [Incoming(a.filename, await a.read()) for a in message.attachments]
        values = {"discord_message": message, "discord_channel": conversation.place["channel"]}
        async with conversation.place["channel"].typing():
            await self.bridge.message(
                conversation,
                self.user(message.author),
                clean(message.content, me.id),
                files,
                values=values,
            )

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A click on one of the bot's buttons."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id") or "")
        if interaction.type != discord.InteractionType.component:
            return
        if not custom_id.startswith(CUSTOM_ID_PREFIX):
            return
        await interaction.response.defer()
        message = interaction.message
        thread_id = self.bridge.refs.get(message.id) if message is not None else None
        conversation = self.bridge.conversations.get(thread_id or "")
        clicked = conversation is not None and await self.bridge.click(
            conversation, custom_id.removeprefix(CUSTOM_ID_PREFIX)
        )
        if not clicked:
            await interaction.followup.send(GONE, ephemeral=True)


def clean(content: str, bot_id: int) -> str:
    """A message's text without the bot's mention."""
    return re.sub(rf"<@!?{bot_id}>", "", content).strip()
