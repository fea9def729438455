"""Chainlit's ``chainlit.auth.jwt``: access tokens for the app being served.

``create_jwt(user)`` makes the token a host site hands to the chat to sign its user in
(``POST /auth/jwt``, the copilot widget's ``accessToken``); ``decode_jwt(token)`` gives the
user back, or raises ``InvalidTokenError``. What a token holds and how it is checked:
``lightchat.auth.tokens``. Which app's secret and session lifetime: the app this process
serves, else the environment's (``lightchat.auth.served``).
"""

from __future__ import annotations

from lightchat.auth.served import access_tokens, served
from lightchat.domain.user import User
from lightchat.errors import InvalidTokenError

__all__ = ["InvalidTokenError", "create_jwt", "decode_jwt", "get_jwt_secret"]


def get_jwt_secret() -> str | None:
    """The app's auth secret (``LIGHTCHAT_AUTH_SECRET`` or ``CHAINLIT_AUTH_SECRET``); None
    when it has none."""
    return served().settings.auth_secret or None


def create_jwt(data: User) -> str:
    """An access token for the user ``data``: HS256 with the app's auth secret, with
    ``iat`` and an ``exp`` one session lifetime later (``LIGHTCHAT_SESSION_MAX_AGE_S``,
    Chainlit's ``user_session_timeout``).

    Raises ``ConfigError`` when the app has no auth secret, ``TypeError`` when the user's
    metadata is not JSON::

        token = create_jwt(cl.User(identifier="ada@example.com", metadata={"plan": "pro"}))
    """
    return access_tokens().create(data)


def decode_jwt(token: str) -> User:
    """The user an access token names. Raises ``InvalidTokenError``, saying why, for a
    token that is malformed, forged, not HS256 (``none`` included) or expired."""
    return access_tokens().decode(token)
