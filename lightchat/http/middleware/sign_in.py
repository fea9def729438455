"""``SignInGate``: with sign-in on, only signed-in users get past.

With sign-in on (the app has an auth callback or ``custom_auth``, see
``lightchat.auth.sessions``), the gate lets a request reach the app only with a valid
session cookie, except for the login page, the OAuth sign-in (``/auth/oauth/...``, see
``lightchat.http.endpoints.oauth``), the sign-in with an access token (``/auth/jwt``), the
static files, the health and readiness checks and the sign-out post. Without one:

- with ``@header_auth_callback``, the callback gets the request's headers; the ``User``
  it returns is signed in there and then (the answer carries their new session cookie);
- otherwise the chat's event stream gets a 401, an htmx request a 401 with an
  ``HX-Redirect`` to the login page, and any other request a 303 to
  ``/login?next=<where it was going>`` (``next`` is only ever a path inside the app).
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.auth.sessions import SESSION_COOKIE, USER_SCOPE_KEY, Auth
from lightchat.domain.user import User
from lightchat.errors import ConfigError
from lightchat.http.signin import ask_app, login_url, remember, safe_next, set_session_cookie
from lightchat.http.web import VARY, base, is_htmx, route_path, split_url
from lightchat.ui.i18n import notice

logger = logging.getLogger("lightchat")

# The copilot widget's script loads on host pages before anyone signs in (its panel then
# shows the sign-in page); /auth/jwt signs in with an access token (its page, its post).
_OPEN_PATHS = frozenset(
    {
        "/login",
        "/logout",
        "/auth/jwt",
        "/-/health",
        "/-/ready",
        "/-/copilot.js",
        "/copilot/index.js",
    }
)


_BRAND_PATHS = frozenset({"/-/health", "/-/ready", "/-/theme.css", "/-/theme"})


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
            user = await ask_app(self.auth.header_callback, "header_auth_callback", headers)
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
