"""Sign-in: the signed session of a signed-in user, and the limit on failed sign-ins.

Sign-in is on as soon as the app registers an auth callback (``@password_auth_callback``,
``@header_auth_callback`` or ``@oauth_callback``), or sets ``Settings.custom_auth``
(Chainlit's ``CHAINLIT_CUSTOM_AUTH``: users then come with an access token made by the app's
own site, ``lightchat.auth.tokens``); without either the app is open, and history belongs
to each browser (``lightchat.auth.identity``). With it, every chat, element and piece of
feedback belongs to the user's key, ``owner_key(user)``.

Where the user is kept: in the session cookie itself, signed with ``LIGHTCHAT_AUTH_SECRET``
(itsdangerous, HMAC-SHA256), not in a server-side table. Every page, stream and post needs
the user, and a signed cookie gives it without a store lookup on that path; any worker or
host checks it alone, so several workers serve one app without sticky sessions, and
sessions survive a restart; there is no table of sessions to clean up. Chainlit does the
same with a signed token. What it costs:

- the cookie is signed, not encrypted: a user can read their own identifier, display name
  and metadata (never put secrets in ``User.metadata``), but cannot change a byte of it;
- it travels with every request, so it must stay small: a user whose cookie would pass
  ``MAX_COOKIE_CHARS`` is refused sign-in with a ``ConfigError`` in the log;
- it cannot be recalled from the server before it expires. Signing out deletes it from the
  browser, and this process refuses that cookie from then on (``UserSessions.revoke``);
  another worker would still take a copy made before, until it expires.

Expiry is checked here, on the server, from the time of sign-in signed inside the cookie
(``Settings.session_max_age_s``); the cookie's own ``Max-Age`` only asks the browser to drop
it. Every sign-in makes a new value (a random nonce is signed with it), so a cookie planted
or seen before the sign-in is never the signed-in session.

``LoginLimiter`` counts failed password sign-ins in memory, per user name and per client
address, and refuses more attempts for a while once there are too many.

``OAuthFlows`` signs the short-lived cookie that holds an OAuth sign-in while the user is
at the provider (``lightchat.auth.oauth`` talks to the providers).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer

from lightchat.auth.oauth import OAuthClient, configured_providers
from lightchat.auth.tokens import AccessTokens
from lightchat.config.settings import Settings
from lightchat.domain.user import User
from lightchat.errors import ConfigError

logger = logging.getLogger("lightchat")

SESSION_COOKIE = "lightchat_session"
"""The cookie holding the signed-in user's session."""

USER_SCOPE_KEY = "lightchat.domain.user"
"""Where a request's signed-in ``User`` is kept in the ASGI scope."""

AUTH_HOOKS = ("password_auth_callback", "header_auth_callback", "oauth_callback")
"""The callbacks that turn sign-in on."""

MIN_SECRET_CHARS = 32
"""The shortest ``LIGHTCHAT_AUTH_SECRET`` accepted."""

MAX_COOKIE_CHARS = 3800
"""The largest session cookie made (browsers drop cookies past about 4 KB)."""

MAX_USERNAME_CHARS = 256
"""Longer user names are refused without asking the app."""

MAX_PASSWORD_CHARS = 1024
"""Longer passwords are refused without asking the app (a slow hash costs per byte)."""

OAUTH_COOKIE = "lightchat_oauth"
"""The cookie holding an OAuth sign-in while the user is at the provider."""

OAUTH_FLOW_MAX_AGE_S = 10 * 60
"""How long the user may take at the provider before the sign-in must start again."""

_CLOCK_SKEW_S = 60


def owner_key(user: User) -> str:
    """The key that owns a signed-in user's chats.

    Browser keys (``lightchat.auth.identity``) hold no ``:``, so the two never meet.
    """
    return f"user:{user.identifier}"


def identifier_of(owner: str) -> str | None:
    """The identifier of the signed-in user whose chats ``owner`` keys (see ``owner_key``),
    or None for a browser's key.

    >>> identifier_of("user:ada@example.com"), identifier_of("3f2a9c")
    ('ada@example.com', None)
    """
    return owner.removeprefix("user:") if owner.startswith("user:") else None


def new_secret() -> str:
    """A strong random secret for ``LIGHTCHAT_AUTH_SECRET`` (64 URL-safe characters)."""
    return secrets.token_urlsafe(48)


def check_secret(secret: str, hook: str) -> None:
    """Raise ``ConfigError``, naming the fix, unless ``secret`` can sign sessions.

    ``hook`` names what needs it: an auth callback, or a setting (``LIGHTCHAT_...``)."""
    if not secret:
        why = hook if hook.startswith("LIGHTCHAT_") else f"@{hook}"
        raise ConfigError(
            f"This app signs users in ({why}), so it needs a secret to sign their "
            "sessions. Run `lightchat create-secret` and set LIGHTCHAT_AUTH_SECRET to the "
            "value it prints (or pass Settings(auth_secret=...))."
        )
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"LIGHTCHAT_AUTH_SECRET is {len(secret)} characters long; it needs at least "
            f"{MIN_SECRET_CHARS} random ones. Run `lightchat create-secret` to make one."
        )


def check_public_url(url: str) -> None:
    """Raise ``ConfigError`` unless ``url`` is empty or an absolute http(s) address."""
    if not url.strip():
        return
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"LIGHTCHAT_URL={url!r} is not the app's public address; write it in full, "
            "e.g. LIGHTCHAT_URL=https://chat.example.com (with its path if the app is "
            "served under one)."
        )


def checked_user(result: Any, hook: str) -> User | None:
    """What an auth callback returned, if it is a usable ``User`` (None refuses sign-in).

    Anything else is the app's mistake: it is logged, naming the fix, and refuses too.
    """
    if result is None:
        return None
    if isinstance(result, User) and isinstance(result.identifier, str) and result.identifier:
        return result
    logger.error(
        "@%s returned %r; return cl.User(identifier=...) to sign the user in, or None to "
        "refuse. The sign-in was refused.",
        hook,
        result,
    )
    return None


class UserSessions:
    """Makes and checks the session cookie's value (see the module docstring).

    ``clock`` gives the current time in seconds (``time.time``); tests move it forward.
    """

    def __init__(
        self, secret: str, max_age_s: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._serializer = URLSafeSerializer(
            secret,
            salt="lightchat.domain.user-session",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self.max_age_s = max_age_s
        self.clock = clock
        self._revoked: dict[str, float] = {}  # nonce -> when its cookie expires anyway

    def issue(self, user: User) -> str:
        """A new cookie value for ``user``.

        Raises ``ConfigError`` when the user cannot be kept in a cookie (metadata that is
        not JSON, or too large).
        """
        payload = {
            "i": user.identifier,
            "d": user.display_name,
            "m": user.metadata,
            "t": int(self.clock()),
            "n": secrets.token_urlsafe(12),
        }
        try:
            value = self._serializer.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"User {user.identifier!r} cannot be kept in the session cookie ({exc}); "
                "give cl.User(metadata=...) JSON values only: text, numbers, lists, dicts."
            ) from None
        if len(value) > MAX_COOKIE_CHARS:
            raise ConfigError(
                f"User {user.identifier!r} makes a session cookie of {len(value):,} "
                f"characters, over the {MAX_COOKIE_CHARS:,} browsers keep; keep "
                "cl.User(metadata=...) small (ids, roles), and look the rest up by identifier."
            )
        return value

    def load(self, cookie: str | None) -> User | None:
        """The user of a cookie value; None if it is missing, forged, expired or revoked."""
        found = self.load_until(cookie)
        return None if found is None else found[0]

    def load_until(self, cookie: str | None) -> tuple[User, int] | None:
        """The user of a cookie value and when their session ends (a time in seconds);
        None if it is missing, forged, expired or revoked."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            payload = self._serializer.loads(cookie)
        except BadData:
            return None
        if not isinstance(payload, dict):
            return None
        identifier, name, metadata = payload.get("i"), payload.get("d"), payload.get("m")
        issued, nonce = payload.get("t"), payload.get("n")
        if not (
            isinstance(identifier, str)
            and identifier
            and (name is None or isinstance(name, str))
            and isinstance(metadata, dict)
            and isinstance(issued, int)
            and isinstance(nonce, str)
        ):
            return None
        now = self.clock()
        if issued > now + _CLOCK_SKEW_S or now - issued > self.max_age_s:
            return None
        if nonce in self._revoked:
            return None
        user = User(identifier=identifier, display_name=name, metadata=metadata)
        return user, issued + self.max_age_s

    def revoke(self, cookie: str | None) -> None:
        """Refuse this cookie value from now on, in this process (it was signed out)."""
        if cookie is None or self.load(cookie) is None:
            return
        payload = self._serializer.loads(cookie)
        now = self.clock()
        self._revoked = {n: end for n, end in self._revoked.items() if end > now}
        self._revoked[payload["n"]] = payload["t"] + self.max_age_s + _CLOCK_SKEW_S


@dataclass
class LoginLimiter:
    """Failed sign-ins, counted in memory per user name and per client address.

    After ``per_name`` failures for one user name, or ``per_address`` from one address,
    within ``window_s`` seconds, further attempts are refused until the oldest of them
    leaves the window. The address limit is higher: many people may share one address.
    A successful sign-in clears its user name's count.
    """

    per_name: int = 5
    per_address: int = 20
    window_s: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    """Past this many counted names and addresses, the oldest counts are forgotten."""
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _keys(self, name: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"name:{name.strip().casefold()[:MAX_USERNAME_CHARS]}", self.per_name)]
        if address:
            keys.append((f"address:{address}", self.per_address))
        return keys

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, name: str, address: str | None) -> float | None:
        """Seconds until this user name and address may try again; None if they may now."""
        now = self.clock()
        wait = 0.0
        for key, limit in self._keys(name, address):
            times = self._recent(key, now)
            if len(times) >= limit:
                wait = max(wait, times[len(times) - limit] + self.window_s - now)
        return wait if wait > 0 else None

    def failed(self, name: str, address: str | None) -> None:
        """Count a failed sign-in."""
        now = self.clock()
        for key, _ in self._keys(name, address):
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
        if len(self._failures) > self.max_keys:
            self._forget(now)

    def succeeded(self, name: str) -> None:
        """Clear the count of a user name that signed in."""
        self._failures.pop(self._keys(name, None)[0][0], None)

    def _forget(self, now: float) -> None:
        self._failures = {
            key: times
            for key, times in self._failures.items()
            if times and times[-1] > now - self.window_s
        }
        excess = len(self._failures) - self.max_keys // 2
        if excess > 0:  # still too many: the oldest counted go first (insertion order)
            for key in list(self._failures)[:excess]:
                del self._failures[key]


class OAuthFlows:
    """Makes and checks the value of the cookie that holds an OAuth sign-in in progress.

    The value holds what the provider's answer is checked against and what finishing the
    sign-in needs: the provider, the ``state``, the PKCE ``code_verifier``, the OpenID
    Connect ``nonce``, the redirect URI and where to go afterwards. Signed with the auth
    secret, it binds the sign-in to the browser that started it: an answer is taken only
    with the same ``state`` from this cookie, within ``max_age_s`` of the start. Like the
    session, it is signed, not encrypted: the one person who can read the verifier is the
    one signing in (the cookie is HttpOnly, so page scripts cannot).
    """

    def __init__(
        self,
        secret: str,
        max_age_s: int = OAUTH_FLOW_MAX_AGE_S,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = URLSafeSerializer(
            secret,
            salt="lightchat.auth.oauth-flow",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self.max_age_s = max_age_s
        self.clock = clock

    def issue(self, flow: Mapping[str, str]) -> str:
        """A cookie value holding ``flow`` (text values), stamped with the time."""
        return self._serializer.dumps({"flow": dict(flow), "t": int(self.clock())})

    def load(self, cookie: str | None) -> dict[str, str] | None:
        """The flow of a cookie value; None if it is missing, forged or expired."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            payload = self._serializer.loads(cookie)
        except BadData:
            return None
        if not isinstance(payload, dict):
            return None
        flow, issued = payload.get("flow"), payload.get("t")
        if not isinstance(flow, dict) or not isinstance(issued, int):
            return None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in flow.items()):
            return None
        now = self.clock()
        if issued > now + _CLOCK_SKEW_S or now - issued > self.max_age_s:
            return None
        return flow


def retry_minutes(seconds: float) -> int:
    """When to try again, in whole minutes (at least 1)."""
    return max(1, math.ceil(seconds / 60))


@dataclass
class Auth:
    """An app's sign-in: its callbacks, its sessions, its access tokens and its limiter."""

    sessions: UserSessions
    tokens: AccessTokens
    """Checks the access tokens of ``/auth/jwt`` (``lightchat.auth.tokens``)."""
    password_callback: Callable[..., Any] | None = None
    header_callback: Callable[..., Any] | None = None
    logout_callback: Callable[..., Any] | None = None
    oauth_callback: Callable[..., Any] | None = None
    providers: dict[str, OAuthClient] = field(default_factory=dict)
    """The OAuth providers that are on, by their path segment (``lightchat.auth.oauth``)."""
    flows: OAuthFlows | None = None
    """Signs the cookie of OAuth sign-ins in progress."""
    public_url: str = ""
    """The app's public address (``Settings.url``): OAuth redirect URIs start with it."""
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    """Work started by sign-ins (saving the user), kept here until it is done."""

    @property
    def max_age_s(self) -> int:
        """How long a session lasts, in seconds."""
        return self.sessions.max_age_s

    @classmethod
    def for_app(
        cls,
        callbacks: Mapping[str, Callable[..., Any]],
        settings: Settings,
        environ: Mapping[str, str] | None = None,
    ) -> Auth | None:
        """The sign-in of an app with these callbacks; None when it has no auth callback
        and no ``Settings.custom_auth``.

        With ``@oauth_callback``, the providers come from the ``OAUTH_*`` variables of
        ``environ`` (``os.environ`` by default). Raises ``ConfigError`` when sign-in is on
        but ``Settings.auth_secret`` is not set, or ``@oauth_callback`` has no provider.
        """
        hooks = [hook for hook in AUTH_HOOKS if hook in callbacks]
        if settings.custom_auth:
            hooks.append("LIGHTCHAT_CUSTOM_AUTH")
        if not hooks:
            return None
        check_secret(settings.auth_secret, hooks[0])
        providers: dict[str, OAuthClient] = {}
        if "oauth_callback" in callbacks:
            found = configured_providers(environ)
            if not found:
                raise ConfigError(
                    "@oauth_callback signs users in with an OAuth provider, but none is "
                    "configured: set its variables, e.g. OAUTH_GITHUB_CLIENT_ID and "
                    "OAUTH_GITHUB_CLIENT_SECRET (see the README, Sign-in)."
                )
            providers = {provider.slug: OAuthClient(provider) for provider in found}
            check_public_url(settings.url)
        return cls(
            sessions=UserSessions(settings.auth_secret, settings.session_max_age_s),
            tokens=AccessTokens(settings.auth_secret, settings.session_max_age_s),
            password_callback=callbacks.get("password_auth_callback"),
            header_callback=callbacks.get("header_auth_callback"),
            logout_callback=callbacks.get("on_logout"),
            oauth_callback=callbacks.get("oauth_callback"),
            providers=providers,
            flows=OAuthFlows(settings.auth_secret),
            public_url=settings.url.strip().rstrip("/"),
        )

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold on to background work until it is done."""
        self.background.add(task)
        task.add_done_callback(self.background.discard)
