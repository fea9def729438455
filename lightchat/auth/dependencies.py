"""Chainlit's ``get_current_user`` and ``authenticate_user``: the signed-in user of a
request to the app's own routes, as FastAPI dependencies::

    from fastapi import Depends
    from lightchat.auth import get_current_user
    from lightchat.server import app

    @app.get("/api/me")
    async def me(user: cl.User | None = Depends(get_current_user)):
        return {"identifier": user.identifier if user else None}

The user comes from the chat's session cookie (a browser signed in to the chat), else from
an ``Authorization: Bearer <token>`` header holding an access token
(``lightchat.auth.tokens``, made by ``create_jwt``). ``get_current_user`` gives None when
the app does not sign users in, and otherwise what ``authenticate_user`` gives: the user,
or a 401 (``WWW-Authenticate: Bearer``) when the request carries no valid session nor
token. The user is a ``cl.User`` as the app's auth callback returned it (Chainlit looks
the user up in its data layer here and gives its ``PersistedUser``; with lightchat, the
history saves users when they sign in, and ``get_user`` finds them).

Only Starlette is imported here (FastAPI's ``Request`` is Starlette's, and FastAPI answers
Starlette's ``HTTPException`` as its own), so ``lightchat.auth`` imports without the
``server`` extra.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request

from lightchat.auth.served import access_tokens, served
from lightchat.auth.sessions import SESSION_COOKIE
from lightchat.auth.tokens import bearer_token
from lightchat.domain.user import User
from lightchat.errors import ConfigError, InvalidTokenError

logger = logging.getLogger("lightchat")

TOKEN_MISSING = (
    "No access token came with this request: send one in the Authorization header "
    "(Bearer <token>), or sign in first."
)
TOKEN_EXPIRED = (
    "This access token has expired: reload the page that opened the chat to get a new one."
)
TOKEN_REFUSED = (
    "This access token was refused: it is malformed, or not signed with this app's secret."
)

__all__ = [
    "TOKEN_EXPIRED",
    "TOKEN_MISSING",
    "TOKEN_REFUSED",
    "authenticate_user",
    "get_current_user",
    "refusal",
]


def refusal(error: InvalidTokenError | None) -> str:
    """What a 401 says about a refused token (None: there was none); one of the texts
    above, which the chat's answers translate (``notice.token_*``)."""
    if error is None:
        return TOKEN_MISSING
    return TOKEN_EXPIRED if error.expired else TOKEN_REFUSED


async def authenticate_user(request: Request) -> User:
    """The request's signed-in user (session cookie, else bearer token); a 401 without."""
    found = served()
    if found.auth is not None:
        user = found.auth.sessions.load(request.cookies.get(SESSION_COOKIE))
        if user is not None:
            return user
    token = bearer_token(request.headers.get("authorization"))
    error: InvalidTokenError | None = None
    if token is not None:
        try:
            return access_tokens(found).decode(token)
        except InvalidTokenError as exc:
            logger.info("Refused an access token on %s: %s", request.url.path, exc)
            error = exc
        except ConfigError as exc:  # no secret: no token can be good
            logger.error("Cannot check an access token: %s", exc)
            error = InvalidTokenError(str(exc))
    raise HTTPException(401, refusal(error), headers={"WWW-Authenticate": "Bearer"})


async def get_current_user(request: Request) -> User | None:
    """The request's signed-in user; None when the app does not sign users in, else as
    ``authenticate_user`` (a 401 without one)."""
    if served().auth is None:
        return None
    return await authenticate_user(request)
