"""The chat sessions one worker owns: made, found, reaped when idle, drained and handed
over when the worker shuts down, and taken over from a dead worker (with several workers,
see ``lightchat.cluster``). One ``ChatSession`` (``lightchat.chat.session``) each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lightchat.bus import Bus
from lightchat.chat.mcp import McpServices
from lightchat.chat.session import HAND_OFF_WAIT_S, ChatSession
from lightchat.config.registry import Registry
from lightchat.config.settings import Settings
from lightchat.domain.events import ActionData, Entry, MessageData, StepData
from lightchat.files import FileStorage

logger = logging.getLogger("lightchat")


class Chats:
    """The chat sessions this worker owns, by id."""

    def __init__(
        self,
        registry: Registry,
        bus: Bus,
        settings: Settings,
        message_factory: Callable[[MessageData], Any] = lambda data: data,
        observer: Callable[[ChatSession, Entry], None] | None = None,
        action_factory: Callable[[ActionData, str], Any] = lambda data, for_id: data,
        files: FileStorage | None = None,
        mcp: McpServices | None = None,
    ) -> None:
        self.registry = registry
        self.mcp = mcp
        """What the chats use to connect MCP servers (None: ``features.mcp`` is off)."""
        self.action_factory = action_factory
        self.files = files
        self.observer = observer
        self.bus = bus
        self.settings = settings
        self.message_factory = message_factory
        self._sessions: dict[str, ChatSession] = {}
        self._losing: set[asyncio.Task[None]] = set()
        self.texts: Callable[[str, str], str] = lambda key, languages: key
        """A UI text by key for an ``Accept-Language`` (``ChatSession.texts``); the app
        gives its translations."""
        self.seen_elsewhere: Callable[[list[str]], Awaitable[set[str]]] | None = None
        """With several workers: which of these chats a page on another worker shows."""
        self.draining = False
        """True once the server is shutting down: no new runs start here (``drain``)."""
        self._drain_started = 0.0
        self._handing_off = 0
        self._handed_off = asyncio.Event()
        self._handed_off.set()

    def __len__(self) -> int:
        return len(self._sessions)

    def _new(self, owner: str, session_id: str | None = None, user: Any = None) -> ChatSession:
        session = ChatSession(
            self.registry,
            self.bus,
            self.settings,
            owner=owner,
            session_id=session_id,
            message_factory=self.message_factory,
            action_factory=self.action_factory,
            observer=self.observer,
            files=self.files,
        )
        session.user = session.data["user"] = user
        session.texts = self.texts
        session.mcp.services = self.mcp
        self._sessions[session.id] = session
        return session

    def create(
        self,
        owner: str,
        profile: str | None = None,
        user: Any = None,
        session_id: str | None = None,
    ) -> ChatSession:
        """A new chat for ``owner`` with a chat ``profile`` (its name, if the app has
        profiles) and the signed-in ``user``; its ``on_chat_start`` begins at once.
        ``session_id``: the chat's id when it is given by another system (a chat platform's
        conversation), else a new one."""
        if session_id is not None:
            self.bus.discard(session_id)
        session = self._new(owner, session_id, user)
        session.fresh = session_id is None  # a given id may have a thread in the store
        session.data["chat_profile"] = profile
        session.start()
        session.mcp.begin()  # the app's MCP servers and the user's, in the background
        return session

    def resume(
        self,
        thread_id: str,
        owner: str,
        items: list[MessageData | StepData],
        thread: dict[str, Any],
        user: Any = None,
    ) -> ChatSession:
        """Reopen a past chat (for the signed-in ``user``, if any): show what it held, then
        run ``on_chat_resume(thread)``.

        Without ``on_chat_resume`` the app cannot rebuild its state, so the chat is
        read-only.

        A message saved still streaming (or a step still running) with no session here to
        finish it was under way when its process died (a crash, ``kill -9``): a run that
        ends, even stopped, saves its messages finished. It ends now, marked interrupted,
        and is saved so (as when a chat is taken over, ``take_over``).
        """
        existing = self._sessions.get(thread_id)
        if existing is not None and not existing.closed:
            return existing
        self.bus.discard(thread_id)
        session = self._new(owner, thread_id, user)
        session.restore(items)
        session.interrupt()
        # The chat goes on with the profile and settings it had (kept in its metadata).
        metadata = thread.get("metadata") or {}
        for key in ("chat_profile", "chat_settings"):
            if key in metadata:
                session.data[key] = metadata[key]
        _restore_env(session, metadata)
        if "on_chat_resume" in self.registry.callbacks:
            session.resume(thread)
            session.mcp.begin()
        else:
            session.read_only = True
        return session

    async def take_over(
        self,
        thread_id: str,
        owner: str,
        entries: list[Entry],
        load_thread: Callable[[], Awaitable[dict[str, Any] | None]],
        user: Any = None,
    ) -> ChatSession:
        """Go on with a chat whose worker died: ``entries`` is its log so far (adopted
        from the bus, whose sequence this session continues, so open pages just go on).

        What was streaming ends marked interrupted and is saved; then the session is
        rebuilt through ``on_chat_resume`` with the thread as ``load_thread`` gives it from
        the database (read-only without ``on_chat_resume`` or a saved thread, as ``resume``).
        ``user_session`` starts anew: it holds what ``on_chat_resume`` puts there, with the
        chat's profile and settings.
        """
        existing = self._sessions.get(thread_id)
        if existing is not None and not existing.closed:
            return existing
        session = self._new(owner, thread_id, user)
        session.adopt(entries)
        thread = await load_thread()
        metadata = (thread or {}).get("metadata") or {}
        for key in ("chat_profile", "chat_settings"):
            if key in metadata:
                session.data[key] = metadata[key]
        _restore_env(session, metadata)
        if session.interrupt():
            thread = await load_thread()  # with the interrupted answer, now saved
        if thread is not None and "on_chat_resume" in self.registry.callbacks:
            session.resume(thread)
            session.mcp.begin()  # connected again here (its last worker closed them)
        else:
            session.read_only = True
        return session

    def open(self, owner: str, user: Any = None) -> ChatSession:
        """A new chat for ``owner`` that no page opened and whose ``on_chat_start`` does not
        run: the app writes to it from outside a callback (``init_http_context``); its
        owner finds it in the history, and it ends when idle like any chat."""
        return self._new(owner, user=user)

    def running(self, session_id: str) -> ChatSession | None:
        """The chat with this id if it runs here, whoever owns it (for the app's own code,
        never for a request)."""
        session = self._sessions.get(session_id)
        return None if session is None or session.closed else session

    def get(self, session_id: str, owner: str) -> ChatSession | None:
        """The chat with this id if ``owner`` may see it, else None (the same for both)."""
        session = self._sessions.get(session_id)
        if session is None or session.closed or session.owner != owner:
            return None
        return session

    async def end(self, session_id: str, owner: str) -> bool:
        """End one of ``owner``'s chats now (its thread is being deleted); False if the
        chat is not running here or is someone else's."""
        session = self.get(session_id, owner)
        if session is None:
            return False
        del self._sessions[session_id]
        await session.close()
        return True

    async def reap(self) -> int:
        """End chats with no open page and no run for longer than the idle timeout."""
        limit = time.monotonic() - self.settings.session_idle_timeout_s
        idle = [
            s
            for s in self._sessions.values()
            if s.connections == 0 and not s.running and s.last_active < limit
        ]
        if idle and self.seen_elsewhere is not None:
            # A page open on another worker (several workers) keeps its chat too.
            kept = await self.seen_elsewhere([s.id for s in idle])
            idle = [s for s in idle if s.id not in kept]
        for session in idle:
            del self._sessions[session.id]
            await session.close()
        return len(idle)

    def begin_draining(self) -> None:
        """Take no new runs from now on: the server is shutting down. The grace period of
        ``drain`` counts from the first call."""
        if not self.draining:
            self.draining = True
            self._drain_started = time.monotonic()

    async def drain(self, grace_s: float) -> None:
        """Let the callbacks running now finish within ``grace_s`` seconds of
        ``begin_draining`` (called now if it was not), then stop those still running.

        Their tokens keep flowing to the bus meanwhile, so open pages (on any worker, with
        a shared bus) see the answers end; what a stopped callback showed is kept.
        """
        self.begin_draining()
        left = self.grace_left(grace_s)
        busy = [session for session in self._sessions.values() if session.running]
        if busy:
            logger.info("Letting %d running chat(s) finish (up to %.0f s)", len(busy), left)
            await asyncio.gather(*(session.wind_down(left) for session in busy))
        # A chat being handed over now is no longer here, but its log and thread are still
        # being written out: what comes next (closing the bus) waits for that.
        try:
            await asyncio.wait_for(self._handed_off.wait(), HAND_OFF_WAIT_S)
        except TimeoutError:
            logger.error("A chat was still being handed over after %.0f s", HAND_OFF_WAIT_S)

    def grace_left(self, grace_s: float) -> float:
        """Seconds left of a grace period of ``grace_s`` that began with
        ``begin_draining`` (all of it before then)."""
        if not self.draining:
            return grace_s
        return self._drain_started + grace_s - time.monotonic()

    async def hand_off(
        self,
        session: ChatSession,
        grace_s: float,
        release: Callable[[str], Awaitable[None]],
    ) -> bool:
        """Give one chat up while the server shuts down, so that another worker goes on
        with it now rather than after the shutdown: wait for its run to end (within what
        is left of ``drain``'s grace period of ``grace_s``), end it here leaving its log
        on the bus, then ``release(session_id)`` writes out what it said and gives up its
        ownership. ``drain`` waits for hand-offs under way.

        False when its run outlasted the grace period (``drain`` stops it), or the
        shutdown ended the chat first (it is handed over with the others then).
        """
        self._handing_off += 1
        self._handed_off.clear()
        try:
            if session.running:
                if not await session.wait_idle(max(self.grace_left(grace_s), 0)):
                    return False
                if self.grace_left(grace_s) <= 0:  # stopped at the end of the grace period
                    return False
            if self._sessions.get(session.id) is not session or session.closed:
                return False
            del self._sessions[session.id]
            await session.close(keep_log=True)
            await release(session.id)
            return True
        finally:
            self._handing_off -= 1
            if not self._handing_off:
                self._handed_off.set()

    def lose(self, session_id: str) -> None:
        """Another worker took this chat over (this one was taken for dead): end it here
        without a word to the history, which the new owner writes now. Its log is
        already refused here (``RedisBus`` fencing)."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        session.detach_history()
        task = asyncio.get_running_loop().create_task(session.close())
        self._losing.add(task)
        task.add_done_callback(self._losing.discard)

    @property
    def session_ids(self) -> list[str]:
        """The ids of the chats running here (to hand over on shutdown)."""
        return list(self._sessions)

    async def close_all(self) -> None:
        """End every chat (server shutdown)."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def _restore_env(session: ChatSession, metadata: dict[str, Any]) -> None:
    """The keys the user gave, back in ``user_session["env"]`` when the thread kept them
    (``Settings.persist_user_env``) and this browser has given none."""
    kept = metadata.get("env")
    if isinstance(kept, dict) and kept and not session.user_env:
        session.data["env"] = {str(k): str(v) for k, v in kept.items()}


_served: list[Chats] = []


def serve(chats: Chats) -> None:
    """Note the chats of the app this process serves (the last one built)."""
    _served[:] = [chats]


def served() -> Chats | None:
    """The chats of the app this process serves, once it is built."""
    return _served[0] if _served else None
