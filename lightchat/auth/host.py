"""The host's users: a chat mounted in a host app that signs its users in uses them.

A Starlette or FastAPI app that mounts a chat (``lightchat.embed.mount``) usually has its
own sign-in already. With ``LightChat(host_auth=True)`` the chat takes the user the host
found for the request, so the chat needs no login page and no auth callback of its own:

- ``request.user`` (``scope["user"]``), as Starlette's ``AuthenticationMiddleware`` sets it,
  when its ``is_authenticated`` is true: the user's ``identity`` (else ``username``, else
  ``display_name``) names them, ``display_name`` is shown;
- else ``request.state.user``, as a host's own middleware may set it: a ``lightchat.User``
  as it is, or any object with ``identifier``, ``identity``, ``username`` or ``email``.

A function instead of ``True`` (``host_auth=lambda request: cl.User(...)``, plain or
async) maps the host's request to a ``User`` itself; returning None refuses the request.

Secure by default: host auth is off unless the app asks for it, and with it on, a request
the host signed nobody in for is refused (401) before any endpoint runs: there is no
anonymous chat to fall back on. A host that wants its visitors sent to its login page
guards the mount itself. Only the static files and the health and readiness checks stay
open. Chats, history, element files and feedback belong to the host user (``owner_key``),
exactly as with the app's own sign-in; the browser cookie still carries the form token.

The host must be trusted to set these values only for users it has checked: they are read
from the ASGI scope, which only the host's code writes (never a request header).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from starlette.requests import Request

from lightchat.auth.sessions import Auth, checked_user
from lightchat.domain.user import User
from lightchat.errors import ConfigError

logger = logging.getLogger("lightchat")

HostUserFunction: TypeAlias = Callable[[Request], "User | Awaitable[User | None] | None"]
"""Maps a host's request to the signed-in ``User`` (None: nobody is signed in)."""

HostAuth: TypeAlias = "bool | HostUserFunction"
"""``LightChat(host_auth=...)``: False (off), True (the host's user), or a function."""

Reader: TypeAlias = Callable[[Request], Awaitable["User | None"]]


def host_user_reader(host_auth: HostAuth, auth: Auth | None) -> Reader | None:
    """How the app finds the host's user for a request; None when host auth is off.

    Raises ``ConfigError`` when the app also has its own sign-in: one of the two must go.
    """
    if host_auth is False:
        return None
    if auth is not None:
        raise ConfigError(
            "This app signs users in itself (an auth callback) and also takes its host's "
            "users (host_auth); keep one: remove the auth callback, or host_auth."
        )
    if host_auth is True:
        return _scope_user
    if not callable(host_auth):
        raise ConfigError(
            f"host_auth={host_auth!r}: give True, False, or a function of the request "
            "that returns a cl.User (or None)."
        )
    return _calling(host_auth)


def user_from(found: Any) -> User | None:
    """A ``User`` for what a host put on the request (see the module docstring)."""
    if found is None:
        return None
    if isinstance(found, User):
        return found if found.identifier else None
    if getattr(found, "is_authenticated", True) is not True:
        return None
    identifier: str | None = None
    for attribute in ("identifier", "identity", "username", "email"):
        try:
            value = getattr(found, attribute, None)
        except NotImplementedError:  # Starlette's BaseUser.identity, when not given
            continue
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            identifier = str(value)
            break
    shown = getattr(found, "display_name", None)
    display = shown if isinstance(shown, str) and shown else None
    identifier = identifier or display
    if identifier is None:
        return None
    return User(identifier=identifier, display_name=display)


async def _scope_user(request: Request) -> User | None:
    user = user_from(request.scope.get("user"))
    if user is not None:
        return user
    state = request.scope.get("state")
    return user_from(state.get("user")) if isinstance(state, dict) else None


def _calling(function: HostUserFunction) -> Reader:
    async def read(request: Request) -> User | None:
        result = function(request)
        if inspect.isawaitable(result):
            result = await result
        return checked_user(result, "host_auth")

    return read
