"""What every chat platform shares: a platform conversation mapped to a chat session, the
inputs it sends there, and what the chat shows rendered to what the platform can post.

A conversation (a Slack thread, a Discord thread or DM, a Teams conversation) is one chat
whose id is derived from the platform's own ids, so every message of the conversation goes
to the same chat and its history keeps one thread, as a web chat's. The chat runs in this
worker's ``Chats`` like any other: ``on_chat_start`` when it opens, ``on_message`` for
each message, ``on_chat_end`` when it is idle; a conversation that comes back after its
chat ended reopens it from the history through ``on_chat_resume`` when the app has it (it
starts afresh with the same thread otherwise).

After each input the chat settles (its run ends, or a question waits for the user), and
what it shows is compared with what was posted: new messages are posted whole (a streamed
answer once complete), changed ones are edited in place, removed ones deleted. Steps stay
in the web app and the history. How actions, questions and elements degrade on each
platform is the README's table (section "Platforms").
"""

from __future__ import annotations

import asyncio
import io
import logging
import mimetypes
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile

from lightchat.auth.sessions import owner_key
from lightchat.chat.chats import Chats
from lightchat.chat.history import History
from lightchat.chat.session import AskClosedError, ChatSession
from lightchat.chat.threads import thread_dict
from lightchat.domain.events import ElementData, MessageData
from lightchat.domain.user import User
from lightchat.http.endpoints.elements import UploadRefused, keep_uploads

logger = logging.getLogger("lightchat")

NAMESPACE = uuid.UUID("6f1c2a4e-55b3-4f4e-9a55-3c1f0d7a9b21")
"""Where conversation ids are derived from (``thread_id_for``)."""


def thread_id_for(platform: str, *parts: str) -> str:
    """The chat (and history thread) id of a platform conversation, the same every time."""
    return str(uuid.uuid5(NAMESPACE, ":".join((platform, *parts))))


@dataclass(frozen=True, slots=True)
class Button:
    """An action shown as a platform button: clicking it sends ``action_id`` back."""

    action_id: str
    label: str


@dataclass(slots=True)
class Outgoing:
    """A chat message as a platform posts it: markdown text, buttons, files to upload."""

    id: str
    text: str
    buttons: list[Button] = field(default_factory=list)
    files: list[ElementData] = field(default_factory=list)

    @property
    def signature(self) -> tuple[Any, ...]:
        """What, when it changes, makes the posted message be edited."""
        return (self.text, tuple(self.buttons), tuple(f.id for f in self.files))


WEB_ONLY = "(shown in the web app)"


def render(message: MessageData) -> Outgoing | None:
    """A message of the chat as the platforms post it, or None for what is not posted (the
    user's own messages, a message still streaming, an empty one)."""
    if message.type == "user_message" or message.streaming:
        return None
    lines = [message.content] if message.content else []
    files: list[ElementData] = []
    for element in message.elements:
        if element.key:
            files.append(element)
        elif element.url:
            lines.append(f"[{element.name or element.url}]({element.url})")
        elif element.kind == "text" and element.content:
            lines.append(f"**{element.name}**\n```\n{element.content}\n```")
        else:
            lines.append(f"_{element.name or element.kind}_ {WEB_ONLY}")
    ask = message.ask
    if ask is not None and ask.kind == "file":
        kinds = ", ".join(ask.accept) if ask.accept else "any file"
        lines.append(f"_Reply with up to {ask.max_files} file(s) ({kinds})._")
    elif ask is not None and ask.kind == "element":
        lines.append(f"_This question is answered in the web app._ {WEB_ONLY}")
    buttons = [Button(action.id, action.label or action.name) for action in message.actions]
    text = "\n\n".join(lines)
    if not text and not files and not buttons:
        return None
    return Outgoing(message.id, text, buttons, files)


@dataclass(slots=True)
class Posted:
    """A chat message posted on the platform: the platform's reference to it (None for
    one posted before this process knew the conversation), and what it showed."""

    ref: Any
    signature: tuple[Any, ...]
    files: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Conversation:
    """One platform conversation and the chat it is."""

    thread_id: str
    place: dict[str, Any]
    """Where to post (the platform's ids: channel, thread...)."""
    name: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    posted: dict[str, Posted] = field(default_factory=dict)
    session: ChatSession | None = None


class Poster:
    """How a platform posts: each platform implements these."""

    async def post(self, conversation: Conversation, out: Outgoing) -> Any:
        """Post a new message; returns the platform's reference to it."""
        raise NotImplementedError

    async def update(self, conversation: Conversation, ref: Any, out: Outgoing) -> None:
        """Edit a posted message in place."""
        raise NotImplementedError

    async def delete(self, conversation: Conversation, ref: Any) -> None:
        """Delete a posted message."""
        raise NotImplementedError

    async def upload(
        self, conversation: Conversation, name: str, data: bytes, mime: str | None
    ) -> None:
        """Send a file to the conversation."""
        raise NotImplementedError


@dataclass(slots=True)
class Incoming:
    """A file a user shared, as the platform gave it."""

    name: str
    data: bytes


class Bridge:
    """A platform's conversations and the chats they are (one per platform)."""

    def __init__(self, client_type: str, poster: Poster, services: Any) -> None:
        self.client_type = client_type
        self.poster = poster
        self.services = services
        """The app's ``Services`` (its chats, and its history once it is open)."""
        self.conversations: dict[str, Conversation] = {}
        self.refs: dict[Any, str] = {}
        """The conversation of each message posted, by its platform reference."""
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def chats(self) -> Chats:
        chats: Chats = self.services.chats
        return chats

    @property
    def history(self) -> History | None:
        history: History | None = self.services.history
        return history

    def conversation(self, thread_id: str, place: dict[str, Any], name: str = "") -> Conversation:
        """The conversation with this id (noted the first time)."""
        found = self.conversations.get(thread_id)
        if found is None:
            found = self.conversations[thread_id] = Conversation(thread_id, dict(place), name)
        return found

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run ``work`` in the background (a platform event answered at once)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("A %s event failed", self.client_type, exc_info=task.exception())

    async def close(self) -> None:
        """Wait a moment for the events under way, then cancel the rest."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)
        for task in list(self.tasks):
            task.cancel()

    async def session_for(
        self, conversation: Conversation, user: User, values: dict[str, Any] | None = None
    ) -> ChatSession:
        """The conversation's chat: the one running here, else reopened from the history
        (through ``on_chat_resume``), else a new one (``on_chat_start`` runs)."""
        chats = self.chats
        session = chats.running(conversation.thread_id)
        if session is None:
            session = await self._reopen(conversation, user)
        if session is None:
            session = chats.create(owner_key(user), user=user, session_id=conversation.thread_id)
            self._prepare(session, values)
        elif session is not conversation.session:
            # Reopened, or running since before this process knew the conversation: what
            # it shows was posted already.
            for item in session.transcript.items.values():
                if isinstance(item, MessageData):
                    out = render(item)
                    conversation.posted[item.id] = Posted(None, out.signature if out else ())
        conversation.session = session
        session.data.update(values or {})
        return session

    def _prepare(self, session: ChatSession, values: dict[str, Any] | None) -> None:
        session.client_type = self.client_type
        session.data.update(values or {})

    async def _reopen(self, conversation: Conversation, user: User) -> ChatSession | None:
        history = self.history
        if history is None or "on_chat_resume" not in self.chats.registry.callbacks:
            return None
        owner = owner_key(user)
        stored = await history.load(conversation.thread_id, owner)
        if stored is None:
            return None
        session = self.chats.resume(
            conversation.thread_id, owner, history.items(stored), thread_dict(stored), user
        )
        session.client_type = self.client_type
        return session

    async def keep_files(
        self, session: ChatSession, files: Sequence[Incoming]
    ) -> list[ElementData]:
        """The files a user shared, kept as uploads are (the chat's limits), as elements of
        their message. A file past the limits is left out (said in the log)."""
        settings = session.settings
        kept: list[ElementData] = []
        for file in files:
            upload = UploadFile(io.BytesIO(file.data), size=len(file.data), filename=file.name)
            try:
                kept += await keep_uploads(
                    session,
                    [upload],
                    accept=["*/*"],
                    max_bytes=settings.upload_max_size_mb * 1024 * 1024,
                    max_files=1,
                )
            except UploadRefused as exc:
                logger.warning("A file shared on %s was left out: %s", self.client_type, exc)
            finally:
                await upload.close()
        return kept

    async def message(
        self,
        conversation: Conversation,
        user: User,
        text: str,
        files: Sequence[Incoming] = (),
        values: dict[str, Any] | None = None,
    ) -> None:
        """A user's message in the conversation: it answers the question that waits, if
        any, else ``on_message`` runs with it; then what the chat shows is posted."""
        async with conversation.lock:
            session = await self.session_for(conversation, user, values)
            elements = await self.keep_files(session, files)
            author = user.display_name or user.identifier
            question = _file_question(session)
            if question is not None and elements:
                try:
                    session.answer_files(question.id, elements)
                except AskClosedError:
                    session.send_user_message(text, author=author, elements=elements)
            elif text.strip() or elements:
                # Not awaited: the run may ask the user something, which the next message
                # answers; ``sync`` waits until the chat settles.
                session.send_user_message(text, author=author, elements=elements)
            await self.sync(conversation)

    async def click(self, conversation: Conversation, action_id: str) -> bool:
        """A button of the chat clicked on the platform; False when it is no longer shown
        (or the chat ended)."""
        async with conversation.lock:
            session = self.chats.running(conversation.thread_id)
            if session is None:
                return False
            try:
                session.click(action_id)
            except LookupError:
                return False
            await self.sync(conversation)
            return True

    async def hook(
        self,
        conversation: Conversation,
        user: User,
        hook: str,
        *args: Any,
        values: dict[str, Any] | None = None,
    ) -> None:
        """Run one of the app's platform hooks in the conversation's chat, then post what it
        showed."""
        async with conversation.lock:
            session = await self.session_for(conversation, user, values)
            session.run_next(hook, *args)
            await self.sync(conversation)

    async def sync(self, conversation: Conversation) -> None:
        """Post what the chat shows now and the platform does not (see the module's doc)."""
        session = conversation.session
        if session is None:
            return
        await session.settled()
        items = session.transcript.items
        for item in list(items.values()):
            if not isinstance(item, MessageData):
                continue
            out = render(item)
            posted = conversation.posted.get(item.id)
            if out is None:
                continue
            if posted is None:
                ref = await self.poster.post(conversation, out)
                posted = conversation.posted[item.id] = Posted(ref, out.signature)
                if ref is not None:
                    self.refs[ref] = conversation.thread_id
            elif posted.signature != out.signature:
                if posted.ref is not None:
                    await self.poster.update(conversation, posted.ref, out)
                posted.signature = out.signature
            for element in out.files:
                if element.id not in posted.files:
                    posted.files.add(element.id)
                    await self._upload(conversation, session, element)
        for item_id in [i for i in conversation.posted if i not in items]:
            posted = conversation.posted.pop(item_id)
            if posted.ref is not None:
                self.refs.pop(posted.ref, None)
                await self.poster.delete(conversation, posted.ref)

    async def _upload(
        self, conversation: Conversation, session: ChatSession, element: ElementData
    ) -> None:
        files = session.files
        if files is None or element.key is None:
            return
        data = await files.read(element.key)
        name = element.name or "file"
        mime = element.mime or mimetypes.guess_type(name)[0]
        if "." not in name and mime:
            name += mimetypes.guess_extension(mime) or ""
        await self.poster.upload(conversation, name, data, mime)


def _file_question(session: ChatSession) -> MessageData | None:
    """The file question that waits for the user's files, if any."""
    for item in reversed(session.transcript.items.values()):
        if isinstance(item, MessageData) and item.ask is not None:
            return session.file_question(item.id)
    return None
