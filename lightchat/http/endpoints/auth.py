"""Sign-in over HTTP: the login page, signing in with an access token, and signing out.
The gate in front of everything else is ``lightchat.http.middleware.sign_in``; what both
use, ``lightchat.http.signin``.

The login form is a plain form (no JavaScript needed). A refused sign-in shows the form
again with one message that does not say which part was wrong; too many refusals for a
user name or an address get a 429 that says when to try again (``LoginLimiter``). The
form and the sign-out are POSTs, so ``SameOriginWrites`` refuses them from other sites.

``POST /auth/jwt`` (Chainlit's) signs in the user of an access token sent as
``Authorization: Bearer <token>`` (``lightchat.auth.tokens``; the app's own site makes it
with ``create_jwt``): the answer sets the same session cookie as any sign-in, or is a 401
saying whether the token was missing, refused or expired. It is a write like the others,
so a login CSRF (another site signing the visitor in as someone else) is refused three
times over: the token is only taken from a header, which a form on another site cannot
set and a script there cannot send without a CORS preflight the app refuses; the
``Origin`` must be the app's own (or one of ``allow_origins``); and the request must carry
the browser's form token, which only the app's own pages hold. So the token is posted by a
page of the app: ``GET /auth/jwt`` is that page for the copilot widget's frame, whose
script (``lightchat.framed.js``) takes the token from the widget (``accessToken``, posted
down to the app's origin only, and taken only from the frame's parent, which
``frame-ancestors`` limits to the sites the app names), posts it, and goes on to the chat.

When history is on, a signed-in user is saved to the data layer (``get_user`` /
``create_user``, as Chainlit does at sign-in) in the background: the sign-in answer does
not wait for the database.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from lightchat.auth.dependencies import refusal
from lightchat.auth.sessions import (
    MAX_PASSWORD_CHARS,
    MAX_USERNAME_CHARS,
    SESSION_COOKIE,
    Auth,
    retry_minutes,
)
from lightchat.auth.tokens import bearer_token
from lightchat.config.registry import invoke
from lightchat.errors import ConfigError, InvalidTokenError
from lightchat.http.signin import (
    ask_app,
    clear_session_cookie,
    remember,
    safe_next,
    set_session_cookie,
)
from lightchat.http.web import base, go_to, read_form, services, signed_in
from lightchat.ui.i18n import notice, say

logger = logging.getLogger("lightchat")

REFUSED = "Wrong user name or password."
"""What a refused sign-in says: never which of the two was wrong."""

BROKEN = "Signing in failed on the server. Try again later."


def _auth(request: Request) -> Auth:
    auth = services(request).auth
    if auth is None:
        raise HTTPException(404, "This app has no sign-in.")
    return auth


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
            user = await ask_app(
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


# -- signing in with an access token ----------------------------------------------------


async def token_page(request: Request) -> Response:
    """The page the copilot widget's frame signs in on (``GET /auth/jwt?next=...``): its
    script asks the widget for its access token, posts it to ``/auth/jwt`` and goes on to
    ``next`` (a path inside the app); a refusal shows as an alert."""
    _auth(request)
    prefix = base(request)
    found = services(request)
    html = found.renderer.page(
        "token_sign_in.html",
        base=prefix,
        next_url=safe_next(request.query_params.get("next"), prefix),
        frame_ancestors=found.settings.frame_sources(),
        copilot=True,  # the page loads lightchat.framed.js, which talks to the widget
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def token_sign_in(request: Request) -> Response:
    """Sign in the user of the access token in ``Authorization: Bearer <token>``
    (Chainlit's ``POST /auth/jwt``): ``{"success": true}`` with the session cookie, or a
    401 whose ``detail`` says why."""
    auth = _auth(request)
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return _token_refused(None)
    try:
        user = auth.tokens.decode(token)
    except InvalidTokenError as exc:
        logger.info("Refused an access token at /auth/jwt: %s", exc)
        return _token_refused(exc)
    try:
        value = auth.sessions.issue(user)
    except ConfigError as exc:
        logger.error("Could not sign %r in: %s", user.identifier, exc)
        return JSONResponse({"detail": notice(BROKEN)}, status_code=500, headers=_NO_STORE)
    response = JSONResponse({"success": True}, headers=_NO_STORE)
    set_session_cookie(response, request, value, auth.max_age_s)
    remember(request, user)
    return response


_NO_STORE = {"Cache-Control": "no-store"}


def _token_refused(error: InvalidTokenError | None) -> Response:
    """The 401 of a missing or refused access token, saying which in the request's
    language."""
    return JSONResponse(
        {"detail": notice(refusal(error))},
        status_code=401,
        headers={**_NO_STORE, "WWW-Authenticate": "Bearer"},
    )


async def logout(request: Request) -> Response:
    """Sign out: the session cookie goes, ``@on_logout`` runs, and the login page shows."""
    auth = _auth(request)
    response = go_to(request, f"{base(request)}/login")
    clear_session_cookie(response, request)
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
