"""The sign-in of the app this process serves, for Chainlit's functions that name no app.

Chainlit's ``create_jwt``, ``get_current_user``, ``require_login``... take no app: a
Chainlit process serves one, configured by its environment. lightchat's are the same
functions (``lightchat.auth``), so they need to find the app too: ``LightChat.build`` hands
this module the settings and the sign-in of the app it builds (``serve``), and the
functions use the last one built, which is the app a ``lightchat serve`` process (or each
of its workers) serves.

Before any app is built (code run while the app file is imported, or a server of the host
site that only makes tokens and imports lightchat for that), they use the settings the
environment gives: the ``LIGHTCHAT_*`` and ``CHAINLIT_*`` variables and the
``lightchat.toml`` of the app's folder, read at each call, as Chainlit reads its
environment at each call. Sign-in is then on only with ``custom_auth``: the callbacks are
the app's, and there is no app yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lightchat.auth.sessions import MIN_SECRET_CHARS, Auth
from lightchat.auth.tokens import AccessTokens
from lightchat.config.settings import Settings
from lightchat.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Served:
    """An app's settings and its sign-in (None: the app is open)."""

    settings: Settings
    auth: Auth | None


_served: Served | None = None


def serve(settings: Settings, auth: Auth | None) -> None:
    """Make ``settings`` and ``auth`` those the module's functions use (``LightChat.build``
    calls it; the last app built wins)."""
    global _served
    _served = Served(settings, auth)


def served() -> Served:
    """The app's settings and sign-in: the last app built, else the environment's (see the
    module docstring)."""
    if _served is not None:
        return _served
    settings = Settings.from_env(config_file=True)
    return Served(settings, Auth.for_app({}, settings))


def access_tokens(found: Served | None = None) -> AccessTokens:
    """What makes and checks the app's access tokens (``lightchat.auth.tokens``).

    Raises ``ConfigError``, naming the fix, when the app has no auth secret to sign them.
    """
    found = found or served()
    if found.auth is not None:
        return found.auth.tokens
    secret = found.settings.auth_secret
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            "Access tokens are signed with the app's auth secret, and it is "
            f"{'not set' if not secret else 'too short'}: run `lightchat create-secret` and "
            "set LIGHTCHAT_AUTH_SECRET (or CHAINLIT_AUTH_SECRET) to the value it prints, "
            "the same for the app and for the code that makes tokens."
        )
    return AccessTokens(secret, found.settings.session_max_age_s)


def require_login() -> bool:
    """Whether the app signs users in (an auth callback, or ``custom_auth``)."""
    return served().auth is not None


def is_oauth_enabled() -> bool:
    """Whether the app signs users in with OAuth providers (``@oauth_callback`` and at
    least one provider configured)."""
    auth = served().auth
    return auth is not None and auth.oauth_callback is not None and bool(auth.providers)


def get_configuration() -> dict[str, Any]:
    """How the app signs users in, as Chainlit's ``/auth/config`` says it::

        {"requireLogin": True, "passwordAuth": True, "headerAuth": False,
         "oauthProviders": ["github"], "default_theme": "dark",
         "ui": {"login_page_image": ..., "login_page_image_filter": ...,
                "login_page_image_dark_filter": ...}}

    ``oauthProviders`` lists the ``provider_id`` of each configured provider.
    """
    found = served()
    auth, settings = found.auth, found.settings
    oauth = auth is not None and auth.oauth_callback is not None
    return {
        "requireLogin": auth is not None,
        "passwordAuth": auth is not None and auth.password_callback is not None,
        "headerAuth": auth is not None and auth.header_callback is not None,
        "oauthProviders": (
            [client.provider.provider_id for client in auth.providers.values()]
            if auth is not None and oauth
            else []
        ),
        "default_theme": settings.default_theme,
        "ui": {
            "login_page_image": settings.login_page_image or None,
            "login_page_image_filter": settings.login_page_image_filter or None,
            "login_page_image_dark_filter": settings.login_page_image_dark_filter or None,
        },
    }
