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
import logging
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
from lightchat.config.settings import Settings
from lightchat.domain.events import JSONRefused, checked_json
from lightchat.domain.user import User
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer, hx_partial

if TYPE_CHECKING:  # redis is imported only when the app has a Redis URL
    from lightchat.cluster import Cluster

logger = logging.getLogger("lightchat")

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


def chat_renderer(request: Request, session: object) -> Renderer:
    """The renderer of a chat's page and stream: the app's, or, for a chat whose profile
    changes settings (``config_overrides``), one with the chat's own settings.

    A chat followed from another worker (``RemoteChat``) has no settings here: the app's
    are used. Brand files an override names wrongly (a missing stylesheet) are logged,
    and the app's look is used instead.
    """
    found = services(request)
    settings = getattr(session, "settings", None)
    if not isinstance(settings, Settings) or settings is found.settings:
        return found.renderer
    try:
        return found.renderer.variant(settings)
    except ConfigError as exc:
        logger.error("A chat profile's config_overrides cannot be shown: %s", exc)
        return found.renderer


def base(request: Request) -> str:
    """The URL prefix the app is mounted under ("" at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def chat_url(request: Request, chat_id: str) -> str:
    """The URL of a chat's page (the id is quoted: it may come from a query string)."""
    return f"{base(request)}/chat/{quote(chat_id, safe='')}"


def public_url(request: Request, path: str) -> str:
    """The full address of ``path`` (a path inside the app, e.g. ``/share/<id>``), as
    people reach it: under the app's public address (``Settings.url``) when it has one,
    else the request's own. An address with a path names the app's place itself; a bare
    origin (as Chainlit's ``CHAINLIT_URL`` is) is followed by the path the app is mounted
    under."""
    public = services(request).settings.url.strip().rstrip("/")
    if public:
        bare = urlsplit(public).path in ("", "/")
        return f"{public}{base(request) if bare else ''}{path}"
    return f"{str(request.base_url).rstrip('/')}{path}"


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
