"""The chat session: where a chat's callbacks run and its events are published.

A session belongs to one browser (or user) and lives in the worker that created it. Inputs
(a user message, "Stop") reach it through method calls; what the callbacks do reaches the
page only as events on the bus. Runs are serialized: a message sent while a callback is
still answering waits its turn, and is shown in the chat at once.

Concurrency: everything here runs on the event loop thread except sync callbacks, which
run in worker threads and come back through ``run_sync``. Each run is its own task, so
"Stop" cancels exactly the run in progress; the queue runner outlives it.

Token batching adapts to the worker's load (``lightchat.chat.pressure``): while the event
loop keeps up, ``stream`` publishes each token at once (tokens coming faster than one per
``TOKEN_GAP_S`` go together); under pressure it gathers a chat's tokens for a window that
grows with the loop's lag (up to ``token_batch_ms``) and publishes them as one event. A
loop that only works hard without falling behind gathers only the tokens of chats
streaming faster than ``TOKEN_GAP_S``: a chat at a reader's pace loses nothing there. Any
other event flushes the gathered tokens first, so the log stays in the order the callback
wrote it.

One concept, kept whole: ``ChatSession``'s inputs, run queue, questions back to the user,
calls to the page and token batching all read and change the same state (the transcript,
the queue, the open questions) under one rule (runs one at a time, events in order), so
they are one class. The sessions a worker owns are ``lightchat.chat.chats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from lightchat.bus import Bus
from lightchat.chat.mcp import McpConnections
from lightchat.chat.pressure import for_loop
from lightchat.chat.voice import Voice
from lightchat.config.registry import Registry, invoke
from lightchat.config.settings import Settings
from lightchat.domain.events import (
    ActionData,
    AppEvent,
    AskKind,
    CommandData,
    ComposerEvent,
    ElementData,
    Entry,
    Event,
    FunctionCallEvent,
    MessageData,
    MessageEvent,
    Mode,
    RemoveEvent,
    RunEvent,
    SettingsEvent,
    SidebarEvent,
    StepData,
    StepEvent,
    StepStatus,
    TokenEvent,
    WidgetData,
    WindowEvent,
    new_id,
)
from lightchat.domain.mcp import McpLink
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError, NoSessionError, SessionClosedError
from lightchat.files import FileStorage, StoredFile

logger = logging.getLogger("lightchat")

THREAD_NAME_CHARS = 200
"""The longest name ``emitter.init_thread`` gives a thread (longer ones are cut)."""

TOKEN_GAP_S = 0.005
"""The least time between two token events of a chat (unless ``token_batch_ms`` is less):
tokens that come faster, as from a model streaming as fast as it can, go together, so a
page gets at most a couple of hundred events a second from one chat. Tokens at the pace a
reader follows (tens a second) are never held by it."""

STOP_WAIT_S = 5.0
"""How long a shutdown waits for a stopped callback (and ``on_stop``) to end."""
HAND_OFF_WAIT_S = 10.0
"""How long a shutdown waits, after the grace period, for chats being handed over to be
written out (their log and thread)."""

_current: ContextVar[ChatSession] = ContextVar("lightchat_session")
_current_run: ContextVar[RunInfo | None] = ContextVar("lightchat_run", default=None)


def enter(session: ChatSession) -> None:
    """Make ``session`` the current chat of the code running from here on in this task
    (``init_http_context``)."""
    _current.set(session)


def current_session() -> ChatSession:
    """The chat session of the callback running now.

    Raises ``NoSessionError`` outside a callback (e.g. at import time).
    """
    try:
        return _current.get()
    except LookupError:
        raise NoSessionError(
            "No chat is active here. Call this from inside a callback such as "
            "@on_message or @on_chat_start (or a function they call)."
        ) from None


@dataclass(slots=True)
class RunInfo:
    """The run of a callback going on here: which hook, under which id, with what.

    ``view`` is for the API layer to keep the object it shows for the run
    (``cl.context.current_run``), so the same run always gives the same object.
    """

    id: str
    hook: str
    args: tuple[Any, ...]
    view: Any = None


def current_run() -> RunInfo | None:
    """The run of the callback running now (None outside one, e.g. in a background task
    started elsewhere)."""
    return _current_run.get()


_FIRST = frozenset({"on_chat_start", "on_chat_resume", "on_mcp_connect", "on_mcp_disconnect"})
"""The runs that ``run_next`` puts its own after: the chat's start, and those it put first."""


@dataclass(slots=True)
class _Run:
    hook: str
    args: tuple[Any, ...]
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Ask:
    kind: AskKind
    answer: asyncio.Future[Any]


ELEMENT_GONE = "This element is no longer in the chat."


class AskClosedError(LookupError):
    """The question was answered already, timed out, or never existed."""


class CallClosedError(LookupError):
    """The page function call was answered already, timed out, or never existed."""


@dataclass(slots=True)
class _Tokens:
    parts: dict[str, list[str]] = field(default_factory=dict)
    handle: asyncio.TimerHandle | None = None
    last_flush: float = float("-inf")  # monotonic seconds
    last_token: float = float("-inf")  # monotonic seconds


class ChatSession:
    """One chat: its callbacks' state (``user_session``), its runs and its event log."""

    def __init__(
        self,
        registry: Registry,
        bus: Bus,
        settings: Settings,
        *,
        owner: str,
        session_id: str | None = None,
        message_factory: Callable[[MessageData], Any] = lambda data: data,
        action_factory: Callable[[ActionData, str], Any] = lambda data, for_id: data,
        observer: Callable[[ChatSession, Entry], None] | None = None,
        files: FileStorage | None = None,
    ) -> None:
        self.id = session_id or new_id()
        self.owner = owner
        self.user: Any = None
        self.thread_id = self.id
        self.client_type = "webapp"
        """Where the chat is shown: ``webapp`` (the app's own page) or ``copilot`` (the
        widget on another page), as Chainlit names them."""
        self.environ: dict[str, str] = {}
        """The headers of the request that opened the chat, as a WSGI environ names them
        (``HTTP_USER_AGENT``...; Chainlit's ``context.session.environ``)."""
        self.languages = ""
        """The browser's ``Accept-Language`` when it opened the chat (``en-US,en;q=0.9``)."""
        self.token: str | None = None
        """The access token the app gave the chat (``init_http_context(auth_token=)``),
        Chainlit's ``session.token``; None for a chat a page opened."""
        self.token_count = 0
        """The tokens the app counted so far (``emitter.update_token_count``)."""
        self.thread_name: str | None = None
        """The name the app gave the chat's thread (``emitter.init_thread``), if any."""
        self.texts: Callable[[str, str], str] = lambda key, languages: key
        """A UI text by key for an ``Accept-Language`` (the app's translations, given by
        ``Chats``), for the few texts the chat writes itself (see ``say``)."""
        self.context_removed: set[str] = set()
        """Messages the app took out of ``chat_context`` (``remove``, ``clear``)."""
        self._edits: set[asyncio.Task[None]] = set()
        self.context_added: list[Any] = []
        """Messages the app put in ``chat_context`` that the chat does not show (``add``)."""
        self.registry = registry
        self.bus = bus
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.data: dict[str, Any] = {
            "id": self.id,
            "env": {},
            "chat_settings": {},
            "chat_profile": None,
            "user": None,
        }
        self.transcript = Transcript()
        self.connections = 0
        self.last_active = time.monotonic()
        self.closed = False
        self.read_only = False
        self.fresh = False
        """True for a chat started here (``Chats.create``), not reopened from the history
        or taken over: the store holds nothing of it until its first write."""
        self.settings_widgets: list[WidgetData] = []  # the settings form, once sent
        self._observer = observer
        self._message_factory = message_factory
        self._action_factory = action_factory
        self.files = files
        self._asks: dict[str, _Ask] = {}
        # Calls of the host page's functions waiting for their result, by call id. Kept
        # here, in the worker that owns the chat, where the page's answer is forwarded.
        self._calls: dict[str, asyncio.Future[Any]] = {}
        self._settle_waiters: list[asyncio.Future[None]] = []
        self._tokens = _Tokens()
        self._window = settings.token_batch_ms / 1000
        self._load = for_loop(self.loop)
        self._queue: deque[_Run] = deque()
        self._runner: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._held = False  # held busy by emitter.task_start (see show_running)
        self.mcp = McpConnections(self)
        """The chat's MCP connections (``lightchat.chat.mcp``); the app's ``Chats`` gives
        them what they need when ``features.mcp`` is on."""
        self.voice = Voice(self)
        """The chat's voice input (``lightchat.chat.voice``), with ``features.audio``."""
        self.event_times: dict[int, float] = {}
        """When each event of the log was published (by sequence number), in debug mode
        only (``Settings.debug``): the "Run details" panel shows it."""

    # -- publishing ---------------------------------------------------------------------

    def say(self, key: str) -> str:
        """The UI text ``key`` in the language of the browser that opened the chat."""
        return self.texts(key, self.languages)

    @property
    def user_env(self) -> dict[str, str]:
        """The keys the user gave before chatting (``user_session.get("env")``)."""
        env = self.data.get("env")
        return env if isinstance(env, dict) else {}

    @property
    def chat_profile(self) -> str | None:
        """The name of the chat profile the chat was opened with, if any."""
        profile = self.data.get("chat_profile")
        return profile if isinstance(profile, str) else None

    @property
    def chat_settings(self) -> dict[str, Any]:
        """The chat's settings as the user last confirmed them."""
        values = self.data.get("chat_settings")
        return values if isinstance(values, dict) else {}

    @property
    def mcp_sessions(self) -> dict[str, tuple[Any, McpLink]]:
        """The chat's open MCP connections, as Chainlit's ``session.mcp_sessions``: by name,
        the ``mcp`` SDK's ``ClientSession`` and the connection::

            mcp_session, _ = cl.context.session.mcp_sessions[name]
            result = await mcp_session.call_tool("add", {"a": 1, "b": 2})
        """
        return self.mcp.sessions()

    @property
    def language(self) -> str | None:
        """The browser's preferred language (``en-US``), from ``languages``."""
        first = self.languages.split(",", 1)[0].split(";", 1)[0].strip()
        return first or None

    def framework_values(self) -> dict[str, Any]:
        """What ``user_session`` holds of the chat itself, whatever the app set (Chainlit's
        keys: ``id``, ``env``, ``chat_settings``, ``user``, ``chat_profile``,
        ``client_type``, ``languages``)."""
        return {
            "id": self.id,
            "env": self.user_env,
            "chat_settings": self.chat_settings,
            "user": self.user,
            "chat_profile": self.chat_profile,
            "client_type": self.client_type,
            "languages": self.languages,
        }

    def emit(self, event: Event) -> Entry:
        """Publish an event (after any tokens gathered so far)."""
        self.flush_tokens()
        return self._publish(event)

    def _publish(self, event: Event) -> Entry:
        entry = self.bus.publish(self.id, event)
        if self.settings.debug:
            self.event_times[entry.seq] = time.time()
        self.transcript.apply(entry)
        if self._observer is not None:
            self._observer(self, entry)
        return entry

    def detach_history(self) -> None:
        """Stop telling the history about this chat's events (it moved to another worker)."""
        self._observer = None

    def restore(self, items: list[MessageData | StepData]) -> None:
        """Show a past chat's messages and steps again (they are already saved), as they
        were saved: one saved still streaming or running stays so (``interrupt`` ends it)."""
        observer, self._observer = self._observer, None
        try:
            for item in items:
                if isinstance(item, MessageData):
                    self._publish(MessageEvent(item))
                else:
                    self._publish(StepEvent(item))
        finally:
            self._observer = observer

    def adopt(self, entries: list[Entry]) -> None:
        """Take on the log another worker wrote for this chat (already on the bus)."""
        for entry in entries:
            self.transcript.apply(entry)

    def interrupt(self) -> bool:
        """Finish what the run of a worker that died left open (a chat taken over, or one
        reopened from history after its process died): messages still streaming and steps
        still running end here, marked interrupted (and saved so), the open question
        closes, and the run ends. Returns True if anything was left open."""
        now = time.time()
        shown = self.transcript
        left = False
        for item in shown.open_items():
            left = True
            if isinstance(item, MessageData):
                self._publish(MessageEvent(replace(item, streaming=False, interrupted=True)))
            else:
                status: StepStatus = "failed"
                self._publish(
                    StepEvent(replace(item, status=status, ended_at=now, interrupted=True))
                )
        for item in list(shown.items.values()):
            if isinstance(item, MessageData) and item.ask is not None:
                left = True  # nobody waits for its answer any more
                self._publish(MessageEvent(replace(item, ask=None)))
        if shown.running:
            # Not observed: the history would save this new session's empty user_session
            # as the thread's state; on_chat_resume's run saves it when it ends.
            observer, self._observer = self._observer, None
            try:
                self._publish(RunEvent(running=False))
            finally:
                self._observer = observer
            left = True
        return left

    def stream(self, item_id: str, delta: str) -> None:
        """Append text to a message or step: published at once while the worker keeps
        up, gathered for a while under pressure (see the module docstring)."""
        if not delta:
            return
        tokens = self._tokens
        now = time.monotonic()
        gap, tokens.last_token = now - tokens.last_token, now
        chunks = tokens.parts.get(item_id)
        if chunks is None:
            tokens.parts[item_id] = [delta]
        else:
            chunks.append(delta)
        if tokens.handle is not None:
            return  # a flush is already due: the token goes with it
        load = self._load
        window = load.window(self._window)
        if window > 0 and gap > TOKEN_GAP_S and not load.lagging:
            # The loop works hard but still runs what is ready at once, and this chat
            # streams at a reader's pace: gathering its tokens would only make them late.
            window = 0.0
        if window <= 0:
            # A quiet loop: at once, unless the last flush was a moment ago (a model
            # streaming faster than a page can show): then with the next ones, soon.
            wait = min(self._window, TOKEN_GAP_S) - (now - tokens.last_flush)
            if wait <= 0:
                self.flush_tokens()
                return
            window = wait
        tokens.handle = self.loop.call_later(window, self.flush_tokens)

    def flush_tokens(self) -> None:
        """Publish the tokens gathered so far, one event per message or step."""
        tokens = self._tokens
        if tokens.handle is not None:
            tokens.handle.cancel()
            tokens.handle = None
        if not tokens.parts:
            return
        parts, tokens.parts = tokens.parts, {}
        tokens.last_flush = time.monotonic()
        for item_id, chunks in parts.items():
            self._publish(TokenEvent(item_id, "".join(chunks)))

    # -- elements and actions -----------------------------------------------------------

    def emit_message(self, data: MessageData) -> Entry:
        """Publish a message's new state, keeping elements and actions attached to it
        separately (``element.send(for_id=...)``) that ``data`` does not mention."""
        self.flush_tokens()
        shown = self.transcript.items.get(data.id)
        if isinstance(shown, MessageData):
            data = replace(
                data,
                elements=_union(shown.elements, data.elements),
                actions=_union(shown.actions, data.actions),
            )
        return self._publish(MessageEvent(data))

    def attach(
        self,
        for_id: str | None,
        element: ElementData | None = None,
        action: ActionData | None = None,
    ) -> str:
        """Show an element or an action with a message (added, or replaced by id).

        Without a message to go with (no ``for_id``, or one that is not a message shown in
        this chat), it comes in a message of its own. Returns the message's id.
        """
        self.flush_tokens()
        shown = self.transcript.items.get(for_id or "")
        if not isinstance(shown, MessageData):
            shown = MessageData(id=new_id(), author=self.settings.name, type="assistant_message")
        elements = _union(shown.elements, [element] if element else [])
        actions = _union(shown.actions, [action] if action else [])
        self._publish(MessageEvent(replace(shown, elements=elements, actions=actions)))
        return shown.id

    def detach(self, part_id: str) -> bool:
        """Take an element or an action away from its message; False if none shows it."""
        self.flush_tokens()
        holder = self.transcript.holder(part_id)
        if holder is None:
            return False
        self._publish(
            MessageEvent(
                replace(
                    holder,
                    elements=[e for e in holder.elements if e.id != part_id],
                    actions=[a for a in holder.actions if a.id != part_id],
                )
            )
        )
        return True

    def element(self, element_id: str) -> ElementData | None:
        """An element shown in this chat (in a message or the side panel), by id."""
        return self.transcript.element(element_id)

    def custom_element(self, element_id: str) -> ElementData:
        """A ``CustomElement`` the chat shows, by id, for what its page asks of it.

        Raises ``LookupError`` (with a message for the user) when the element is gone or
        is not a custom element.
        """
        element = self.transcript.element(element_id)
        if element is None:
            raise LookupError(ELEMENT_GONE)
        if element.kind != "custom":
            raise LookupError(f"Only a custom element does this; this is a {element.kind} element.")
        return element

    def update_element(self, element_id: str, props: dict[str, Any]) -> None:
        """A custom element's page gave it new props (``updateElement``): they replace its
        props in the chat (and so in its history), and it is drawn again with them.

        ``props`` comes from the browser, as untrusted as what a user types. Raises
        ``LookupError`` as ``custom_element`` does.
        """
        element = self.custom_element(element_id)
        updated = replace(element, content=json.dumps(props))
        holder = self.transcript.holder(element_id)
        if holder is not None:
            self.attach(holder.id, updated)
        else:  # in the side panel
            self.set_sidebar(None, self._sidebar_with(element_id, updated))

    def delete_element(self, element_id: str) -> None:
        """A custom element's page removed it (``deleteElement``). Raises ``LookupError``
        as ``custom_element`` does."""
        self.custom_element(element_id)
        if not self.detach(element_id):
            self.set_sidebar(None, self._sidebar_with(element_id, None))

    def _sidebar_with(self, element_id: str, element: ElementData | None) -> list[ElementData]:
        """The side panel's elements with ``element_id`` replaced by ``element`` (None:
        left out)."""
        shown = self.transcript.sidebar
        kept = [e for e in (shown.elements if shown else []) if e.id != element_id]
        if element is None:
            return kept
        return [element if e.id == element_id else e for e in (shown.elements if shown else [])]

    def set_composer(
        self, commands: list[CommandData] | None = None, modes: list[Mode] | None = None
    ) -> None:
        """Give the composer its commands and mode pickers (None: keep what it has)."""
        shown = self.transcript
        self.emit(
            ComposerEvent(
                shown.commands if commands is None else commands,
                shown.modes if modes is None else modes,
            )
        )

    def set_sidebar(self, title: str | None, elements: list[ElementData] | None) -> None:
        """Show elements in the side panel (None: keep; no elements: close it)."""
        shown = self.transcript.sidebar
        self.emit(
            SidebarEvent(
                (shown.title if shown else "") if title is None else title,
                (list(shown.elements) if shown else []) if elements is None else elements,
            )
        )

    async def keep_file(self, data: bytes, *, name: str, mime: str) -> StoredFile:
        """Store an element's bytes in the app's file storage."""
        if self.files is None:
            raise ConfigError("This app has no file storage, so it cannot show files.")
        return await self.files.put(data, name=name, mime=mime)

    # -- questions back to the user -----------------------------------------------------

    async def ask(self, message: MessageData, timeout: float) -> Any:
        """Show a question (``message.ask``) and wait for its answer.

        Returns the answer: the user's ``MessageData`` for a text question, the chosen
        ``ActionData``, or the list of uploaded files' ``ElementData``. Raises
        ``TimeoutError`` when no answer came within ``timeout`` seconds. Either way the
        question's form goes away and the message stays.
        """
        assert message.ask is not None
        kind = message.ask.kind
        pending = _Ask(kind, self.loop.create_future())
        self._asks[message.id] = pending
        self.emit_message(message)
        self._settle()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.answer), timeout)
        finally:
            self._asks.pop(message.id, None)
            shown = self.transcript.items.get(message.id)
            if not self.closed and isinstance(shown, MessageData) and shown.ask is not None:
                actions = [] if kind == "action" else shown.actions
                self._publish(MessageEvent(replace(shown, ask=None, actions=actions)))

    def _open_ask(self, message_id: str | None, kind: AskKind) -> _Ask | None:
        for ask_id, pending in reversed(self._asks.items()):
            if message_id not in (None, ask_id) or pending.kind != kind:
                continue
            if not pending.answer.done():
                return pending
        return None

    @property
    def asking(self) -> bool:
        """True while a question waits for the user."""
        return any(not pending.answer.done() for pending in self._asks.values())

    def settled(self) -> asyncio.Future[None]:
        """Resolves once nothing runs, or a question waits for the user.

        A plain form post (no JavaScript) waits for this before showing the page again.
        """
        waiter: asyncio.Future[None] = self.loop.create_future()
        if not self.running or self.asking:
            waiter.set_result(None)
        else:
            self._settle_waiters.append(waiter)
        return waiter

    def _settle(self) -> None:
        waiters, self._settle_waiters = self._settle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- chat settings ------------------------------------------------------------------

    def show_settings(self, widgets: list[WidgetData], values: dict[str, Any]) -> None:
        """Give the chat its settings form (``ChatSettings.send()``), with these values in
        ``user_session["chat_settings"]``."""
        self.settings_widgets = list(widgets)
        self.data["chat_settings"] = values
        self.emit(SettingsEvent(list(widgets)))

    def update_settings(self, values: dict[str, Any]) -> asyncio.Future[None]:
        """The user confirmed new settings (already checked): they go to
        ``user_session["chat_settings"]`` now, and ``on_settings_update`` runs with them in
        turn."""
        settings = {**dict(self.data.get("chat_settings") or {}), **values}
        self.data["chat_settings"] = settings
        return self._enqueue("on_settings_update", dict(settings))

    def edit_settings(self, values: dict[str, Any]) -> None:
        """The user is editing the settings (not confirmed yet): ``on_settings_edit`` runs
        with them at once, beside any run, and nothing is kept (Chainlit's live hook)."""
        callback = self.registry.callbacks.get("on_settings_edit")
        if callback is not None:
            edited = {**dict(self.data.get("chat_settings") or {}), **values}
            task = self.loop.create_task(
                self._call_guarded(functools.partial(callback, edited)),
                name=f"lightchat-{self.id}-settings-edit",
            )
            self._edits.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._edits.discard)

    # -- inputs -------------------------------------------------------------------------

    def start(self) -> asyncio.Future[None]:
        """Run ``on_chat_start``."""
        return self._enqueue("on_chat_start")

    def resume(self, thread: dict[str, Any]) -> asyncio.Future[None]:
        """Run ``on_chat_resume`` with the past thread."""
        return self._enqueue("on_chat_resume", thread)

    def send_user_message(
        self,
        content: str,
        author: str = "You",
        elements: list[ElementData] | None = None,
        command: str | None = None,
        modes: dict[str, str] | None = None,
    ) -> asyncio.Future[None]:
        """Show the user's message at once; it answers the open question (``AskUserMessage``)
        if there is one, else ``on_message`` runs with it (in turn)."""
        data = MessageData(
            id=new_id(),
            author=author,
            type="user_message",
            content=content,
            elements=list(elements or []),
            command=command,
            modes=dict(modes or {}),
        )
        self.emit(MessageEvent(data))
        pending = self._open_ask(None, "text")
        if pending is not None:
            pending.answer.set_result(data)
            return self.settled()
        if "on_message" not in self.registry.callbacks:
            _hint_no_on_message(self.registry)
        return self._enqueue("on_message", self._message_factory(data))

    async def edit(self, message_id: str, content: str) -> asyncio.Future[None]:
        """The user changed one of their messages: what came after it is replaced.

        The run in progress stops (``on_stop`` runs), runs waiting their turn are dropped,
        everything after the message is removed, and ``on_message`` runs again with the
        new text. Raises ``LookupError`` for an id that is not a user message here.
        """
        shown = self.transcript.items.get(message_id)
        if not isinstance(shown, MessageData) or shown.type != "user_message":
            raise LookupError("Only your own messages can be edited.")
        await self._cancel_all()
        later = list(self.transcript.items)
        for item_id in later[later.index(message_id) + 1 :]:
            if item_id in self.transcript.items and not self.transcript.is_nested(
                self.transcript.items[item_id]
            ):
                self.emit(RemoveEvent(item_id))
        edited = replace(shown, content=content)
        self.emit(MessageEvent(edited))
        return self._enqueue("on_message", self._message_factory(edited))

    async def regenerate(self, message_id: str) -> asyncio.Future[None]:
        """Answer again: the user message before ``message_id`` is sent again as it was.

        Only the last answer to the user's last message is answered again
        (``Transcript.last_answer``): not a welcome, a question back to the user, or an
        answer the chat has gone on from.

        Raises ``LookupError`` when the message is not in the chat, ``ValueError`` when it
        is not that answer.
        """
        order = list(self.transcript.items)
        if message_id not in order:
            raise LookupError("This answer is no longer in the chat.")
        last = self.transcript.last_answer()
        if last is None or last.id != message_id:
            raise ValueError("Only the last answer to your last message can be regenerated.")
        before = order[: order.index(message_id)]
        for item_id in reversed(before):
            item = self.transcript.items[item_id]
            if isinstance(item, MessageData) and item.type == "user_message":
                return await self.edit(item.id, item.content)
        raise LookupError("There is no message of yours to answer again.")

    async def _cancel_all(self) -> None:
        """Drop the runs waiting their turn and stop the one in progress."""
        while self._queue:
            run = self._queue.popleft()
            if not run.done.done():
                run.done.set_result(None)
        await self.stop()

    def click(self, action_id: str) -> asyncio.Future[None]:
        """The user clicked an action: it answers its question (``AskActionMessage``), or
        its ``@action_callback`` runs (in turn, after a run in progress).

        Only an action the chat shows now runs (one sent with a message or a question and
        not removed since), with the name and payload the app gave it: the browser names
        the button, nothing more.

        Raises ``LookupError`` (with a message for the user) for a button that is gone or
        that no callback handles.
        """
        holder = self.transcript.holder(action_id)
        action = next((a for a in holder.actions if a.id == action_id), None) if holder else None
        if holder is None or action is None:
            raise LookupError("This button is no longer available.")
        pending = self._open_ask(holder.id, "action")
        if pending is not None:
            pending.answer.set_result(action)
            return self.settled()
        hook = f"action:{action.name}"
        if hook not in self.registry.callbacks:
            raise LookupError(f"No callback handles the action {action.name!r}.")
        return self._enqueue(hook, self._action_factory(action, holder.id))

    def call_action(
        self, element_id: str, name: str, payload: dict[str, Any]
    ) -> asyncio.Future[None]:
        """A custom element called the ``@action_callback(name)`` (in turn, like a click).

        Only a ``CustomElement`` shown with a message calls actions: ``name`` and
        ``payload`` come from the browser, as its template's form sent them. Raises
        ``LookupError`` (with a message for the user) when the element is gone, is not a
        custom element, or no callback handles the name.
        """
        holder = self.transcript.holder(element_id)
        element = self.transcript.element(element_id)
        if holder is None or element is None:
            raise LookupError("This element is no longer in the chat.")
        if element.kind != "custom":
            raise LookupError(
                f"Only a custom element calls actions; this is a {element.kind} element."
            )
        hook = f"action:{name}"
        if hook not in self.registry.callbacks:
            raise LookupError(f"No callback handles the action {name[:100]!r}.")
        action = ActionData(id=new_id(), name=name, label=name, payload=payload)
        return self._enqueue(hook, self._action_factory(action, holder.id))

    def window_message(self, data: Any) -> asyncio.Future[None]:
        """The page framing the chat posted ``data``: ``@on_window_message`` runs with it
        (in turn, like an action's callback).

        Raises ``LookupError`` (with a message for the page) when no callback hears it.
        """
        if "on_window_message" not in self.registry.callbacks:
            raise LookupError("This app does not take window messages (no @on_window_message).")
        return self._enqueue("on_window_message", data)

    def show_running(self, running: bool) -> None:
        """Hold the chat busy, or let it go (``emitter.task_start``/``task_end``), for work
        the app does besides its callbacks: while held, the end of a run leaves it busy;
        let go, it is idle once no callback runs."""
        self._held = running
        if self.closed or self.transcript.running == running:
            return
        if running or not self._busy():
            self.emit(RunEvent(running=running))

    def _busy(self) -> bool:
        """Whether a callback runs or waits its turn."""
        return self._runner is not None and not self._runner.done()

    def name_thread(self, name: str) -> None:
        """Give the chat's thread a name: written to the history at the end of the run, or
        now when no run is going on (a chat the app writes to, ``init_http_context``)."""
        self.thread_name = " ".join(str(name).split())[:THREAD_NAME_CHARS] or None
        if not self.closed and self._run_task is None and not self.transcript.running:
            self.emit(RunEvent(running=False))  # idle, as it was: the history notes the name

    def send_app_event(self, name: str, data: Any) -> None:
        """Pass an event of the app's own to the page's scripts (see ``AppEvent``)."""
        self.emit(AppEvent(name, data))

    def send_window_message(self, data: Any) -> None:
        """Post ``data`` to the page framing the chat, through the stream (see WindowEvent)."""
        self.emit(WindowEvent(data))

    async def call_page(self, name: str, args: dict[str, Any], timeout: float) -> Any:
        """Ask the page hosting the copilot to run its function ``name`` with ``args``
        (``CopilotFunction.acall``), and wait for what it answers (see ``answer_call``).

        Raises ``TimeoutError`` when no answer came within ``timeout`` seconds; a late
        answer is then refused, as one for a call that never existed.
        """
        call_id = secrets.token_urlsafe(24)
        answer: asyncio.Future[Any] = self.loop.create_future()
        self._calls[call_id] = answer
        try:
            self.emit(FunctionCallEvent(call_id, name, args))
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        finally:
            self._calls.pop(call_id, None)

    def answer_call(self, call_id: str, result: Any) -> None:
        """The page answered the function call ``call_id`` with ``result`` (parsed JSON).

        Raises ``CallClosedError`` when that call is not waiting (answered, timed out, or
        never made), so only the first answer counts.
        """
        answer = self._calls.pop(call_id, None)
        if answer is None or answer.done():
            raise CallClosedError("This function call was answered already or has timed out.")
        answer.set_result(result)

    def file_question(self, message_id: str) -> MessageData | None:
        """The file question shown as ``message_id``, while it waits for files."""
        shown = self.transcript.items.get(message_id)
        if (
            isinstance(shown, MessageData)
            and shown.ask is not None
            and self._open_ask(message_id, "file") is not None
        ):
            return shown
        return None

    def answer_element(self, element_id: str, response: dict[str, Any]) -> asyncio.Future[None]:
        """Answer the ``AskElementMessage`` that shows the custom element ``element_id``
        with ``response`` (``{"submitted": True, ...values}`` or ``{"submitted": False}``).

        Raises ``AskClosedError`` when no question of that element waits any more.
        """
        holder = self.transcript.holder(element_id)
        ask = holder.ask if holder is not None else None
        pending = self._open_ask(holder.id, "element") if holder is not None else None
        if pending is None or ask is None or ask.element_id != element_id:
            raise AskClosedError("This question was answered already or has timed out.")
        pending.answer.set_result(dict(response))
        return self.settled()

    def answer_files(self, message_id: str, files: list[ElementData]) -> asyncio.Future[None]:
        """Answer a file question with the (already stored) uploads, shown as the user's
        message. Raises ``AskClosedError`` when the question is not waiting any more."""
        pending = self._open_ask(message_id, "file")
        if pending is None:
            raise AskClosedError("This question was answered already or has timed out.")
        data = MessageData(
            id=new_id(), author="You", type="user_message", content="", elements=files
        )
        self.emit(MessageEvent(data))
        pending.answer.set_result(files)
        return self.settled()

    async def stop(self) -> bool:
        """Cancel the callback running now, keep what it showed, run ``on_stop``.

        Returns False when nothing was running.
        """
        task = self._run_task
        if task is None and self._held:
            # Held busy by emitter.task_start with no callback running: "Stop" lets go.
            self.show_running(False)
            return False
        if task is None or task.done() or task.cancelling() or task.get_name() == "on_stop":
            return False  # nothing to stop, or already stopping: a second "Stop" is a no-op
        on_stop: asyncio.Future[None] | None = None
        if "on_stop" in self.registry.callbacks:
            # Next in the queue, so it runs before (never alongside) a run that waits its turn.
            on_stop = self.loop.create_future()
            self._queue.appendleft(_Run("on_stop", (), on_stop))
        task.cancel()
        await asyncio.wait([task])
        if on_stop is not None:
            await on_stop
        return True

    async def close(self, *, keep_log: bool = False) -> None:
        """End the chat: stop what runs, run ``on_chat_end``, forget the log.

        ``keep_log``: the chat goes on on another worker (it is handed over), which
        adopts the log from the bus: it is left there.
        """
        if self.closed:
            return
        self.closed = True
        # Queued runs never start; whoever awaits them (a plain form post) is answered now.
        while self._queue:
            run = self._queue.popleft()
            if not run.done.done():
                run.done.set_result(None)
        for task in (self._run_task, self._runner):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task])
        await self.voice.close()
        if "on_chat_end" in self.registry.callbacks:
            await self._call_guarded(self.registry.callbacks["on_chat_end"])
        await self.mcp.close_all()  # after on_chat_end, which may still use them
        self.flush_tokens()
        if not keep_log:
            self.bus.discard(self.id)

    async def wind_down(self, timeout: float) -> None:
        """Let the callbacks running or waiting their turn finish for up to ``timeout``
        seconds (the server is shutting down), then drop the runs still waiting and stop the
        one running: what it showed stays, as when the user presses Stop."""
        runner = self._runner
        if runner is None or runner.done():
            return
        if timeout > 0:
            await asyncio.wait([runner], timeout=timeout)
        if runner.done():
            return
        while self._queue:
            run = self._queue.popleft()
            if not run.done.done():
                run.done.set_result(None)
        # Bounded: a callback that swallows its cancellation must not hold the shutdown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop(), STOP_WAIT_S)

    @property
    def running(self) -> bool:
        """True while a callback runs or waits its turn."""
        return self._runner is not None and not self._runner.done()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no callback runs or waits its turn (a
        chat handed over as the server shuts down); False if one still does."""
        deadline = self.loop.time() + timeout
        while (runner := self._runner) is not None and not runner.done():
            left = deadline - self.loop.time()
            if left <= 0:
                return False
            await asyncio.wait([runner], timeout=left)
        return True

    def touch(self) -> None:
        """Note activity, which keeps an idle chat from expiring."""
        self.last_active = time.monotonic()

    # -- runs ---------------------------------------------------------------------------

    def run_next(self, hook: str, *args: Any) -> asyncio.Future[None]:
        """Run the app's ``hook`` in the chat's turn, before the runs waiting for theirs
        (after the chat's start, and after the hooks put first already): what it does is
        in place for the next message (``on_mcp_connect``). Resolved at once when the chat
        has ended or the app has no such hook."""
        if self.closed:
            done: asyncio.Future[None] = self.loop.create_future()
            done.set_result(None)
            return done
        return self._enqueue(hook, *args, first=True)

    def run_later(self, hook: str, *args: Any) -> asyncio.Future[None]:
        """Run the app's ``hook`` in the chat's turn, after the runs waiting for theirs
        (``on_audio_end``, once a recording's chunks are handed)."""
        return self._enqueue(hook, *args)

    async def call_in_chat(self, func: Callable[..., Any], *args: Any) -> Any:
        """Call an app's callback now, beside any run, with this chat as the current one
        (``on_audio_start``, ``on_audio_chunk``); returns what it returns, raises what it
        raises."""
        token = _current.set(self)
        try:
            return await invoke(func, *args)
        finally:
            _current.reset(token)

    def report_error(self, hook: str, exc: BaseException) -> None:
        """Show an app's callback's error in the chat (and the server's log)."""
        self._report(hook, exc)

    async def call_hook(self, hook: str, *args: Any) -> None:
        """Run the app's ``hook`` now, beside any run, in the chat's context (the chat is
        ending: ``on_mcp_disconnect``); an error is shown in the chat, if it still shows."""
        func = self.registry.callbacks.get(hook)
        if func is not None:
            await self._call_guarded(functools.partial(func, *args))

    def _enqueue(self, hook: str, *args: Any, first: bool = False) -> asyncio.Future[None]:
        if self.closed:
            raise SessionClosedError("This chat has ended; open a new chat to go on.")
        self.touch()
        done: asyncio.Future[None] = self.loop.create_future()
        if hook not in self.registry.callbacks:
            done.set_result(None)
            return done
        run = _Run(hook, args, done)
        if first:
            at = 0
            while at < len(self._queue) and self._queue[at].hook in _FIRST:
                at += 1
            self._queue.insert(at, run)
        else:
            self._queue.append(run)
        if self._runner is None or self._runner.done():
            # Shown as running from this moment, so a page rendered now offers "Stop".
            self.emit(RunEvent(running=True))
            self._runner = self.loop.create_task(self._drain(), name=f"lightchat-{self.id}")
        return done

    async def _drain(self) -> None:
        _current.set(self)
        try:
            while self._queue:
                if self._queue[0].hook == "on_message" and self.mcp.pending:
                    # Its on_message should see the MCP servers still connecting (and what
                    # their on_mcp_connect keeps), which then run first.
                    await self.mcp.settle()
                run = self._queue.popleft()
                self._run_task = asyncio.create_task(self._run(run.hook, run.args), name=run.hook)
                try:
                    # wait(), not await: a stopped run must not stop the queue.
                    await asyncio.wait([self._run_task])
                finally:
                    if not run.done.done():
                        run.done.set_result(None)
        finally:
            for run in self._queue:
                if not run.done.done():
                    run.done.set_result(None)
            self._run_task = None
            if not self.closed and not self._held:  # held: busy until task_end
                self.emit(RunEvent(running=False))
            self._settle()

    async def _run(self, hook: str, args: tuple[Any, ...]) -> None:
        failed = False
        _current_run.set(RunInfo(new_id(), hook, args))  # this task's own context
        try:
            await invoke(self.registry.callbacks[hook], *args)
        except asyncio.CancelledError:
            failed = True  # stopped by the user; what was shown stays
        except Exception as exc:  # the one boundary where a user callback's error is caught
            failed = True
            self._report(hook, exc)
        finally:
            self._finish_open(failed)
            self.touch()

    async def _call_guarded(self, func: Callable[..., Any]) -> None:
        token = _current.set(self)
        try:
            await invoke(func)
        except Exception as exc:  # a user callback's error is shown, never fatal to the chat
            self._report(getattr(func, "__name__", "callback"), exc)
        finally:
            _current.reset(token)

    def _report(self, hook: str, exc: BaseException) -> None:
        logger.error("Error in %s of chat %s", hook, self.id, exc_info=exc)
        if self.closed:
            return
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        data = MessageData(id=new_id(), author="Error", type="error", content=text)
        if self.settings.debug:
            # What the server log holds, for the developer's eyes (the page decides who).
            data.traceback = _traceback_text(exc)
        self.emit(MessageEvent(data))

    def _finish_open(self, failed: bool) -> None:
        """Close messages left streaming and steps left running by a run that ended."""
        self.flush_tokens()
        now = time.time()
        for item in self.transcript.open_items():
            if isinstance(item, MessageData):
                self._publish(MessageEvent(replace(item, streaming=False)))
            elif isinstance(item, StepData):
                status: StepStatus = "failed" if failed else "done"
                self._publish(StepEvent(replace(item, status=status, ended_at=now)))


TRACEBACK_MAX_CHARS = 64 * 1024
"""The longest traceback a debug-mode error message carries (its end is kept)."""


def _traceback_text(exc: BaseException) -> str:
    """``exc`` with its traceback (and the exceptions it came from), as Python prints it,
    at most ``TRACEBACK_MAX_CHARS`` long: the end, where the error is, is kept."""
    text = "".join(traceback.format_exception(exc))
    if len(text) > TRACEBACK_MAX_CHARS:
        text = "...\n" + text[-TRACEBACK_MAX_CHARS:]
    return text


def _union(shown: list[Any], given: list[Any]) -> list[Any]:
    """``shown`` with the parts of ``given`` replacing those with the same id, and the new
    ones after them."""
    fresh = {part.id: part for part in given}
    merged = [fresh.pop(part.id, part) for part in shown]
    return merged + list(fresh.values())


_HINTED: weakref.WeakSet[Registry] = weakref.WeakSet()


def _hint_no_on_message(registry: Registry) -> None:
    """Say once per app why a user's message gets no answer (it stays in the chat)."""
    if registry not in _HINTED:
        _HINTED.add(registry)
        logger.info(
            "A user sent a message, and the app has no @on_message callback: the message "
            "is kept in the chat and nothing answers it (add @cl.on_message to answer)."
        )


def in_loop_thread(session: ChatSession) -> bool:
    """True when called on the thread that runs the session's event loop."""
    try:
        return asyncio.get_running_loop() is session.loop
    except RuntimeError:
        return False


def dispatch(session: ChatSession, func: Callable[..., Any], *args: Any) -> None:
    """Call ``func`` on the session's loop: now if we are on it, else as soon as it can.

    Sync callbacks run in worker threads; whatever they publish hops to the loop thread
    through this FIFO, so their events keep their order.
    """
    if in_loop_thread(session):
        func(*args)
    else:
        session.loop.call_soon_threadsafe(func, *args)
