"""Sign-in with OAuth providers over HTTP: ``/auth/oauth/<provider>`` sends the browser to
the provider, ``/auth/oauth/<provider>/callback`` is where the provider sends it back.

Starting: a new ``state``, PKCE verifier and (OpenID Connect) nonce are made
(``lightchat.auth.oauth``) and kept, with the redirect URI and ``next`` (only ever a path inside
the app, ``safe_next``), in a signed cookie (``OAuthFlows``) for ``/auth/oauth`` only:
HttpOnly, SameSite=Lax (so it comes back with the provider's redirect, a top-level GET),
Secure over HTTPS, 10 minutes. Then the browser goes to the provider. The login page links
here ("Continue with <Provider>"): a link, not a form, since the browser must leave for the
provider's site, which a form's ``form-action 'self'`` policy would stop.

Finishing: the cookie is read, and deleted whatever happens. The answer is taken only if
the cookie is there, valid and for this provider, and the ``state`` the provider sent back
is the cookie's. The code is exchanged with the PKCE verifier (the provider checks it); the
provider's user (after its ID token is checked, for OpenID Connect) goes to
``@oauth_callback``, which returns the ``User`` to sign in or None. A user is signed in as
with a password (a new session cookie, saved to the history's data layer) and goes on to
``next``. Anything else shows the login page with one ``role="alert"`` message, the reason
in the log.

The redirect URI to register with a provider is the app's address followed by
``/auth/oauth/<provider>/callback``; the address is ``Settings.url`` (``LIGHTCHAT_URL`` or
Chainlit's ``CHAINLIT_URL``) when set, else the request's own (with the path the app is
mounted under).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lightchat.auth.oauth import OAuthClient, ProviderError
from lightchat.auth.sessions import OAUTH_COOKIE, Auth, OAuthFlows, checked_user
from lightchat.config.registry import invoke
from lightchat.errors import ConfigError
from lightchat.http.endpoints.auth import BROKEN, login_page
from lightchat.http.signin import remember, safe_next, set_session_cookie
from lightchat.http.web import base, public_url, services, signed_in
from lightchat.ui.i18n import say

logger = logging.getLogger("lightchat")

EXPIRED = "This sign-in expired or was started in another browser. Try again."
"""What a callback without its cookie, or with another ``state``, says."""

NOT_ALLOWED = "This account may not sign in to this app."
"""What a sign-in the app's ``@oauth_callback`` refused says."""


def _provider(request: Request) -> tuple[Auth, OAuthFlows, OAuthClient, Callable[..., Any]]:
    """The app's sign-in, its flows, the provider in the URL and ``@oauth_callback``; 404
    if the provider is not one of the app's."""
    auth = services(request).auth
    client = auth.providers.get(request.path_params["provider"]) if auth else None
    if auth is None or auth.flows is None or auth.oauth_callback is None or client is None:
        raise HTTPException(404, "This app does not sign in with that provider.")
    return auth, auth.flows, client, auth.oauth_callback


def redirect_uri(request: Request, slug: str) -> str:
    """Where the provider sends the browser back (see the module docstring)."""
    return public_url(request, f"/auth/oauth/{slug}/callback")


def _cookie_path(request: Request) -> str:
    return f"{base(request)}/auth/oauth"


async def oauth_start(request: Request) -> Response:
    """Send the browser to the provider; a signed-in user goes straight on to ``next``."""
    auth, flows, client, _ = _provider(request)
    prefix = base(request)
    next_url = safe_next(request.query_params.get("next"), prefix)
    if signed_in(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    slug = request.path_params["provider"]
    uri = redirect_uri(request, slug)
    try:
        started = await client.start(uri)
    except ProviderError as exc:
        logger.warning("Could not start signing in with %s: %s", client.provider.label, exc)
        return _refused(request, auth, next_url, exc, client)
    cookie = flows.issue(
        {
            "provider": slug,
            "state": started.state,
            "verifier": started.code_verifier,
            "nonce": started.nonce,
            "redirect_uri": uri,
            "next": next_url,
        }
    )
    response = RedirectResponse(started.url, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        OAUTH_COOKIE,
        cookie,
        max_age=flows.max_age_s,
        path=_cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


async def oauth_finish(request: Request) -> Response:
    """Take the provider's answer: sign the user in, or show why not on the login page."""
    auth, flows, client, callback = _provider(request)
    provider = client.provider
    prefix = base(request)
    slug = request.path_params["provider"]
    params = request.query_params
    flow = flows.load(request.cookies.get(OAUTH_COOKIE))
    next_url = safe_next(flow.get("next") if flow else None, prefix)

    def refuse(status: int, error: str) -> Response:
        page = login_page(request, auth, next_url=next_url, status=status, error=error)
        _forget(page, request)
        return page

    if flow is None and signed_in(request) is not None:
        # The answer again (a reload, the back button) after it signed the user in.
        return RedirectResponse(next_url, status_code=303)
    if flow is None or flow.get("provider") != slug:
        logger.info("A sign-in with %s came back without its cookie (expired?)", provider.label)
        return refuse(400, EXPIRED)
    if not hmac.compare_digest(params.get("state", "").encode(), flow["state"].encode()):
        logger.warning("A sign-in with %s came back with another state", provider.label)
        return refuse(400, EXPIRED)
    if params.get("error"):
        logger.info(
            "%s did not sign the user in: %s %s",
            provider.label,
            params.get("error"),
            params.get("error_description", ""),
        )
        return refuse(401, say("notice.provider_refused", provider=provider.label))
    code = params.get("code")
    if not code:
        logger.warning("A sign-in with %s came back without a code", provider.label)
        return refuse(400, say("notice.oauth_failed", provider=provider.label))
    try:
        identity = await client.finish(
            code,
            redirect_uri=flow["redirect_uri"],
            code_verifier=flow["verifier"],
            nonce=flow["nonce"],
            issuer=params.get("iss"),
        )
    except ProviderError as exc:
        logger.warning("Signing in with %s failed: %s", provider.label, exc)
        page = _refused(request, auth, next_url, exc, client)
        _forget(page, request)
        return page
    if (
        provider.unverified_email(identity.raw_user_data)
        and not services(request).settings.oauth_allow_unverified_email
    ):
        logger.warning(
            "%s signed in %r with an email address it has not verified: refused "
            "(LIGHTCHAT_OAUTH_ALLOW_UNVERIFIED_EMAIL=true allows it)",
            provider.label,
            identity.default_user.identifier,
        )
        return refuse(401, say("notice.email_unverified", provider=provider.label))
    try:
        result = await invoke(
            callback,
            provider.provider_id,
            identity.access_token,
            identity.raw_user_data,
            identity.default_user,
            identity.id_token,
        )
    # The app's callback failed: not the user's doing; the traceback goes to the log.
    except Exception:
        logger.exception("Error in @oauth_callback")
        return refuse(500, BROKEN)
    user = checked_user(result, "oauth_callback")
    if user is None:
        logger.info("@oauth_callback refused %r (%s)", identity.default_user.identifier, slug)
        return refuse(401, NOT_ALLOWED)
    try:
        value = auth.sessions.issue(user)
    except ConfigError as exc:
        logger.error("Could not sign %r in: %s", user.identifier, exc)
        return refuse(500, BROKEN)
    response = RedirectResponse(next_url, status_code=303, headers={"Cache-Control": "no-store"})
    set_session_cookie(response, request, value, auth.max_age_s)
    _forget(response, request)
    remember(request, user)
    return response


def _refused(
    request: Request, auth: Auth, next_url: str, exc: ProviderError, client: OAuthClient
) -> Response:
    label = client.provider.label
    if exc.unreachable:
        error, status = f"{label} could not be reached. Try again later.", 502
    else:
        error, status = say("notice.oauth_failed", provider=label), 401
    return login_page(request, auth, next_url=next_url, status=status, error=error)


def _forget(response: Response, request: Request) -> None:
    """Delete the cookie of the sign-in in progress: a state is used once."""
    response.delete_cookie(
        OAUTH_COOKIE,
        path=_cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
