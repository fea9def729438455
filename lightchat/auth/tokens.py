"""Access tokens: a signed-in user as a JSON Web Token, made and checked.

A host site signs its own user into the chat with one: its server makes a token for the
user (``create_jwt(cl.User(...))``, ``lightchat.auth.jwt``) and its page hands it to the
chat, through the copilot widget's ``accessToken`` or ``POST /auth/jwt`` with
``Authorization: Bearer <token>`` (``lightchat.http.endpoints.auth``). The chat then gives
that browser its usual session cookie (``lightchat.auth.sessions``): the token is only the
way in.

The token is what Chainlit makes, so a token made by either works with the other when both
have the same secret: HS256 (HMAC-SHA256) with the app's auth secret
(``LIGHTCHAT_AUTH_SECRET``, or Chainlit's ``CHAINLIT_AUTH_SECRET``), holding the claims
``identifier``, ``display_name`` and ``metadata`` of the ``User``, ``iat`` (when it was
made) and ``exp`` (``Settings.session_max_age_s`` later, Chainlit's
``user_session_timeout``). joserfc, the JOSE library authlib is built on, signs and checks
it; nothing here touches the cryptography.

A token is refused (``InvalidTokenError``, saying why) unless its algorithm is HS256 (the
header's ``alg`` is checked before anything else: ``none`` or any other is refused), its
signature is the secret's, ``exp`` is there and not past, ``iat`` (if there) is not in the
future, and ``identifier`` is a non-empty text. A minute of leeway allows for the clocks of
two servers (the host's that made it, the chat's that checks it).

Unlike the session cookie, which only this app's pages see, a token is a bearer
credential: whoever holds it signs in as its user until it expires, and it cannot be
recalled. Make it on the server for the user who is signed in there, hand it to that
user's page only, and never put it in a URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lightchat.domain.user import User
from lightchat.errors import InvalidTokenError

ALGORITHM = "HS256"
"""The one algorithm made and taken (Chainlit's)."""

MAX_TOKEN_CHARS = 8192
"""Longer tokens are refused unread (a user's token is a few hundred characters)."""

CLOCK_LEEWAY_S = 60
"""How far the clocks of the server that made a token and the one checking it may differ."""

if TYPE_CHECKING:
    from joserfc.jwk import OctKey

__all__ = ["ALGORITHM", "AccessTokens", "InvalidTokenError", "bearer_token"]


class AccessTokens:
    """Makes and checks access tokens signed with ``secret`` (see the module docstring).

    ``max_age_s``: how long a token made here lasts. ``clock`` gives the current time in
    seconds (``time.time``); tests move it. The secret must be strong already: the app
    checks it (``lightchat.auth.sessions.check_secret``) before making this.
    """

    def __init__(
        self, secret: str, max_age_s: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self.max_age_s = max_age_s
        self.clock = clock

    @cached_property
    def _key(self) -> OctKey:
        # joserfc (and the cryptography it is built on) is imported with the first token
        # made or checked, not with every app that signs users in.
        from joserfc.jwk import OctKey

        return OctKey.import_key(self._secret)

    def create(self, user: User, *, expires_at: float | None = None) -> str:
        """A token for ``user``, lasting ``max_age_s`` (or until ``expires_at``, a time in
        seconds). Raises ``TypeError`` when the user's metadata is not JSON."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "identifier": user.identifier,
            "display_name": user.display_name,
            "metadata": user.metadata,
            "iat": now,
            "exp": int(expires_at) if expires_at is not None else now + self.max_age_s,
        }
        from joserfc import jwt as jose_jwt

        try:
            return jose_jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])
        except (TypeError, ValueError) as exc:  # a value JSON cannot hold (a set, an object)
            raise TypeError(
                f"User {user.identifier!r} cannot be put in a token ({exc}); give "
                "cl.User(metadata=...) JSON values only: text, numbers, lists, dicts."
            ) from None

    def decode(self, token: str) -> User:
        """The user a token names. Raises ``InvalidTokenError``, saying why, for a token
        that is malformed, forged, signed with another algorithm, or expired."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidTokenError("The access token is empty or too long.")
        from joserfc import jwt as jose_jwt
        from joserfc.errors import ExpiredTokenError, JoseError, UnsupportedAlgorithmError

        try:
            found = jose_jwt.decode(token, self._key, algorithms=[ALGORITHM])
        except UnsupportedAlgorithmError:
            raise InvalidTokenError(
                f"The access token is not signed with {ALGORITHM}, the only algorithm taken."
            ) from None
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidTokenError(f"The access token is malformed or forged ({exc}).") from None
        registry = jose_jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()), leeway=CLOCK_LEEWAY_S, exp={"essential": True}
        )
        try:
            registry.validate(found.claims)
        except ExpiredTokenError:
            raise InvalidTokenError("The access token has expired.", expired=True) from None
        except JoseError as exc:
            raise InvalidTokenError(f"The access token's claims are wrong ({exc}).") from None
        return _user(found.claims)


def _user(claims: dict[str, Any]) -> User:
    """The ``User`` of a token's claims, checked (anyone with the secret made them, but a
    token made by other code may hold anything)."""
    identifier = claims.get("identifier")
    name = claims.get("display_name")
    metadata = claims.get("metadata", {})
    if not isinstance(identifier, str) or not identifier:
        raise InvalidTokenError("The access token names no user (its 'identifier' claim).")
    if name is not None and not isinstance(name, str):
        raise InvalidTokenError("The access token's 'display_name' claim is not text.")
    if not isinstance(metadata, dict):
        raise InvalidTokenError("The access token's 'metadata' claim is not an object.")
    return User(identifier=identifier, display_name=name, metadata=metadata)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case);
    None for no header, another scheme, or no token.

    >>> bearer_token("Bearer abc.def.ghi"), bearer_token("Basic YWRhOnB3"), bearer_token(None)
    ('abc.def.ghi', None, None)
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
