"""Sign-in over HTTP: the login page, signing out, and the gate in front of everything else.

With sign-in on (the app has an auth callback, see ``lightchat.auth``), ``SignInGate`` lets
a request reach the app only with a valid session cookie, except for the login page, the
OAuth sign-in (``/auth/oauth/...``, see ``lightchat.routes_oauth``), the static files, the
health and readiness checks and the sign-out post. Without one:

- with ``@header_auth_callback``, the callback gets the request's headers; the ``User``
  it returns is signed in there and then (the answer carries their new session cookie);
- otherwise the chat's event stream gets a 401, an htmx request a 401 with an
  ``HX-Redirect`` to the login page, and any other request a 303 to
  ``/login?next=<where it was going>`` (``next`` is only ever a path inside the app).

The login form is a plain form (no JavaScript needed). A refused sign-in shows the form
again with one message that does not say which part was wrong; too many refusals for a
user name or an address get a 429 that says when to try again (``LoginLimiter``). The
form and the sign-out are POSTs, so ``SameOriginWrites`` refuses them from other sites.

When history is on, a signed-in user is saved to the data layer (``get_user`` /
``create_user``, as Chainlit does at sign-in) in the background: the sign-in answer does
not wait for the database.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.auth import (
    MAX_PASSWORD_CHARS,
    MAX_USERNAME_CHARS,
    SESSION_COOKIE,
    USER_SCOPE_KEY,
    Auth,
    checked_user,
    retry_minutes,
)
from lightchat.errors import ConfigError
from lightchat.history import History
from lightchat.i18n import notice, say
from lightchat.registry import invoke
from lightchat.user import User
from lightchat.web import (
    VARY,
    base,
    go_to,
    is_htmx,
    read_form,
    services,
    signed_in,
    split_url,
)

logger = logging.getLogger("lightchat")

REFUSED = "Wrong user name or password."
"""What a refused sign-in says: never which of the two was wrong."""

BROKEN = "Signing in failed on the server. Try again later."

# The copilot widget's script loads on host pages before anyone signs in (its panel then
# shows the sign-in page).
_OPEN_PATHS = frozenset(
    {"/login", "/logout", "/-/health", "/-/ready", "/-/copilot.js", "/copilot/index.js"}
)
_BRAND_PATHS = frozenset({"/-/health", "/-/ready", "/-/theme.css", "/-/theme"})


def _auth(request: Request) -> Auth:
    auth = services(request).auth
    if auth is None:
        raise HTTPException(404, "This app has no sign-in.")
    return auth


def route_path(scope: Scope) -> str:
    """The request's path inside the app (without the prefix it is mounted under)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", "")).rstrip("/")
    if root and path == root:
        return "/"
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


def safe_next(raw: object, prefix: str) -> str:
    """Where to go after signing in: ``raw`` if it is a path inside the app, else its home.

    Anything that could leave the app (``//host``, ``https:``, a backslash, control
    characters) or loop back to the login page gives the home page instead.
    """
    home = f"{prefix}/"
    if not isinstance(raw, str) or not raw.startswith("/") or len(raw) > 2000:
        return home
    if raw.startswith("//") or "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return home
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return home
    if prefix and parts.path != prefix and not parts.path.startswith(prefix + "/"):
        return home
    if parts.path in (f"{prefix}/login", f"{prefix}/logout"):
        return home
    if parts.path.startswith(f"{prefix}/auth/oauth/"):
        return home
    return raw


def login_url(prefix: str, next_url: str) -> str:
    """The login page, sending the user to ``next_url`` afterwards."""
    if next_url == f"{prefix}/":
        return f"{prefix}/login"
    return f"{prefix}/login?{urlencode({'next': next_url})}"


def set_session_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    """Give the browser its session: HttpOnly, SameSite=Lax, Secure over HTTPS, for the
    app's path only."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path=base(request) or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def remember(request: Request, user: User) -> None:
    """Save a user who signed in to the history's data layer, in the background."""
    found = services(request)
    if found.history is None or found.auth is None:
        return
    found.auth.keep(asyncio.create_task(_save_user(found.history, user)))


async def _save_user(history: History, user: User) -> None:
    if not await history.wait_ready():
        return
    store = history.store
    if store is None:
        return
    try:
        stored = await store.get_user(user.identifier)
        if (
            stored is None
            or stored.display_name != user.display_name
            or stored.meta != user.metadata
        ):
            await store.create_user(
                user.identifier, display_name=user.display_name, metadata=user.metadata
            )
    except Exception as exc:  # history is optional: the user is signed in all the same
        logger.error("Could not save user %r to chat history", user.identifier, exc_info=exc)


async def _ask_app(func: Any, hook: str, *args: Any) -> User | None:
    """Call an auth callback; raises what it raises, after logging it."""
    try:
        result = await invoke(func, *args)
    except Exception:
        logger.exception("Error in @%s", hook)
        raise
    return checked_user(result, hook)


# -- the login page -------------------------------------------------------------------------


def login_page(
    request: Request,
    auth: Auth,
    *,
    next_url: str,
    status: int = 200,
    error: str | None = None,
    username: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The login page: the password form (with ``@password_auth_callback``), a "Continue
    with <Provider>" link per OAuth provider, and ``error`` as an alert."""
    prefix = base(request)
    query = "" if next_url == f"{prefix}/" else "?" + urlencode({"next": next_url})
    html = services(request).renderer.page(
        "login.html",
        base=prefix,
        next_url=next_url,
        error=notice(error) if error else error,
        username=username[:MAX_USERNAME_CHARS],
        password_form=auth.password_callback is not None,
        providers=[
            {"label": client.provider.label, "url": f"{prefix}/auth/oauth/{slug}{query}"}
            for slug, client in auth.providers.items()
        ],
        max_username_chars=MAX_USERNAME_CHARS,
        max_password_chars=MAX_PASSWORD_CHARS,
    )
    return HTMLResponse(
        html, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )


def _too_many(minutes: int) -> str:
    """The refusal of a rate-limited sign-in, in the request's language."""
    if minutes == 1:
        return say("notice.too_many_sign_ins_minute")
    return say("notice.too_many_sign_ins", minutes=minutes)


async def login_form(request: Request) -> Response:
    """The login page; a signed-in user goes straight on to ``next``."""
    auth = _auth(request)
    next_url = safe_next(request.query_params.get("next"), base(request))
    if signed_in(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    if auth.password_callback is None and not auth.providers:
        # Header sign-in only: this request's headers did not sign anyone in.
        return login_page(
            request,
            auth,
            next_url=next_url,
            status=401,
            error="You are not signed in. Open this app through your organization's sign-in.",
        )
    return login_page(request, auth, next_url=next_url)


async def login(request: Request) -> Response:
    """Check a user name and password with ``@password_auth_callback``; sign in or refuse."""
    auth = _auth(request)
    form = await read_form(request)
    raw_name, raw_password = form.get("username"), form.get("password")
    next_url = safe_next(form.get("next"), base(request))
    await form.close()
    username = raw_name if isinstance(raw_name, str) else ""
    password = raw_password if isinstance(raw_password, str) else ""
    if auth.password_callback is None:
        raise HTTPException(404, "This app does not sign in with a password.")
    address = request.client.host if request.client else None
    wait = auth.limiter.retry_after(username, address)
    if wait is not None:
        return login_page(
            request,
            auth,
            next_url=next_url,
            status=429,
            error=_too_many(retry_minutes(wait)),
            username=username,
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = None
    if 0 < len(username) <= MAX_USERNAME_CHARS and 0 < len(password) <= MAX_PASSWORD_CHARS:
        try:
            user = await _ask_app(
                auth.password_callback, "password_auth_callback", username, password
            )
        # The app's callback failed (a database down...): not the user's mistake, so it
        # is not counted against them; the traceback is in the log (see _ask_app).
        except Exception:
            return login_page(
                request, auth, next_url=next_url, status=500, error=BROKEN, username=username
            )
    if user is None:
        auth.limiter.failed(username, address)
        return login_page(
            request, auth, next_url=next_url, status=401, error=REFUSED, username=username
        )
    try:
        value = auth.sessions.issue(user)
    except ConfigError as exc:
        logger.error("Could not sign %r in: %s", user.identifier, exc)
        return login_page(
            request, auth, next_url=next_url, status=500, error=BROKEN, username=username
        )
    auth.limiter.succeeded(username)
    response = go_to(request, next_url)
    set_session_cookie(response, request, value, auth.max_age_s)
    remember(request, user)
    return response


async def logout(request: Request) -> Response:
    """Sign out: the session cookie goes, ``@on_logout`` runs, and the login page shows."""
    auth = _auth(request)
    response = go_to(request, f"{base(request)}/login")
    response.delete_cookie(
        SESSION_COOKIE,
        path=base(request) or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    user = signed_in(request)
    if user is None:
        return response
    auth.sessions.revoke(request.cookies.get(SESSION_COOKIE))
    if auth.logout_callback is not None:
        try:
            await invoke(auth.logout_callback, request, response)
        # The user is signed out whatever the app's callback does; its error is logged.
        except Exception:
            logger.exception("Error in @on_logout")
    return response


# -- the gate -------------------------------------------------------------------------------


class SignInGate:
    """Plain ASGI middleware: only signed-in users get past (see the module docstring)."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in _BRAND_PATHS or path.startswith(("/-/static/", "/public/")):
            # The sign-in page shows the app's theme, logo and favicon too.
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        user = self.auth.sessions.load(request.cookies.get(SESSION_COOKIE))
        cookie: tuple[bytes, bytes] | None = None
        if user is None and self.auth.header_callback is not None and path != "/logout":
            found = await self._from_headers(request)
            if found is not None:
                user, cookie = found
        if user is not None:
            scope[USER_SCOPE_KEY] = user
            await self.app(scope, receive, _with_header(send, cookie) if cookie else send)
            return
        if path in _OPEN_PATHS or path.startswith("/auth/oauth/"):
            await self.app(scope, receive, send)
            return
        await _sign_in_first(request, path)(scope, receive, send)

    async def _from_headers(self, request: Request) -> tuple[User, tuple[bytes, bytes]] | None:
        """Ask ``@header_auth_callback``: the user it signs in, with their cookie header."""
        headers = Headers(scope=request.scope)
        try:
            user = await _ask_app(self.auth.header_callback, "header_auth_callback", headers)
            if user is None:
                return None
            value = self.auth.sessions.issue(user)
        except ConfigError as exc:
            logger.error("Could not sign a user in from the headers: %s", exc)
            return None
        # The app's callback failed: logged in _ask_app; the request is not signed in.
        except Exception:
            return None
        carrier = Response()
        set_session_cookie(carrier, request, value, self.auth.max_age_s)
        header = next(h for h in carrier.raw_headers if h[0] == b"set-cookie")
        remember(request, user)
        return user, header


def _with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), header]
        await send(message)

    return send_with_header


def _sign_in_first(request: Request, path: str) -> Response:
    """The answer to a request that needs a signed-in user and has none."""
    prefix = base(request)
    if path.endswith("/events"):
        return PlainTextResponse(
            notice("Sign in to follow this chat."),
            status_code=401,
            headers={"Cache-Control": "no-store"},
        )
    if is_htmx(request):
        # The page the request came from is where to come back to.
        current = split_url(request.headers.get("hx-current-url", ""))
        wanted = None
        if current is not None and current.netloc == request.headers.get("host"):
            wanted = f"{current.path}?{current.query}" if current.query else current.path
        url = login_url(prefix, safe_next(wanted, prefix))
        return Response(status_code=401, headers={**VARY, "HX-Redirect": url})
    if request.method in ("GET", "HEAD"):
        wanted = (
            f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
        )
    else:  # a form posted after the session ended: back to the page it was on
        referer = split_url(request.headers.get("referer", ""))
        same_site = referer is not None and referer.netloc == request.headers.get("host")
        wanted = referer.path if referer is not None and same_site else ""
    return RedirectResponse(
        login_url(prefix, safe_next(wanted, prefix)), status_code=303, headers=VARY
    )
