"""What every endpoint uses: the app's services, who is asking, the chat in the URL, and
honest answers to HTMX and to plain forms.

Every chat URL checks that the chat belongs to the one asking: the signed-in user when the
app has sign-in, else the browser. A chat that does not exist and a chat of someone else get
the same 404, so ids cannot be probed.

HTMX requests (``HX-Request``) get fragments, 204 or an ``HX-Redirect``; plain form posts
(no JavaScript) get a 303 to the page to show next. Every answer that differs between the
two says so with ``Vary: HX-Request``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from lightchat.auth.identity import COOKIE, BrowserIdentity
from lightchat.auth.sessions import USER_SCOPE_KEY, Auth, owner_key
from lightchat.bus import Bus
from lightchat.chat.chats import Chats
from lightchat.chat.history import History
from lightchat.chat.session import ChatSession
from lightchat.chat.threads import thread_dict
from lightchat.config.settings import Settings
from lightchat.domain.events import Entry, JSONRefused, checked_json
from lightchat.domain.user import User
from lightchat.errors import ClusterUnavailable, HandedOver
from lightchat.ui.render import Renderer, hx_partial

if TYPE_CHECKING:  # redis is imported only when the app has a Redis URL
    from lightchat.cluster import Cluster

VARY = {"Vary": "HX-Request"}
"""The header of every answer that differs for HTMX requests."""

NOT_FOUND = "This chat does not exist, or it has ended."

DRAINING = "This server is shutting down; send again in a moment."
"""The 503 of a post that would start a run on a worker that is shutting down (and
cannot hand the chat over to another one)."""

HAND_OVER = "lightchat.hand_over"
"""The ASGI scope key that ``lightchat.http.middleware.forwarding`` sets on a request whose
body it kept: a worker shutting down may then hand the request's chat over and send the
request on."""

BROWSER_SCOPE_KEY = "lightchat.browser"
"""Where the request's browser id is kept in the ASGI scope
(``lightchat.http.middleware.csrf`` puts it there, from the browser's cookie or a new one)."""


@dataclass(slots=True)
class Services:
    """What the endpoints work with; the app puts one on ``app.state.services``."""

    settings: Settings
    chats: Chats
    bus: Bus
    renderer: Renderer
    identity: BrowserIdentity
    history: History | None
    user_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """The keys each browser gave (``Settings.user_env``), in memory only."""
    auth: Auth | None = None
    """The app's sign-in; None when it has no auth callback (the app is open)."""
    host_auth: bool = False
    """The host app the chat is mounted in signs users in (``lightchat.auth.host``)."""
    cluster: Cluster | None = None
    """The workers sharing this app's Redis (``lightchat.cluster``); None for one worker."""


def route_path(scope: Scope) -> str:
    """The request's path inside the app (without the prefix it is mounted under)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", "")).rstrip("/")
    if root and path == root:
        return "/"
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def services(request: Request) -> Services:
    """The app's services."""
    found: Services = request.app.state.services
    return found


def base(request: Request) -> str:
    """The URL prefix the app is mounted under ("" at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def chat_url(request: Request, chat_id: str) -> str:
    """The URL of a chat's page (the id is quoted: it may come from a query string)."""
    return f"{base(request)}/chat/{quote(chat_id, safe='')}"


def split_url(url: str) -> SplitResult | None:
    """An address a browser sent (``Referer``, ``HX-Current-URL``, a form's ``next``), split
    as ``urlsplit`` does; None when it cannot be read (``http://[``: a host in brackets that
    does not close). Anyone can send anything there."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def is_htmx(request: Request) -> bool:
    """True for a request made by htmx."""
    return request.headers.get("hx-request") == "true"


def signed_in(request: Request) -> User | None:
    """The signed-in user making the request (None without sign-in, or not signed in)."""
    user = request.scope.get(USER_SCOPE_KEY)
    return user if isinstance(user, User) else None


def browser(request: Request) -> str | None:
    """The key of who is asking, which owns their chats, or None.

    With sign-in on (the app's own or its host's), the signed-in user's key
    (``lightchat.auth.sessions.owner_key``); without it, the browser id in the signed browser cookie
    (or the one a page request was just given).
    """
    found = services(request)
    if found.auth is not None or found.host_auth:
        user = signed_in(request)
        return None if user is None else owner_key(user)
    given = request.scope.get(BROWSER_SCOPE_KEY)
    if isinstance(given, str):
        return given
    return found.identity.load(request.cookies.get(COOKIE))


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


def problem(request: Request, status: int, detail: str) -> Response:
    """A 4xx answer: a notice in the composer for HTMX, a page for a plain form.

    A fixed English notice (one of the ``notice.*`` texts) is sent in the request's
    language; any other ``detail`` (an app's own words) as it is.
    """
    renderer = services(request).renderer
    detail = renderer.translations.notice(detail)
    if is_htmx(request):
        body = hx_partial("lc-notice", "innerHTML", f'<p role="alert">{escape(detail)}</p>')
        return HTMLResponse(body, status_code=status, headers=VARY)
    html = renderer.page(
        "error.html",
        title=renderer.translations.t("error.title"),
        detail=detail,
        base=base(request),
    )
    return HTMLResponse(html, status_code=status, headers=VARY)


def escape(text: str) -> str:
    """Text for an HTML text node."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def go_to(request: Request, url: str) -> Response:
    """Send the browser to ``url``: ``HX-Redirect`` for HTMX, a 303 for a plain form."""
    if is_htmx(request):
        return Response(status_code=204, headers={**VARY, "HX-Redirect": url})
    return RedirectResponse(url, status_code=303, headers=VARY)


def after_post(request: Request, session: ChatSession) -> Response:
    """The answer to a chat's own form: 204 for HTMX (the stream shows the rest), else
    a 303 back to the chat."""
    if is_htmx(request):
        return Response(status_code=204, headers=VARY)
    return RedirectResponse(chat_url(request, session.id), status_code=303, headers=VARY)


async def read_form(request: Request) -> FormData:
    """The posted form; a malformed body is a 400."""
    try:
        return await request.form()
    # Malformed bodies: Starlette answers multipart errors with an HTTPException, and
    # python-multipart's own errors are ValueErrors. Anything else (a body over the size
    # limit, a disconnect) must reach the middleware that answers it, so it is not caught.
    except (HTTPException, ValueError) as exc:
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        raise HTTPException(400, f"The form could not be read: {detail}") from None


@dataclass(frozen=True, slots=True)
class JSONField:
    """A form field that carries JSON from the browser, and the notices that refuse it."""

    name: str
    not_json: str
    """The 400 of a value that is not JSON, or nests too deep (see ``checked_json``)."""
    too_large: str
    """The 413 of a value over ``WINDOW_MESSAGE_MAX_BYTES``."""
    missing: str = ""
    """The 400 of a form without the field, or with it empty (a required field's)."""
    default: str | None = None
    """The JSON of a field left out or empty (None: the field is required)."""


def json_field(form: FormData, spec: JSONField) -> Any:
    """The value of a form field that carries JSON, checked by ``checked_json`` (the one
    check of JSON from a browser); an ``HTTPException`` with the field's notice if not."""
    raw = form.get(spec.name)
    if (raw is None or raw == "") and spec.default is not None:
        raw = spec.default
    if not isinstance(raw, str) or not raw:
        raise HTTPException(400, spec.missing)
    try:
        return checked_json(raw)
    except JSONRefused as exc:
        if exc.too_large:
            raise HTTPException(413, spec.too_large) from None
        raise HTTPException(400, spec.not_json) from None


async def settle_without_js(request: Request, session: ChatSession) -> None:
    """For a plain form post (no JavaScript, so nothing streams): wait until the chat has
    settled (nothing runs, or a question waits) so the page it is sent to shows the answer.
    htmx requests return at once."""
    if is_htmx(request):
        return
    with contextlib.suppress(TimeoutError):
        wait = services(request).settings.form_wait_s
        await asyncio.wait_for(asyncio.shield(session.settled()), wait)
