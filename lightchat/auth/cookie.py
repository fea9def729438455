"""The cookies' attributes, and Chainlit's cookie helpers (``chainlit.auth.cookie``).

Every cookie the app sets for a browser (its session, ``lightchat.auth.sessions``; its
browser id, ``lightchat.auth.identity``) is HttpOnly, for the app's path, Secure over HTTPS
and ``SameSite=Lax``, except where other sites' pages may frame the app
(``Settings.framed_by_others``: the copilot widget on another site) over HTTPS. There it is
``SameSite=None; Secure; Partitioned``: a Lax cookie is not sent inside a frame on another
site, and a partitioned one (CHIPS) is kept apart for each site that frames the app, so
browsers that block third-party cookies keep it, and no other site's frame ever gets it.
Over plain HTTP it stays Lax (``SameSite=None`` needs ``Secure``), which is enough for a
host page on the same site (another port or subdomain). Writes never rely on SameSite:
they need the form token and a same-origin ``Origin`` (``lightchat.http.middleware``).

Chainlit's helpers, in these terms (the session cookie holds lightchat's signed session,
not a JWT; Chainlit's cookie name and chunks do not apply):

- ``get_token_from_cookies(cookies)``: an access token (``lightchat.auth.tokens``) for the
  user of the session cookie, lasting as long as the session; None without a valid one;
- ``set_auth_cookie(request, response, token)``: signs the user of an access token in, by
  setting the session cookie on ``response``, as every sign-in does;
- ``clear_auth_cookie(request, response)``: signs out: the cookie goes, and this process
  refuses it from then on, as the sign-out does.

They work in the app's own routes (``lightchat.server.app``), for an app served at the root
of its address (``lightchat serve``).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from lightchat.auth.served import access_tokens, served
from lightchat.auth.sessions import SESSION_COOKIE
from lightchat.errors import ConfigError

__all__ = ["clear_auth_cookie", "get_token_from_cookies", "set_auth_cookie"]


def put_cookie(
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str,
    secure: bool,
    cross_site: bool,
) -> None:
    """Set a cookie on ``response`` with the attributes above (``cross_site``: other sites
    may frame the app)."""
    embedded = cross_site and secure
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="none" if embedded else "lax",
        secure=secure,
    )
    if embedded:
        _partitioned(response)


def drop_cookie(
    response: Response, name: str, *, path: str, secure: bool, cross_site: bool
) -> None:
    """Delete a cookie set by ``put_cookie`` (the same attributes: a partitioned cookie is
    only deleted by a partitioned ``Set-Cookie``)."""
    embedded = cross_site and secure
    response.delete_cookie(
        name, path=path, httponly=True, samesite="none" if embedded else "lax", secure=secure
    )
    if embedded:
        _partitioned(response)


def _partitioned(response: Response) -> None:
    """Mark the last cookie set on ``response`` ``Partitioned`` (by hand: Python's cookie
    module knows the attribute only from 3.14 on)."""
    for index in range(len(response.raw_headers) - 1, -1, -1):
        name, value = response.raw_headers[index]
        if name == b"set-cookie":
            response.raw_headers[index] = (name, value + b"; Partitioned")
            return


def cookie_path(request: Request) -> str:
    """The path of the app's cookies: where it is mounted, else ``/``."""
    return str(request.scope.get("root_path", "")).rstrip("/") or "/"


def get_token_from_cookies(cookies: Mapping[str, str]) -> str | None:
    """An access token for the signed-in user of these cookies (a request's), lasting as
    long as their session; None when they hold no valid session."""
    found = served()
    if found.auth is None:
        return None
    session = found.auth.sessions.load_until(cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    user, ends = session
    return found.auth.tokens.create(user, expires_at=ends)


def set_auth_cookie(request: Request, response: Response, token: str) -> None:
    """Sign the user of ``token`` (an access token, ``create_jwt``) in: their session
    cookie goes on ``response``.

    Raises ``InvalidTokenError`` for a token that is not good, and ``ConfigError`` when the
    app does not sign users in.
    """
    found = served()
    auth = found.auth
    if auth is None:
        raise ConfigError(
            "set_auth_cookie signs a user in, but this app has no sign-in: register an "
            "auth callback, or set LIGHTCHAT_CUSTOM_AUTH=true."
        )
    user = access_tokens(found).decode(token)
    put_cookie(
        response,
        SESSION_COOKIE,
        auth.sessions.issue(user),
        max_age=auth.max_age_s,
        path=cookie_path(request),
        secure=request.url.scheme == "https",
        cross_site=found.settings.framed_by_others(),
    )


def clear_auth_cookie(request: Request, response: Response) -> None:
    """Sign the request's user out: their session cookie is deleted by ``response``, and
    this process refuses it from then on (``UserSessions.revoke``)."""
    found = served()
    if found.auth is not None:
        found.auth.sessions.revoke(request.cookies.get(SESSION_COOKIE))
    drop_cookie(
        response,
        SESSION_COOKIE,
        path=cookie_path(request),
        secure=request.url.scheme == "https",
        cross_site=found.settings.framed_by_others(),
    )
