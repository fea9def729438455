"""``ChatClient``: an app's chat, run in the test's own process, with no server and no browser.

It drives the code the server drives: the app's callbacks run in a real ``ChatSession``
made by ``Chats`` on an in-memory bus, and each input goes the way the HTTP endpoints send
it (a message through the composer's checks and ``send_user_message``, a click through
``click``, files through the same upload checks and file storage). Only the web layer is
left out: what a page would render, a test reads as values (``Reply``, ``MessageView``...)
or as text (``transcript``)::

    from lightchat.testing import ChatClient

    async def test_the_answer_streams():
        async with ChatClient("app.py") as chat:
            await chat.start()
            reply = await chat.send("Hi")
            assert reply.content.startswith("Hello")
            assert reply.step("search").status == "done"

An app file is loaded as ``lightchat serve`` loads it (``lightchat.cli.load_app``: the
``.env`` beside it, ``app.py:name``...), afresh for each client, so one test's module state
never leaks into the next; what loading changed (the default app's callbacks, ``sys.path``,
the environment) is put back when the client closes. A ``LightChat`` app, or a module that
holds one, is taken as it is.

Concurrency: everything runs on the test's event loop. Each input returns once the run it
started has ended or a question waits for the user (``ChatSession.settled``), within
``timeout`` seconds. Token batching is off (``token_batch_ms=0``), so ``Reply.tokens``
holds the pieces exactly as the app streamed them. ``SyncChatClient`` is the same client
for plain ``def`` tests: it runs its own event loop, one call at a time.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, TypeVar, cast, get_args

from starlette.datastructures import FormData, UploadFile

import lightchat
from lightchat.api.cache import NO_CACHE_ENV
from lightchat.api.elements import Action
from lightchat.api.message import Message
from lightchat.api.widgets import SettingError, parse_settings
from lightchat.app import LightChat, mcp_services
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.chat.session import AskClosedError, ChatSession
from lightchat.chat.threads import thread_fields
from lightchat.cli import load_app
from lightchat.config.registry import invoke
from lightchat.domain.events import (
    ElementData,
    Entry,
    MessageData,
    MessageEvent,
    MessageType,
    SidebarEvent,
    StepData,
    StepEvent,
    StepType,
    TokenEvent,
    WidgetData,
)
from lightchat.domain.user import User
from lightchat.errors import LightChatError
from lightchat.files import LocalFileStorage
from lightchat.http.endpoints.elements import UploadRefused, composer_accept, keep_uploads
from lightchat.http.endpoints.start import chat_profiles, default_profile
from lightchat.http.routes import composer_choices
from lightchat.testing.views import (
    ActionView,
    CallbackError,
    ElementView,
    MessageView,
    Reply,
    StepView,
    transcript_text,
)
from lightchat.ui.i18n import Translations

__all__ = ["ChatClient", "ChatClientError", "ChatTimeoutError", "FileSpec", "SyncChatClient"]

logger = logging.getLogger("lightchat")

OWNER = "tester"
"""Whose chat it is when no user signs in (the server's browser id)."""

DEFAULT_TIMEOUT_S = 10.0
"""How long an input waits, by default, for the run it started to settle."""

FileSpec = str | os.PathLike[str] | tuple[str, bytes | str]
"""A file to upload: a path, or a name with its bytes (or text)."""

AppSpec = LightChat | ModuleType | str | os.PathLike[str]
"""An app: a ``LightChat``, a module holding one (or using the module-level decorators),
or the path of an app file (``app.py``, ``app.py:name``)."""

_MESSAGE_TYPES = frozenset(get_args(MessageType))
_STEP_TYPES = frozenset(get_args(StepType))

T = TypeVar("T")


class ChatClientError(LightChatError):
    """A test asked the chat for what a user could not do there (click a button that is not
    shown, answer a question nobody asked, send an empty message...). The message says
    what the chat offers instead, as the server's answer would."""


class ChatTimeoutError(ChatClientError, TimeoutError):
    """The chat was still running when the client's ``timeout`` ran out."""


@dataclass(frozen=True, slots=True)
class _Mark:
    """Where the chat stood when an input was given: what came after is its reply."""

    entries: int
    errors: int
    stops: int
    shown: frozenset[str]
    """The messages and steps shown then."""


class _Errors(logging.Handler):
    """Catches the exceptions of the client's chats as ``ChatSession`` logs them (at the
    one boundary where a callback's error is caught), for ``Reply.errors``."""

    def __init__(self, client: ChatClient) -> None:
        super().__init__(logging.ERROR)
        self.client = client

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        args = record.args if isinstance(record.args, tuple) else ()
        ours = self.client._session_ids
        if error is None or not any(isinstance(arg, str) and arg in ours for arg in args):
            return
        hook = str(args[0]) if len(args) > 1 else "callback"
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self.client._errors.append(CallbackError(hook, error, text))


def _load(target: str) -> tuple[LightChat, ModuleType | None]:
    """The app of an app file, loaded as the CLI loads it, and its module.

    The module-level decorators fill ``lightchat.default_app``: they fill a fresh one
    here, which becomes the client's own app, and the default app is left as it was, so
    several clients (and the test's own code) keep their callbacks apart. LangChain's
    answer cache stays off (``LIGHTCHAT_NO_CACHE``): a test writes no cache file.
    """
    default = lightchat.default_app
    state = vars(default)
    saved = dict(state)
    state.clear()
    state.update(vars(LightChat()))
    cache = os.environ.get(NO_CACHE_ENV)
    os.environ[NO_CACHE_ENV] = "1"
    try:
        app = load_app(target)
        if app is default:
            own = object.__new__(LightChat)
            vars(own).update(state)
            app = own
    finally:
        if cache is None:
            os.environ.pop(NO_CACHE_ENV, None)
        else:
            os.environ[NO_CACHE_ENV] = cache
        state.clear()
        state.update(saved)
    stem = Path(target.partition(":")[0]).stem
    module = sys.modules.get(stem)
    return app, module


def _app_of(module: ModuleType) -> LightChat:
    """The app a module defines: its one ``LightChat``, else the default app."""
    apps = [v for v in vars(module).values() if isinstance(v, LightChat)]
    apps = [a for a in apps if a is not lightchat.default_app] or [lightchat.default_app]
    if len(apps) > 1:
        raise ChatClientError(
            f"{module.__name__} defines several apps; give the client the one to run."
        )
    return apps[0]


def _file_of(spec: FileSpec) -> tuple[str, bytes]:
    if isinstance(spec, tuple):
        name, data = spec
        return name, data.encode() if isinstance(data, str) else data
    path = Path(spec)
    return path.name, path.read_bytes()


def _uploads(files: Sequence[FileSpec]) -> list[UploadFile]:
    uploads = []
    for spec in files:
        name, data = _file_of(spec)
        uploads.append(UploadFile(io.BytesIO(data), size=len(data), filename=name))
    return uploads


def _form_values(widget: WidgetData, value: Any) -> list[str]:
    """A setting's value as its form field would post it (``parse_settings`` reads it)."""
    kind = widget.kind
    if kind in ("switch", "checkbox"):
        return ["on"] if value else []
    if kind == "multiselect":
        return [str(v) for v in value or []]
    if kind == "tags":
        return [", ".join(str(v) for v in value) if isinstance(value, list | tuple) else value]
    if kind in ("select", "radio"):
        return [] if value is None else [str(value)]
    if kind == "datepicker" and widget.date_range:
        start, end = value if isinstance(value, list | tuple) and len(value) == 2 else ("", "")
        return [str(start or ""), str(end or "")]
    return ["" if value is None else str(value)]


def _items_of(thread: Mapping[str, Any]) -> list[MessageData | StepData]:
    """A thread's messages and steps (Chainlit's ``ThreadDict``), as the chat shows them."""
    elements: dict[str, list[ElementData]] = {}
    for raw in thread.get("elements") or []:
        element = ElementData(
            id=str(raw.get("id")),
            kind=str(raw.get("type") or "file"),
            name=str(raw.get("name") or ""),
            display=raw.get("display") if raw.get("display") in ("side", "page") else "inline",
            url=raw.get("url"),
            mime=raw.get("mime"),
            key=raw.get("objectKey"),
        )
        elements.setdefault(str(raw.get("forId") or ""), []).append(element)
    items: list[MessageData | StepData] = []
    for raw in thread.get("steps") or []:
        kind = str(raw.get("type") or "undefined")
        created = raw.get("createdAt")
        when = datetime.fromisoformat(created).timestamp() if created else 0.0
        shown = elements.get(str(raw.get("id")), [])
        if kind in _MESSAGE_TYPES:
            items.append(
                MessageData(
                    id=str(raw["id"]),
                    author=str(raw.get("name") or ""),
                    type=cast(MessageType, kind),
                    content=str(raw.get("output") or ""),
                    parent_id=raw.get("parentId"),
                    created_at=when,
                    elements=shown,
                )
            )
        else:
            items.append(
                StepData(
                    id=str(raw["id"]),
                    name=str(raw.get("name") or ""),
                    type=cast(StepType, kind if kind in _STEP_TYPES else "undefined"),
                    parent_id=raw.get("parentId"),
                    input=str(raw.get("input") or ""),
                    output=str(raw.get("output") or ""),
                    status="done",
                    started_at=when,
                    ended_at=when,
                    generation=raw.get("generation"),
                    elements=shown,
                )
            )
    return items


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


class ChatClient:
    """One chat with an app, run in process: start it, send messages, click, answer,
    stop, change its settings, resume a past chat, and read what it shows.

    ``app``: a path (``"app.py"``, ``"app.py:name"``), a ``LightChat``, or a module.
    ``timeout``: how long each input waits for its run to settle. ``config``: settings
    to change for this client only (``{"uploads": False}``), as ``lightchat.toml`` would.

    Use it as ``async with ChatClient(...) as chat:``. Sending before ``start()`` starts
    the chat first, as opening the page does.
    """

    def __init__(
        self,
        app: AppSpec,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self._target = app
        self.timeout = timeout
        self._config = dict(config or {})
        self.app: LightChat | None = None
        """The app, once the client is open."""
        self.module: ModuleType | None = None
        """The app's module (loaded from its file, or given), to reach its globals (say,
        to give it a scripted model client)."""
        self._chats: Chats | None = None
        self._session: ChatSession | None = None
        self._session_ids: set[str] = set()
        self._entries: list[Entry] = []
        self._tokens: dict[str, list[str]] = {}  # what each message or step streamed
        self._pieces: list[tuple[int, str, str]] = []  # (entry, item, piece), streamed
        self._streaming: dict[str, tuple[bool, str]] = {}  # each message's latest
        self._errors: list[CallbackError] = []
        self._stops = 0
        self._handler = _Errors(self)
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._environ: dict[str, str | None] = {}  # what loading changed: the values before
        self._path: str | None = None  # the folder loading put first in sys.path
        self._closed = False
        self._up = False  # on_app_startup went through

    # -- opening and closing -------------------------------------------------------------

    async def __aenter__(self) -> ChatClient:
        return await self.open()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> ChatClient:
        """Load the app and make its chats ready (``async with`` calls it); runs the app's
        ``on_app_startup``, as the server's start does."""
        if self._chats is not None:
            return self
        if self._closed:
            raise ChatClientError("This ChatClient is closed; make a new one.")
        try:
            app = self._load_app()
            settings = replace(app.settings, token_batch_ms=0, **self._config)
            self._folder = tempfile.TemporaryDirectory(prefix="lightchat-test-")
            files = LocalFileStorage(Path(self._folder.name) / "files", max_bytes=1024**3)
            chats = Chats(
                app,
                MemoryBus(),
                settings,
                message_factory=Message.from_data,
                observer=self._observe,
                action_factory=Action.from_data,
                files=files,
                # The app's MCP servers too (features.mcp), with no history to remember
                # users' own servers in.
                mcp=mcp_services(settings, None, type(app).mcp_connector_factory),
            )
            translations = Translations(settings.app_dir)
            chats.texts = lambda key, languages: translations.text(
                translations.choose(languages), key
            )
            logger.addHandler(self._handler)
            self._chats = chats
            startup = app.callbacks.get("on_app_startup")
            if startup is not None:
                await invoke(startup)  # as the server: an error here is the test's error
        except BaseException:
            await self.aclose()
            raise
        self._up = True
        return self

    def _load_app(self) -> LightChat:
        """The app, loaded if it is a file; what loading changes is noted, to put back."""
        target = self._target
        if isinstance(target, LightChat):
            self.app = target
        elif isinstance(target, ModuleType):
            self.app, self.module = _app_of(target), target
        else:
            environ, path = dict(os.environ), list(sys.path)
            try:
                self.app, self.module = _load(os.fspath(target))
            finally:
                self._environ = {
                    key: environ.get(key)
                    for key in {*environ, *os.environ}
                    if environ.get(key) != os.environ.get(key)
                }
                self._path = sys.path[0] if sys.path[1:] == path else None
        return self.app

    async def aclose(self) -> None:
        """End the chat (``on_chat_end`` runs), run ``on_app_shutdown``, and put back what
        loading the app changed. What the chat showed stays readable."""
        chats, self._chats = self._chats, None
        if self._closed:
            return
        self._closed = True
        try:
            if chats is not None:
                await chats.close_all()
            shutdown = self.app.callbacks.get("on_app_shutdown") if self.app else None
            if shutdown is not None and self._up:
                try:
                    await invoke(shutdown)
                # As the server: the chats are over, an error here is only logged.
                except Exception:
                    logger.exception("Error in @on_app_shutdown")
        finally:
            logger.removeHandler(self._handler)
            if self._folder is not None:
                self._folder.cleanup()
            for key, value in self._environ.items():  # the .env beside the app
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            if self._path is not None and self._path in sys.path:
                sys.path.remove(self._path)

    def _opened(self) -> Chats:
        if self._chats is None:
            if self._closed:
                raise ChatClientError("This ChatClient is closed; make a new one.")
            raise ChatClientError(
                "The ChatClient is not open: use `async with ChatClient(...) as chat:`."
            )
        return self._chats

    def _observe(self, session: ChatSession, entry: Entry) -> None:
        """Note each event the chat publishes (``Chats``' observer, as the history's),
        and the pieces of text it streams: the token events, and the first piece of a
        message, which shows the message as it starts streaming."""
        event = entry.event
        piece: tuple[str, str] | None = None
        if isinstance(event, TokenEvent):
            piece = (event.id, event.delta)
        elif isinstance(event, MessageEvent):
            message = event.message
            before = self._streaming.get(message.id)
            if message.streaming and (before is None or not before[0]):
                shown = before[1] if before is not None else ""
                first = message.content.removeprefix(shown)
                if first:
                    piece = (message.id, first)
            self._streaming[message.id] = (message.streaming, message.content)
        if piece is not None:
            self._pieces.append((len(self._entries), *piece))
            self._tokens.setdefault(piece[0], []).append(piece[1])
        self._entries.append(entry)

    # -- the chat ------------------------------------------------------------------------

    @property
    def session(self) -> ChatSession:
        """The chat's ``ChatSession`` (for what the values here do not show)."""
        if self._session is None:
            raise ChatClientError("The chat has not started: `await chat.start()` first.")
        return self._session

    @property
    def started(self) -> bool:
        """True once the chat started (or a past chat was resumed)."""
        return self._session is not None

    @property
    def user_session(self) -> dict[str, Any]:
        """The chat's ``cl.user_session``, as the app's callbacks see it (changes made here
        reach them)."""
        session = self.session
        session.data.update(session.framework_values())
        return session.data

    @property
    def transcript(self) -> str:
        """The whole chat as readable text (see ``transcript_text``), the same on every run:
        for snapshot tests, and shown when a test of the ``chat`` fixture fails."""
        if self._session is None:
            return ""
        return transcript_text(self._session.transcript)

    @property
    def messages(self) -> list[MessageView]:
        """Every message of the chat so far, the user's included, in order."""
        if self._session is None:
            return []
        return [
            MessageView.of(item, self._tokens.get(item.id))
            for item in self._session.transcript.items.values()
            if isinstance(item, MessageData)
        ]

    @property
    def steps(self) -> list[StepView]:
        """The chat's steps that stand in the conversation (nested ones are their
        ``children``), in order."""
        if self._session is None:
            return []
        transcript = self._session.transcript
        return [
            StepView.of(item, transcript, self._tokens)
            for item in transcript.roots()
            if isinstance(item, StepData)
        ]

    @property
    def sidebar(self) -> tuple[str, list[ElementView]]:
        """The side panel's title and elements (no elements: it is closed)."""
        panel = self._session.transcript.sidebar if self._session is not None else None
        if panel is None:
            return "", []
        return panel.title, [ElementView.of(e) for e in panel.elements]

    @property
    def errors(self) -> list[CallbackError]:
        """Everything the app's callbacks raised in this chat, in order."""
        return list(self._errors)

    @property
    def thread(self) -> dict[str, Any]:
        """The chat as its history would keep it, in Chainlit's ``ThreadDict`` shape (what
        ``on_chat_resume`` receives): its messages and steps, its elements, and
        ``user_session``'s tags and JSON values as ``tags`` and ``metadata``. Give it to
        ``resume``."""
        session = self.session
        settings = session.settings
        data = {**session.data, **session.framework_values()}
        tags, metadata = thread_fields(data, keep_env=settings.persist_user_env)
        steps: list[dict[str, Any]] = []
        elements: list[dict[str, Any]] = []
        for item in session.transcript.items.values():
            kind: str = item.type
            if isinstance(item, MessageData):
                name, given, output = item.author, "", item.content
                created, generation = item.created_at, None
            else:
                name, given, output = item.name, item.input, item.output
                created, generation = item.started_at, item.generation
            steps.append(
                {
                    "id": item.id,
                    "threadId": session.thread_id,
                    "parentId": item.parent_id,
                    "name": name,
                    "type": kind,
                    "input": given,
                    "output": output,
                    "createdAt": _iso(created),
                    "generation": generation,
                }
            )
            elements += [
                {
                    "id": element.id,
                    "threadId": session.thread_id,
                    "forId": item.id,
                    "type": element.kind,
                    "name": element.name,
                    "mime": element.mime,
                    "display": element.display,
                    "url": element.url,
                    "objectKey": element.key,
                }
                for element in item.elements
            ]
        user = session.user
        return {
            "id": session.thread_id,
            "name": session.thread_name,
            "createdAt": steps[0]["createdAt"] if steps else _iso(0),
            "userId": None,
            "userIdentifier": user.identifier if isinstance(user, User) else None,
            "tags": tags or [],
            "metadata": metadata,
            "steps": steps,
            "elements": elements,
        }

    # -- inputs --------------------------------------------------------------------------

    async def start(
        self,
        *,
        profile: str | None = None,
        user: User | str | None = None,
        settings: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        language: str = "",
        client_type: str = "webapp",
    ) -> Reply:
        """Open the chat: ``on_chat_start`` runs, as when the page opens a new chat.

        ``profile``: the chat profile's name (None: the app's default one); ``user``: the
        signed-in user (a ``cl.User``, or an identifier); ``settings``: chat settings the
        user confirms once ``on_chat_start`` has sent its form (``on_settings_update``
        runs with them); ``env``: the keys the user gave (``user_session["env"]``);
        ``language``: the browser's ``Accept-Language``; ``client_type``: ``webapp`` or
        ``copilot``. Starting again begins a new chat, as "New chat" does (the current one
        ends, ``on_chat_end`` runs). Returns what ``on_chat_start`` showed.
        """
        chats = self._opened()
        if isinstance(user, str):
            user = User(identifier=user)
        app = chats.registry
        lang = language.split(",", 1)[0].split(";", 1)[0].strip() or None
        chosen = None
        if profile is not None or "set_chat_profiles" in app.callbacks:
            profiles = await chat_profiles(app, user, lang)
            if profile is None:
                chosen = default_profile(profiles)
            else:
                chosen = next((p for p in profiles if p.name == profile), None)
                if chosen is None:
                    names = ", ".join(repr(p.name) for p in profiles) or "none"
                    raise ChatClientError(f"The app has no chat profile {profile!r}: {names}.")
        await self._end()
        mark = self._mark()
        owner = user.identifier if user is not None else OWNER
        session = chats.create(owner, profile=chosen.name if chosen else None, user=user)
        # Set before on_chat_start runs (on the loop's next turn), as the server sets them.
        if chosen is not None:
            session.settings = chosen.settings_for(chats.settings)
        session.data["env"] = dict(env or {})
        session.client_type = client_type
        session.languages = language
        self._begin(session)
        await self._settle()
        if settings:
            await self._settle(self._update_settings(session, settings))
        return self._reply(mark)

    async def resume(
        self, thread: Mapping[str, Any] | None = None, *, user: User | str | None = None
    ) -> Reply:
        """Reopen a past chat, as picking it in the history does: its messages and steps
        show again and ``on_chat_resume(thread)`` runs (without it the chat is read-only).

        ``thread``: Chainlit's ``ThreadDict`` (another client's ``thread``, or one built by
        the test); None: this chat as it stands, which ends first (``on_chat_end``), as
        after a restart. Returns what ``on_chat_resume`` showed.
        """
        chats = self._opened()
        if thread is None:
            thread = self.thread
        thread = dict(thread)
        if isinstance(user, str):
            user = User(identifier=user)
        if user is None and self._session is not None:
            user = self._session.user
        await self._end()
        mark = self._mark()
        owner = user.identifier if isinstance(user, User) else OWNER
        session = chats.resume(str(thread["id"]), owner, _items_of(thread), thread, user)
        self._begin(session)
        await self._settle()
        return self._reply(mark)

    async def send(
        self,
        content: str = "",
        *,
        files: Sequence[FileSpec] = (),
        command: str | None = None,
        modes: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send a message, as the composer does (``on_message`` runs with it, or it answers
        the ``AskUserMessage`` that waits); returns what the app did with it.

        ``files``: uploads (paths, or ``(name, bytes)``), checked as the server checks
        them; ``command``: one of the commands the chat offers (a message starting with
        ``/name`` picks it too); ``modes``: the option chosen in each mode picker (the
        default ones otherwise). Raises ``ChatClientError`` where the server would refuse
        the message.
        """
        session = await self._for_input()
        settings = session.settings
        if files and not settings.uploads:
            raise ChatClientError("This chat takes no files with messages (uploads is off).")
        if not content.strip() and not files:
            raise ChatClientError("Type a message before sending.")
        if len(content) > settings.max_message_chars:
            raise ChatClientError(
                f"The message is {len(content):,} characters long; the limit is "
                f"{settings.max_message_chars:,}."
            )
        form = FormData(
            [
                *([("command", command)] if command else []),
                *((f"mode:{mode}", choice) for mode, choice in (modes or {}).items()),
            ]
        )
        try:
            content, chosen, picked = composer_choices(session, form, content)
        except ValueError as exc:
            raise ChatClientError(str(exc)) from None
        elements = await self._keep(
            session,
            files,
            accept=composer_accept(settings.upload_accept),
            max_bytes=settings.upload_max_size_mb * 1024 * 1024,
            max_files=settings.upload_max_files,
        )
        mark = self._mark()
        session.send_user_message(content, elements=elements, command=chosen, modes=picked)
        await self._settle()
        return self._reply(mark)

    async def click(self, action: str | ActionView) -> Reply:
        """Click a button the chat shows, by its label (or its name; the latest message's
        first): its ``@action_callback`` runs, or it answers the ``AskActionMessage`` that
        shows it."""
        session = await self._for_input()
        found = self._action(session, action, session.transcript.items.values())
        mark = self._mark()
        try:
            session.click(found)
        except LookupError as exc:
            raise ChatClientError(str(exc)) from None
        await self._settle()
        return self._reply(mark)

    async def answer(
        self,
        response: str | ActionView | FileSpec | Sequence[FileSpec] | Mapping[str, Any],
    ) -> Reply:
        """Answer the question that waits: text for an ``AskUserMessage``, files (a path,
        ``(name, bytes)``, or a list of them) for an ``AskFileMessage``, a button's label
        or name for an ``AskActionMessage``, the element's response (``{"submitted":
        True, ...}``) for an ``AskElementMessage``."""
        session = self.session
        question = next(
            (
                item
                for item in reversed(session.transcript.items.values())
                if isinstance(item, MessageData) and item.ask is not None
            ),
            None,
        )
        if question is None or question.ask is None:
            raise ChatClientError("No question waits for an answer in this chat.")
        kind = question.ask.kind
        if kind == "text":
            if not isinstance(response, str):
                raise ChatClientError("The question waits for text: answer with a string.")
            return await self.send(response)
        if kind == "action":
            if not isinstance(response, str | ActionView):
                raise ChatClientError(
                    "The question waits for a click: answer with a button's label or name."
                )
            found = self._action(session, response, [question])
            mark = self._mark()
            try:
                session.click(found)
            except LookupError as exc:
                raise ChatClientError(str(exc)) from None
            await self._settle()
            return self._reply(mark)
        if kind == "element":
            if not isinstance(response, Mapping) or question.ask.element_id is None:
                raise ChatClientError(
                    'The question waits for its element: answer with a dict ({"submitted": '
                    'True, ...}, or {"submitted": False}).'
                )
            mark = self._mark()
            try:
                session.answer_element(question.ask.element_id, dict(response))
            except AskClosedError as exc:
                raise ChatClientError(str(exc)) from None
            await self._settle()
            return self._reply(mark)
        return await self._answer_files(session, question, response)

    async def _answer_files(
        self, session: ChatSession, question: MessageData, response: Any
    ) -> Reply:
        assert question.ask is not None
        if isinstance(response, str | os.PathLike | tuple):
            response = [response]
        if isinstance(response, Mapping) or not isinstance(response, Sequence) or not response:
            raise ChatClientError(
                "The question waits for files: answer with a path, (name, bytes), or a list."
            )
        ask = question.ask
        kept = await self._keep(
            session,
            list(response),
            accept=ask.accept,
            max_bytes=ask.max_size_mb * 1024 * 1024,
            max_files=ask.max_files,
        )
        mark = self._mark()
        try:
            session.answer_files(question.id, kept)
        except AskClosedError as exc:
            raise ChatClientError(str(exc)) from None
        await self._settle()
        return self._reply(mark)

    async def element_action(
        self, element: str | ElementView, name: str, payload: Mapping[str, Any] | None = None
    ) -> Reply:
        """A custom element calls the ``@action_callback(name)`` with ``payload``, as its
        template's form or its JSX code would (``element``: its name or the element)."""
        session = await self._for_input()
        if isinstance(element, ElementView):
            element_id = element.id
        else:
            shown = [
                e
                for item in session.transcript.items.values()
                if isinstance(item, MessageData)
                for e in item.elements
                if e.name == element
            ]
            if not shown:
                raise ChatClientError(f"No element named {element!r} is shown in this chat.")
            element_id = shown[-1].id
        mark = self._mark()
        try:
            session.call_action(element_id, name, dict(payload or {}))
        except LookupError as exc:
            raise ChatClientError(str(exc)) from None
        await self._settle()
        return self._reply(mark)

    async def stop(self) -> Reply:
        """Press "Stop": the run in progress ends (what it showed stays) and ``on_stop``
        runs. Returns what ``on_stop`` showed; ``stopped`` says whether a run was going on.
        (A ``send`` waiting for that run returns then, with ``stopped`` True.)"""
        session = self.session
        mark = self._mark()
        stopped = await session.stop()
        if stopped:
            self._stops += 1
        await self._settle()
        return replace(self._reply(mark), stopped=stopped)

    async def update_settings(self, values: Mapping[str, Any]) -> Reply:
        """Confirm new chat settings, as the settings dialog does: each value is checked
        against its input (a bad one raises ``ChatClientError`` naming it), the rest keep
        their values, then ``on_settings_update`` runs with them all."""
        session = await self._for_input()
        mark = self._mark()
        await self._settle(self._update_settings(session, values))
        return self._reply(mark)

    def _update_settings(self, session: ChatSession, values: Mapping[str, Any]) -> Awaitable[None]:
        widgets = session.settings_widgets
        if not widgets:
            raise ChatClientError("This chat has no settings (the app sent no cl.ChatSettings).")
        if session.read_only:
            raise ChatClientError("This past chat is read-only.")
        known = {widget.id for widget in widgets}
        unknown = [key for key in values if key not in known]
        if unknown:
            raise ChatClientError(
                f"The chat has no setting {unknown[0]!r}; its settings: "
                + ", ".join(repr(w.id) for w in widgets)
            )
        current = dict(session.data.get("chat_settings") or {})
        posted = {
            widget.id: _form_values(
                widget,
                values[widget.id]
                if widget.id in values
                else current.get(widget.id, widget.initial),
            )
            for widget in widgets
        }
        try:
            checked = parse_settings(widgets, posted, current)
        except SettingError as exc:
            raise ChatClientError(str(exc)) from None
        return session.update_settings(checked)

    async def wait_for(
        self, condition: str | Callable[[ChatClient], bool], timeout: float | None = None
    ) -> None:
        """Wait until ``condition`` holds: a text that appears in the transcript, or a
        function of the client, checked after each event of the chat (for a test that acts
        while a run goes on, say to stop it). ``ChatTimeoutError`` after ``timeout``
        seconds (the client's own by default)."""
        session = self.session
        check = (lambda c: condition in c.transcript) if isinstance(condition, str) else condition
        loop = asyncio.get_running_loop()
        limit = self.timeout if timeout is None else timeout
        deadline = loop.time() + limit
        seq = session.bus.last_seq(session.id)
        while not check(self):
            left = deadline - loop.time()
            if left <= 0:
                raise ChatTimeoutError(
                    f"Waited {limit:g} s for {condition!r}; the chat so far:\n{self.transcript}"
                )
            entries = await session.bus.wait(session.id, seq, left)
            if entries:
                seq = entries[-1].seq

    async def read_file(self, element: ElementView | ElementData) -> bytes:
        """The bytes of a file the chat keeps (an upload, an image the app sent...)."""
        files = self._opened().files
        if element.key is None or files is None:
            raise ChatClientError(f"The element {element.name!r} keeps no file.")
        return await files.read(element.key)

    # -- what inputs share ---------------------------------------------------------------

    async def _for_input(self) -> ChatSession:
        """The chat an input goes to: started now if it was not (as opening the page
        starts it); refused when it is a read-only past chat."""
        self._opened()
        if self._session is None:
            await self.start()
        session = self.session
        if session.read_only:
            raise ChatClientError(
                "This past chat is read-only: the app does not reopen old conversations "
                "(it has no @on_chat_resume)."
            )
        return session

    async def _keep(
        self,
        session: ChatSession,
        files: Sequence[FileSpec],
        *,
        accept: list[str],
        max_bytes: int,
        max_files: int,
    ) -> list[ElementData]:
        """Uploads checked and kept as the server keeps them."""
        if not files:
            return []
        uploads = _uploads(files)
        try:
            return await keep_uploads(
                session, uploads, accept=accept, max_bytes=max_bytes, max_files=max_files
            )
        except UploadRefused as exc:
            raise ChatClientError(str(exc)) from None
        finally:
            for upload in uploads:
                await upload.close()

    def _action(self, session: ChatSession, wanted: str | ActionView, among: Any) -> str:
        """The id of the button to click: by id for an ``ActionView``, else by label, then
        by name, in the latest message first."""
        messages = [item for item in among if isinstance(item, MessageData)]
        shown = [a for message in reversed(messages) for a in message.actions]
        if isinstance(wanted, ActionView):
            return wanted.id
        for found in shown:
            if found.label == wanted:
                return found.id
        for found in shown:
            if found.name == wanted:
                return found.id
        labels = ", ".join(repr(a.label) for a in shown) or "none"
        raise ChatClientError(f"No button {wanted!r} is shown; the buttons: {labels}.")

    def _begin(self, session: ChatSession) -> None:
        self._session = session
        self._session_ids.add(session.id)

    async def _end(self) -> None:
        """End the chat going on, if any (``on_chat_end`` runs)."""
        session = self._session
        if session is not None and not session.closed and self._chats is not None:
            await self._chats.end(session.id, session.owner)

    def _mark(self) -> _Mark:
        shown = frozenset(self._session.transcript.items) if self._session else frozenset()
        return _Mark(len(self._entries), len(self._errors), self._stops, shown)

    async def _settle(self, waiting: Awaitable[None] | None = None) -> None:
        """Wait until the chat has settled (no run going on, or a question waits)."""
        session = self.session
        try:
            async with asyncio.timeout(self.timeout):
                if waiting is not None:
                    await asyncio.shield(waiting)
                await asyncio.shield(session.settled())
        except TimeoutError:
            raise ChatTimeoutError(
                f"The chat was still running after {self.timeout:g} s; the chat so far:\n"
                f"{self.transcript}"
            ) from None

    def _reply(self, mark: _Mark) -> Reply:
        """What the chat did since ``mark``."""
        session = self.session
        transcript = session.transcript
        touched: set[str] = set()
        tokens: list[str] = []
        streamed: dict[str, list[str]] = {}
        panel = False
        for entry in self._entries[mark.entries :]:
            event = entry.event
            if isinstance(event, MessageEvent):
                touched.add(event.message.id)
            elif isinstance(event, StepEvent):
                touched.add(event.step.id)
            elif isinstance(event, TokenEvent):
                touched.add(event.id)
            elif isinstance(event, SidebarEvent):
                panel = True
        for index, item_id, piece in reversed(self._pieces):
            if index < mark.entries:
                break
            tokens.append(piece)
            streamed.setdefault(item_id, []).append(piece)
        tokens.reverse()
        for pieces in streamed.values():
            pieces.reverse()
        messages: list[MessageView] = []
        updated: list[MessageView] = []
        tops: dict[str, StepData] = {}
        for item_id, item in transcript.items.items():
            if item_id not in touched:
                continue
            if isinstance(item, MessageData):
                if item.type != "user_message":
                    shown = updated if item_id in mark.shown else messages
                    shown.append(MessageView.of(item, streamed.get(item_id)))
                continue
            top = item
            while isinstance(parent := transcript.items.get(top.parent_id or ""), StepData):
                top = parent
            tops.setdefault(top.id, top)
        order = list(transcript.items)
        steps = [
            StepView.of(step, transcript, streamed)
            for step in sorted(tops.values(), key=lambda s: order.index(s.id))
        ]
        elements = [e for m in messages for e in m.elements]
        elements += [e for root in steps for step in root.walk() for e in step.elements]
        if panel and transcript.sidebar is not None:
            elements += [ElementView.of(e) for e in transcript.sidebar.elements]
        asking = next(
            (
                MessageView.of(item)
                for item in reversed(transcript.items.values())
                if isinstance(item, MessageData) and item.ask is not None
            ),
            None,
        )
        return Reply(
            messages=messages,
            updated=updated,
            steps=steps,
            elements=elements,
            tokens=tokens,
            errors=self._errors[mark.errors :],
            asking=asking,
            stopped=self._stops > mark.stops,
        )


class SyncChatClient:
    """``ChatClient`` for plain ``def`` tests: the same methods, each a call that returns
    when the chat has settled. It runs an event loop of its own (``asyncio.Runner``)
    while a call goes on; ``run`` runs any coroutine on it (to act while a run goes on,
    say), and ``client`` is the ``ChatClient`` underneath::

        with SyncChatClient("app.py") as chat:
            chat.start()
            assert "Hello" in chat.send("Hi").content
    """

    def __init__(
        self,
        app: AppSpec,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = ChatClient(app, timeout=timeout, config=config)
        self._runner: asyncio.Runner | None = None

    def __enter__(self) -> SyncChatClient:
        return self.open()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> SyncChatClient:
        """Load the app (see ``ChatClient.open``)."""
        if self._runner is None:
            self._runner = asyncio.Runner()
            try:
                self.run(self.client.open())
            except BaseException:
                self.close()  # an app that cannot load leaves no loop behind
                raise
        return self

    def close(self) -> None:
        """End the chat and the loop (see ``ChatClient.aclose``)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                runner.run(self.client.aclose())
            finally:
                runner.close()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` (a coroutine, e.g. of ``client``) on the client's loop; its result."""
        if self._runner is None:
            work.close()
            raise ChatClientError("The SyncChatClient is not open: use `with SyncChatClient(...)`.")
        return self._runner.run(work)

    def start(
        self,
        *,
        profile: str | None = None,
        user: User | str | None = None,
        settings: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        language: str = "",
        client_type: str = "webapp",
    ) -> Reply:
        """See ``ChatClient.start``."""
        return self.run(
            self.client.start(
                profile=profile,
                user=user,
                settings=settings,
                env=env,
                language=language,
                client_type=client_type,
            )
        )

    def resume(
        self, thread: Mapping[str, Any] | None = None, *, user: User | str | None = None
    ) -> Reply:
        """See ``ChatClient.resume``."""
        return self.run(self.client.resume(thread, user=user))

    def send(
        self,
        content: str = "",
        *,
        files: Sequence[FileSpec] = (),
        command: str | None = None,
        modes: Mapping[str, str] | None = None,
    ) -> Reply:
        """See ``ChatClient.send``."""
        return self.run(self.client.send(content, files=files, command=command, modes=modes))

    def click(self, action: str | ActionView) -> Reply:
        """See ``ChatClient.click``."""
        return self.run(self.client.click(action))

    def answer(
        self,
        response: str | ActionView | FileSpec | Sequence[FileSpec] | Mapping[str, Any],
    ) -> Reply:
        """See ``ChatClient.answer``."""
        return self.run(self.client.answer(response))

    def element_action(
        self, element: str | ElementView, name: str, payload: Mapping[str, Any] | None = None
    ) -> Reply:
        """See ``ChatClient.element_action``."""
        return self.run(self.client.element_action(element, name, payload))

    def stop(self) -> Reply:
        """See ``ChatClient.stop``."""
        return self.run(self.client.stop())

    def update_settings(self, values: Mapping[str, Any]) -> Reply:
        """See ``ChatClient.update_settings``."""
        return self.run(self.client.update_settings(values))

    def read_file(self, element: ElementView | ElementData) -> bytes:
        """See ``ChatClient.read_file``."""
        return self.run(self.client.read_file(element))

    @property
    def app(self) -> LightChat | None:
        """See ``ChatClient.app``."""
        return self.client.app

    @property
    def module(self) -> ModuleType | None:
        """See ``ChatClient.module``."""
        return self.client.module

    @property
    def session(self) -> ChatSession:
        """See ``ChatClient.session``."""
        return self.client.session

    @property
    def user_session(self) -> dict[str, Any]:
        """See ``ChatClient.user_session``."""
        return self.client.user_session

    @property
    def transcript(self) -> str:
        """See ``ChatClient.transcript``."""
        return self.client.transcript

    @property
    def messages(self) -> list[MessageView]:
        """See ``ChatClient.messages``."""
        return self.client.messages

    @property
    def steps(self) -> list[StepView]:
        """See ``ChatClient.steps``."""
        return self.client.steps

    @property
    def sidebar(self) -> tuple[str, list[ElementView]]:
        """See ``ChatClient.sidebar``."""
        return self.client.sidebar

    @property
    def errors(self) -> list[CallbackError]:
        """See ``ChatClient.errors``."""
        return self.client.errors

    @property
    def thread(self) -> dict[str, Any]:
        """See ``ChatClient.thread``."""
        return self.client.thread
