"""Layer 4, who is asking: browser identity, signed-in users, OAuth providers, the host's
users, access tokens; and Chainlit's ``chainlit.auth`` names.

- ``identity``: the signed browser cookie and the form token derived from it;
- ``sessions``: ``Auth``, users' signed sessions, sign-in limits and OAuth flows;
- ``oauth``: the OAuth and OpenID Connect providers and their client;
- ``host``: reading the user of a host app that mounts the chat;
- ``tokens``: access tokens (JWT), with which a host site signs its users in;
- ``cookie``: the cookies' attributes; ``served``: the app this process serves.

What Chainlit apps import from ``chainlit.auth`` is here, with Chainlit's signatures
(``from lightchat.auth import create_jwt``): ``create_jwt``, ``decode_jwt``,
``get_jwt_secret`` (``jwt``), ``get_current_user`` and ``authenticate_user`` (FastAPI
dependencies, ``dependencies``), ``get_configuration``, ``require_login`` and
``is_oauth_enabled`` (``served``), ``get_token_from_cookies``, ``set_auth_cookie`` and
``clear_auth_cookie`` (``cookie``). None of them needs FastAPI to be imported.
"""

from lightchat.auth.cookie import clear_auth_cookie, get_token_from_cookies, set_auth_cookie
from lightchat.auth.dependencies import authenticate_user, get_current_user
from lightchat.auth.jwt import create_jwt, decode_jwt, get_jwt_secret
from lightchat.auth.served import get_configuration, is_oauth_enabled, require_login
from lightchat.errors import InvalidTokenError

__all__ = [
    "InvalidTokenError",
    "authenticate_user",
    "clear_auth_cookie",
    "create_jwt",
    "decode_jwt",
    "get_configuration",
    "get_current_user",
    "get_jwt_secret",
    "get_token_from_cookies",
    "is_oauth_enabled",
    "require_login",
    "set_auth_cookie",
]
