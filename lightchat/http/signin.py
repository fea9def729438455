"""What signing in over HTTP needs in several places (the login page, OAuth's answer, the
gate in front of the app): where to go after signing in, the session cookie, and saving
the user who signed in.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from lightchat.auth.cookie import drop_cookie, put_cookie
from lightchat.auth.sessions import SESSION_COOKIE, checked_user
from lightchat.chat.history import History
from lightchat.config.registry import invoke
from lightchat.domain.user import User
from lightchat.http.web import base, services

logger = logging.getLogger("lightchat")


def safe_next(raw: object, prefix: str) -> str:
    """Where to go after signing in: ``raw`` if it is a path inside the app, else its home.

    Anything that could leave the app (``//host``, ``https:``, a backslash, control
    characters) or loop back to a sign-in page gives the home page instead.
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
    if parts.path in (f"{prefix}/login", f"{prefix}/logout", f"{prefix}/auth/jwt"):
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
    app's path only (``SameSite=None; Partitioned`` over HTTPS when other sites may frame
    the app, see ``lightchat.auth.cookie``)."""
    put_cookie(
        response,
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path=base(request) or "/",
        secure=request.url.scheme == "https",
        cross_site=services(request).settings.framed_by_others(),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Delete the browser's session cookie (set by ``set_session_cookie``)."""
    drop_cookie(
        response,
        SESSION_COOKIE,
        path=base(request) or "/",
        secure=request.url.scheme == "https",
        cross_site=services(request).settings.framed_by_others(),
    )


def remember(request: Request, user: User) -> None:
    """Save a user who signed in to the history's data layer, in the background."""
    found = services(request)
    if found.history is None or found.auth is None:
        return
    found.auth.keep(asyncio.create_task(save_user(found.history, user)))


async def save_user(history: History, user: User) -> None:
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


async def ask_app(func: Any, hook: str, *args: Any) -> User | None:
    """Call an auth callback; raises what it raises, after logging it."""
    try:
        result = await invoke(func, *args)
    except Exception:
        logger.exception("Error in @%s", hook)
        raise
    return checked_user(result, hook)
