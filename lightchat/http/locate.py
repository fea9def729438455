"""Finding the chat a request is for: a chat of this worker, one reopened from history, or,
with several workers, one that runs on another worker (streamed from the bus as a
``RemoteChat``) or whose worker died (claimed and taken over here). Anyone else's chat,
like a missing one, is a 404.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from lightchat.chat.session import ChatSession
from lightchat.chat.threads import thread_dict
from lightchat.domain.events import Entry
from lightchat.errors import ClusterUnavailable, HandedOver

if TYPE_CHECKING:  # redis is imported only when the app has a Redis URL
    pass

from lightchat.http.web import (
    DRAINING,
    HAND_OVER,
    NOT_FOUND,
    Services,
    browser,
    services,
    signed_in,
)


async def chat_or_404(request: Request) -> ChatSession:
    """The chat in the URL, reopened from history if it is not running; 404 if not ours."""
    found = services(request)
    owner = browser(request)
    session_id = request.path_params["chat_id"]
    if owner is None:
        raise HTTPException(404, NOT_FOUND)
    session = found.chats.get(session_id, owner)
    if session is None and found.cluster is not None:
        try:
            found_chat = await _clustered_chat(request, session_id, owner, stream=False)
        except ClusterUnavailable:
            raise HTTPException(503, NO_REDIS) from None
        assert isinstance(found_chat, ChatSession)  # not streamed: run here
        return found_chat
    if session is None and found.history is not None:
        session = await _reopen(request, session_id, owner)
    if session is None:
        raise HTTPException(404, NOT_FOUND)
    return session


async def _reopen(request: Request, session_id: str, owner: str) -> ChatSession | None:
    """The chat reopened from history (None if it is not there, or not ``owner``'s)."""
    found = services(request)
    if found.history is None:
        return None
    stored = await found.history.load(session_id, owner)
    if stored is None:
        return None
    items = found.history.items(stored)
    thread = thread_dict(stored)
    return found.chats.resume(session_id, owner, items, thread, signed_in(request))


NO_REDIS = "The chat's servers cannot reach their shared store (Redis). Try again soon."


MOVED = "This chat is busy on another server right now. Try again in a moment."


class RemoteChat:
    """A chat whose callbacks run on another worker, as a stream here sees it: its events
    come from the bus; while the stream is idle, ``check`` keeps the chat marked seen (so
    its owner does not end it) and takes it over when its owner has died."""

    def __init__(self, request: Request, session_id: str, owner: str) -> None:
        self.id = session_id
        self.owner = owner
        self.connections = 0
        self.closed = False
        self._request = request
        self._next_check = 0.0
        self._next_mark = 0.0

    def touch(self) -> None:
        """Activity is the owner's to note (``check`` marks the chat seen)."""

    async def check(self) -> ChatSession | None:
        """Mark the chat seen; the session taken over here if its owner died, else None."""
        found = services(self._request)
        cluster = found.cluster
        assert cluster is not None
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + cluster.ttl_ms / 3000
        try:
            idle_s = found.settings.session_idle_timeout_s
            if now >= self._next_mark:  # a mark lasts the idle timeout: renewed at a quarter
                self._next_mark = now + idle_s / 4
                await cluster.mark_seen(self.id, idle_s)
            owner, alive = await cluster.route(self.id)
            if alive and owner != cluster.wid:
                return None
            if not await cluster.claim(self.id):
                return None
            return await take_over(self._request, self.id, self.owner)
        except ClusterUnavailable:
            return None  # the stream goes on; the next check tries again

    @property
    def interval(self) -> float:
        """How often ``check`` looks (a third of the workers' heartbeat lifetime)."""
        cluster = services(self._request).cluster
        return 1.0 if cluster is None else cluster.ttl_ms / 3000


async def stream_chat(request: Request) -> ChatSession | RemoteChat:
    """The chat in the URL for its stream: the session if it runs here (or is taken over
    or reopened here), else, with several workers, a ``RemoteChat`` streamed from the bus.
    404 as ``chat_or_404``."""
    found = services(request)
    if found.cluster is None:
        return await chat_or_404(request)
    owner = browser(request)
    session_id = request.path_params["chat_id"]
    if owner is None:
        raise HTTPException(404, NOT_FOUND)
    session = found.chats.get(session_id, owner)
    if session is not None:
        return session
    try:
        return await _clustered_chat(request, session_id, owner, stream=True)
    except ClusterUnavailable:
        raise HTTPException(503, NO_REDIS) from None


async def _clustered_chat(
    request: Request, session_id: str, owner: str, *, stream: bool
) -> ChatSession | RemoteChat:
    """The chat with several workers, when it does not run here: authorised by the
    chat's metadata (404 for a chat of someone else, as for one that does not exist),
    then streamed from its live owner (``stream``), or claimed and taken over here."""
    found = services(request)
    cluster = found.cluster
    assert cluster is not None
    meta = await cluster.metadata(session_id)
    if meta is not None and meta.get("owner") != owner:
        raise HTTPException(404, NOT_FOUND)
    if meta is None:
        # Not a chat the cluster knows (new to it, or expired there): from history.
        if found.history is None or not await cluster.claim(session_id):
            raise HTTPException(404, NOT_FOUND)
        session = await _reopen(request, session_id, owner)
        if session is None:
            raise HTTPException(404, NOT_FOUND)
        await registered(request, session)
        return session
    if stream:
        wid, alive = await cluster.route(session_id)
        if alive and wid != cluster.wid:
            return RemoteChat(request, session_id, owner)
    if not await cluster.claim(session_id):
        if stream:
            return RemoteChat(request, session_id, owner)
        raise HTTPException(503, MOVED)  # another worker won it just now: it will be forwarded
    session = await take_over(request, session_id, owner)
    if session is None:
        raise HTTPException(404, NOT_FOUND)
    return session


async def take_over(request: Request, session_id: str, owner: str) -> ChatSession | None:
    """Go on here with a chat this worker just claimed: its log from the bus (what the
    page shows, up to where its last worker stopped) and its thread from the history
    (see ``Chats.take_over``). A chat without a log left is reopened from history."""
    found = services(request)
    entries: list[Entry] = await found.bus.adopt(session_id)
    if not entries:
        return await _reopen(request, session_id, owner)
    history = found.history

    async def load_thread() -> dict[str, Any] | None:
        stored = await history.load(session_id, owner) if history is not None else None
        return None if stored is None else thread_dict(stored)

    user = signed_in(request)
    return await found.chats.take_over(session_id, owner, entries, load_thread, user)


async def registered(request: Request, session: ChatSession) -> None:
    """With several workers: note that a chat made (or reopened) here is owned by this
    worker, and whose it is, so any worker can route and authorise its requests."""
    cluster = services(request).cluster
    if cluster is None:
        return
    try:
        await cluster.register(session.id, owner=session.owner, client_type=session.client_type)
    except ClusterUnavailable:
        raise HTTPException(503, NO_REDIS) from None


async def chat_for_input(request: Request) -> ChatSession:
    """``chat_or_404`` for a post that may start a run (a message, an edit, an action).

    While this worker shuts down (``Chats.draining``) it starts no new runs. With other
    workers, the chat is handed over to one of them, which answers the post
    (``hand_over``); else a 503 with ``Retry-After`` asks the browser to send again. A
    post that answers a question a running callback waits for still goes through: that
    callback is finishing here.
    """
    session = await chat_or_404(request)
    if services(request).chats.draining and not session.asking:
        await hand_over(request, session)
        raise HTTPException(503, DRAINING, headers={"Retry-After": "1"})
    return session


async def hand_over(request: Request, session: ChatSession) -> None:
    """On a worker shutting down: hand the chat over (once its run ended, see
    ``Chats.hand_off``) and raise ``HandedOver`` naming another live worker, to which the
    forwarding middleware sends the request: that worker takes the chat over and answers
    it, so the user need not send again.

    Returns (the caller refuses the post) when it cannot: one worker alone, no other
    live worker that stays, a request whose body was not kept (``HAND_OVER``), a run
    that outlasts the grace period, or a chat the next worker could not rebuild (no
    history, or nothing said in it yet: ``on_chat_resume`` needs a saved thread).
    """
    found = services(request)
    cluster = found.cluster
    if cluster is None or not request.scope.get(HAND_OVER):
        return
    if found.history is None or not session.transcript.items:
        return
    grace_s = found.settings.shutdown_grace_s
    try:
        if await cluster.successor() is None:
            return  # nowhere to go: the chat stays here, for the shutdown to hand over
        if not await found.chats.hand_off(session, grace_s, functools.partial(_let_go, found)):
            return
        successor = await cluster.successor()  # again: the wait may have been long
    except ClusterUnavailable:
        raise HTTPException(503, NO_REDIS) from None
    if successor is not None:
        raise HandedOver(successor)


async def _let_go(found: Services, session_id: str) -> None:
    """A chat ended here to go on elsewhere: what it published and said written out (the
    next worker reads its log from Redis and its thread from the database), then its
    ownership given up, so that worker claims it."""
    await found.bus.flush()
    if found.history is not None:
        await found.history.flush()
    found.bus.release(session_id)
    assert found.cluster is not None
    await found.cluster.release([session_id])
