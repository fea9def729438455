"""Sign-in with OAuth 2 and OpenID Connect providers: which ones are on, and the exchange
with them.

A provider is on when the app has ``@oauth_callback`` and the provider's variables are set
(Chainlit's names). The exchange goes through authlib's Starlette client, without its
session: lightchat keeps the state of a sign-in in progress in its own signed cookie
(``lightchat.auth.sessions.OAuthFlows``), so any worker can finish a sign-in another one started.

The providers (path segment, label: variables; the user's identifier):

- ``github``, GitHub: ``OAUTH_GITHUB_CLIENT_ID``, ``OAUTH_GITHUB_CLIENT_SECRET``; ``login``.
- ``google``, Google: ``OAUTH_GOOGLE_CLIENT_ID``, ``_CLIENT_SECRET``; ``email``.
- ``gitlab``, GitLab: ``OAUTH_GITLAB_CLIENT_ID``, ``_CLIENT_SECRET``, ``_DOMAIN`` (default
  ``gitlab.com``); ``email``.
- ``azure-ad``, Microsoft: ``OAUTH_AZURE_AD_CLIENT_ID``, ``_CLIENT_SECRET``, ``_TENANT_ID``
  (the tenant's endpoints with ``_ENABLE_SINGLE_TENANT``, else ``common``);
  ``userPrincipalName``.
- ``okta``, Okta: ``OAUTH_OKTA_CLIENT_ID``, ``_CLIENT_SECRET``, ``_DOMAIN`` (and
  ``_AUTHORIZATION_SERVER_ID``, default ``default``); ``email``.
- ``auth0``, Auth0: ``OAUTH_AUTH0_CLIENT_ID``, ``_CLIENT_SECRET``, ``_DOMAIN``; ``email``.
- ``keycloak``, Keycloak: ``OAUTH_KEYCLOAK_CLIENT_ID``, ``_CLIENT_SECRET``, ``_BASE_URL``,
  ``_REALM`` (``_NAME`` renames it); ``email``.
- ``aws-cognito``, Amazon Cognito: ``OAUTH_COGNITO_CLIENT_ID``, ``_CLIENT_SECRET``,
  ``_DOMAIN``; ``email``.
- ``generic``, named by ``OAUTH_GENERIC_NAME`` ("SSO" without it):
  ``OAUTH_GENERIC_CLIENT_ID``, ``_CLIENT_SECRET``, and ``_DISCOVERY_URL`` (OpenID Connect)
  or Chainlit's ``_AUTH_URL``, ``_TOKEN_URL``, ``_USER_INFO_URL``; ``_SCOPES`` and
  ``_USER_IDENTIFIER`` (default ``email``) are optional.

Google, GitLab, Okta, Auth0, Keycloak and a generic provider with a discovery URL speak
OpenID Connect: their endpoints, issuer and signing keys come from the discovery document,
and the ID token is checked (signature against the provider's keys, issuer, audience,
expiry, nonce) before the user info is read. GitHub, Microsoft (Graph's ``/me``), Cognito
(whose ID token's issuer is the user pool, which its domain does not tell) and a generic
provider with explicit URLs are plain OAuth 2: the user comes from the user info endpoint,
asked with the access token the token endpoint gave back. Every flow uses PKCE (S256).

Each provider makes the ``default_user`` the app's callback receives: the identifier above,
the display name (``name``, ``displayName``), and metadata ``{"provider": ..., "image":
...}`` (``image`` is the picture's URL, or ``""``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError

from lightchat.domain.user import User
from lightchat.errors import ConfigError

logger = logging.getLogger("lightchat")

TIMEOUT_S = 10.0
"""How long one request to a provider may take."""

_DISCOVERY = "/.well-known/openid-configuration"
_TRUE = ("1", "true", "yes", "on")


class ProviderError(Exception):
    """A sign-in the provider did not complete: refused, failed or unanswered.

    ``unreachable`` is True when the provider could not be asked (network, timeout, 5xx).
    The message is for the log, not for the user.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider's configuration, as read from the environment."""

    slug: str
    """Its place in the URLs: ``/auth/oauth/<slug>`` and ``/auth/oauth/<slug>/callback``."""
    provider_id: str
    """What ``@oauth_callback`` receives as ``provider_id`` (Chainlit's ids)."""
    label: str
    """Its name on the login page: "Continue with <label>"."""
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    discovery_url: str = ""
    """OpenID Connect: where its endpoints, issuer and keys are published."""
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    emails_url: str = ""
    """GitHub: the user's email addresses, added to the user data as ``emails``."""
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    token_auth: str = "client_secret_basic"
    """How the client authenticates at the token endpoint (``client_secret_post``: in the
    body, as GitHub and Microsoft document it)."""
    identifier_key: str = "email"
    name_keys: tuple[str, ...] = ("name",)
    image_key: str = "picture"

    @property
    def openid(self) -> bool:
        """True when the provider speaks OpenID Connect (its ID token is checked)."""
        return bool(self.discovery_url)

    def unverified_email(self, raw: Mapping[str, Any]) -> bool:
        """True when the user is known by an email address (``identifier_key`` is
        ``email``) that the provider says it has not verified: its ``email_verified``
        claim is there and is not true (a boolean, or the text ``"true"`` as some
        providers send it). A provider that sends no such claim is taken at its word."""
        if self.identifier_key != "email" or "email_verified" not in raw:
            return False
        verified = raw["email_verified"]
        return not (verified is True or (isinstance(verified, str) and verified.lower() == "true"))

    def default_user(self, raw: Mapping[str, Any]) -> User:
        """The user this provider's data describes, as ``@oauth_callback`` receives it."""
        identifier = raw.get(self.identifier_key)
        name = next((raw[k] for k in self.name_keys if isinstance(raw.get(k), str)), None)
        image = raw.get(self.image_key)
        return User(
            identifier=str(identifier) if isinstance(identifier, str | int) else "",
            display_name=name or None,
            metadata={
                "provider": self.provider_id,
                "image": image if isinstance(image, str) else "",
            },
        )


# -- the providers, from the environment ----------------------------------------------------


def configured_providers(environ: Mapping[str, str] | None = None) -> list[Provider]:
    """The providers whose variables are set (``os.environ`` by default), in table order.

    Raises ``ConfigError`` naming the missing variables when a provider is half set up.
    """
    env = os.environ if environ is None else environ
    found = []
    for make in _MAKERS:
        provider = make(env)
        if provider is not None:
            found.append(provider)
    return found


def _values(env: Mapping[str, str], prefix: str, *names: str) -> dict[str, str] | None:
    """``OAUTH_<prefix>_<name>`` for each name; None when none is set.

    Raises ``ConfigError`` when some are set and others are not.
    """
    keys = {name: f"OAUTH_{prefix}_{name}" for name in names}
    values = {name: env.get(key, "").strip() for name, key in keys.items()}
    if not any(values.values()):
        return None
    missing = [keys[name] for name, value in values.items() if not value]
    if missing:
        given = ", ".join(key for name, key in keys.items() if values[name])
        raise ConfigError(
            f"{given} {'is' if given.count(',') == 0 else 'are'} set but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not: set "
            f"{'it' if len(missing) == 1 else 'them'} to offer this sign-in, or unset the rest."
        )
    return values


def _prompt(env: Mapping[str, str], prefix: str) -> dict[str, str]:
    """Chainlit's ``OAUTH_<prefix>_PROMPT`` / ``OAUTH_PROMPT`` (e.g. ``select_account``)."""
    prompt = env.get(f"OAUTH_{prefix}_PROMPT") or env.get("OAUTH_PROMPT")
    return {"prompt": prompt} if prompt else {}


def _https(domain: str) -> str:
    """A domain as a URL without a trailing slash (``https://`` unless it names a scheme)."""
    domain = domain.strip().rstrip("/")
    return domain if "://" in domain else f"https://{domain}"


def _github(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "GITHUB", "CLIENT_ID", "CLIENT_SECRET")
    if values is None:
        return None
    return Provider(
        slug="github",
        provider_id="github",
        label="GitHub",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="user:email",
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        userinfo_url="https://api.github.com/user",
        emails_url="https://api.github.com/user/emails",
        authorize_params=_prompt(env, "GITHUB"),
        token_auth="client_secret_post",
        identifier_key="login",
        name_keys=("name", "login"),
        image_key="avatar_url",
    )


def _google(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "GOOGLE", "CLIENT_ID", "CLIENT_SECRET")
    if values is None:
        return None
    return Provider(
        slug="google",
        provider_id="google",
        label="Google",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="openid email profile",
        discovery_url=f"https://accounts.google.com{_DISCOVERY}",
        authorize_params=_prompt(env, "GOOGLE"),
    )


def _gitlab(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "GITLAB", "CLIENT_ID", "CLIENT_SECRET")
    if values is None:
        return None
    domain = _https(env.get("OAUTH_GITLAB_DOMAIN") or "gitlab.com")
    return Provider(
        slug="gitlab",
        provider_id="gitlab",
        label="GitLab",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="openid profile email",
        discovery_url=f"{domain}{_DISCOVERY}",
        authorize_params=_prompt(env, "GITLAB"),
        name_keys=("name", "nickname"),
    )


def _azure_ad(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "AZURE_AD", "CLIENT_ID", "CLIENT_SECRET", "TENANT_ID")
    if values is None:
        return None
    # As Chainlit: any Microsoft account ("common") unless the app is single-tenant.
    single = env.get("OAUTH_AZURE_AD_ENABLE_SINGLE_TENANT", "").strip().lower() in _TRUE
    authority = f"https://login.microsoftonline.com/{values['TENANT_ID'] if single else 'common'}"
    return Provider(
        slug="azure-ad",
        provider_id="azure-ad",
        label="Microsoft",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="https://graph.microsoft.com/User.Read",
        authorize_url=f"{authority}/oauth2/v2.0/authorize",
        token_url=f"{authority}/oauth2/v2.0/token",
        userinfo_url="https://graph.microsoft.com/v1.0/me",
        authorize_params=_prompt(env, "AZURE_AD"),
        token_auth="client_secret_post",
        identifier_key="userPrincipalName",
        name_keys=("displayName",),
        image_key="",
    )


def _okta(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "OKTA", "CLIENT_ID", "CLIENT_SECRET", "DOMAIN")
    if values is None:
        return None
    # Chainlit's rule: the "default" authorization server, a named one, or "false" for
    # the org authorization server.
    server = env.get("OAUTH_OKTA_AUTHORIZATION_SERVER_ID", "").strip()
    path = "/oauth2/default" if not server else "" if server == "false" else f"/oauth2/{server}"
    return Provider(
        slug="okta",
        provider_id="okta",
        label="Okta",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="openid profile email",
        discovery_url=f"{_https(values['DOMAIN'])}{path}{_DISCOVERY}",
        authorize_params=_prompt(env, "OKTA"),
    )


def _auth0(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "AUTH0", "CLIENT_ID", "CLIENT_SECRET", "DOMAIN")
    if values is None:
        return None
    return Provider(
        slug="auth0",
        provider_id="auth0",
        label="Auth0",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="openid profile email",
        discovery_url=f"{_https(values['DOMAIN'])}{_DISCOVERY}",
        authorize_params=_prompt(env, "AUTH0"),
    )


def _keycloak(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "KEYCLOAK", "CLIENT_ID", "CLIENT_SECRET", "BASE_URL", "REALM")
    if values is None:
        return None
    name = env.get("OAUTH_KEYCLOAK_NAME", "").strip()
    return Provider(
        slug="keycloak",
        provider_id=name or "keycloak",
        label=" ".join(name.split()) or "Keycloak",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="openid profile email",
        discovery_url=f"{_https(values['BASE_URL'])}/realms/{values['REALM']}{_DISCOVERY}",
        authorize_params=_prompt(env, "KEYCLOAK"),
        name_keys=("name", "preferred_username"),
    )


def _cognito(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "COGNITO", "CLIENT_ID", "CLIENT_SECRET", "DOMAIN")
    if values is None:
        return None
    domain = _https(values["DOMAIN"])
    return Provider(
        slug="aws-cognito",
        provider_id="aws-cognito",
        label="Amazon Cognito",
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope="openid email profile",
        authorize_url=f"{domain}/oauth2/authorize",
        token_url=f"{domain}/oauth2/token",
        userinfo_url=f"{domain}/oauth2/userInfo",
        authorize_params=_prompt(env, "COGNITO"),
        name_keys=("name", "username"),
    )


def _generic(env: Mapping[str, str]) -> Provider | None:
    values = _values(env, "GENERIC", "CLIENT_ID", "CLIENT_SECRET")
    discovery = env.get("OAUTH_GENERIC_DISCOVERY_URL", "").strip()
    explicit = {
        name: env.get(f"OAUTH_GENERIC_{name}", "").strip()
        for name in ("AUTH_URL", "TOKEN_URL", "USER_INFO_URL")
    }
    if values is None:
        if discovery or any(explicit.values()):
            raise ConfigError(
                "OAUTH_GENERIC_DISCOVERY_URL or its URLs are set but OAUTH_GENERIC_CLIENT_ID "
                "and OAUTH_GENERIC_CLIENT_SECRET are not: set them to offer this sign-in."
            )
        return None
    name = env.get("OAUTH_GENERIC_NAME", "").strip()
    scopes = env.get("OAUTH_GENERIC_SCOPES", "").replace(",", " ").split()
    common: dict[str, Any] = {
        "slug": "generic",
        "provider_id": name or "generic",
        "label": " ".join(name.split()) or "SSO",
        "client_id": values["CLIENT_ID"],
        "client_secret": values["CLIENT_SECRET"],
        "authorize_params": _prompt(env, "GENERIC"),
        "identifier_key": env.get("OAUTH_GENERIC_USER_IDENTIFIER", "").strip() or "email",
    }
    if discovery:
        if "openid" not in scopes:
            scopes = ["openid", *(scopes or ["profile", "email"])]
        return Provider(scope=" ".join(scopes), discovery_url=discovery, **common)
    missing = [f"OAUTH_GENERIC_{name}" for name, value in explicit.items() if not value]
    if missing:
        raise ConfigError(
            "The generic OAuth provider needs OAUTH_GENERIC_DISCOVERY_URL (OpenID Connect), "
            f"or OAUTH_GENERIC_AUTH_URL, _TOKEN_URL and _USER_INFO_URL; {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set."
        )
    return Provider(
        scope=" ".join(scopes) or "openid profile email",
        authorize_url=explicit["AUTH_URL"],
        token_url=explicit["TOKEN_URL"],
        userinfo_url=explicit["USER_INFO_URL"],
        token_auth="client_secret_post",  # as Chainlit sends it
        **common,
    )


_MAKERS: tuple[Callable[[Mapping[str, str]], Provider | None], ...] = (
    _github,
    _google,
    _gitlab,
    _azure_ad,
    _okta,
    _auth0,
    _keycloak,
    _cognito,
    _generic,
)


# -- the exchange -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """A sign-in sent to the provider: where to send the browser, and what to keep."""

    url: str
    state: str
    code_verifier: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Identity:
    """What the provider said about the user who signed in."""

    access_token: str
    raw_user_data: dict[str, Any]
    default_user: User
    id_token: str | None
    """The ID token, once checked (OpenID Connect providers only)."""


class OAuthClient:
    """Talks to one provider (authlib's client, one per provider and process, so the
    discovery document and the signing keys are fetched once)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        registry = OAuth()
        registry.register(
            name=provider.slug,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            authorize_url=provider.authorize_url or None,
            access_token_url=provider.token_url or None,
            server_metadata_url=provider.discovery_url or None,
            authorize_params=dict(provider.authorize_params) or None,
            client_kwargs={
                "scope": provider.scope,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": provider.token_auth,
                "timeout": TIMEOUT_S,
            },
        )
        self._remote: Any = registry.create_client(provider.slug)

    async def start(self, redirect_uri: str) -> Started:
        """A new sign-in: the provider's authorization URL with a fresh state, PKCE
        challenge and (OpenID Connect) nonce."""
        async with _reasons(self.provider):
            await self._metadata()
            made = await self._remote.create_authorization_url(redirect_uri)
        return Started(
            url=str(made["url"]),
            state=str(made["state"]),
            code_verifier=str(made.get("code_verifier", "")),
            nonce=str(made.get("nonce", "")),
        )

    async def finish(
        self,
        code: str,
        *,
        redirect_uri: str,
        code_verifier: str,
        nonce: str,
        issuer: str | None = None,
    ) -> Identity:
        """Exchange the code (with the PKCE verifier) and read who signed in.

        ``issuer`` is the ``iss`` of the authorization response, when the provider sent one
        (RFC 9207): it must be this provider's. Raises ``ProviderError`` when the provider
        refuses, its answer does not check out, or it cannot be reached.
        """
        provider = self.provider
        async with _reasons(provider):
            if issuer is not None and provider.openid:
                metadata = await self._metadata()
                if issuer != metadata.get("issuer"):
                    raise ProviderError(f"The answer came from another issuer, {issuer!r}")
            token = await self._remote.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
            )
            access_token = token.get("access_token")
            if not isinstance(access_token, str) or not access_token:
                raise ProviderError(f"{provider.label} gave no access token")
            id_token = None
            if provider.openid:
                raw = await self._checked_openid(token, nonce)
                id_token = str(token["id_token"])
            else:
                raw = _object(await self._get(provider.userinfo_url, token), provider)
                if provider.emails_url:
                    raw["emails"] = await self._get(provider.emails_url, token)
        return Identity(access_token, raw, provider.default_user(raw), id_token)

    async def _metadata(self) -> dict[str, Any]:
        """The discovery document, checked to be the provider's own (OpenID Connect
        Discovery 4.3: its issuer is the URL it was found under)."""
        metadata: dict[str, Any] = await self._remote.load_server_metadata()
        discovery = self.provider.discovery_url
        if discovery:
            issuer = metadata.get("issuer")
            found_at = urlsplit(discovery)._replace(query="", fragment="").geturl().rstrip("/")
            if not isinstance(issuer, str) or issuer.rstrip("/") + _DISCOVERY != found_at:
                raise ProviderError(
                    f"The discovery document at {discovery} names the issuer {issuer!r}, "
                    "which does not match its address; check the provider's URL"
                )
        return metadata

    async def _checked_openid(self, token: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        """The user of an OpenID Connect sign-in: the ID token is checked (signature with the
        provider's keys, issuer, audience, expiry, nonce), then the user info is read."""
        metadata = await self._metadata()
        if not nonce:
            raise ProviderError("This sign-in was started without a nonce")
        if not token.get("id_token"):
            raise ProviderError(f"{self.provider.label} gave no ID token")
        claims = await self._remote.parse_id_token(dict(token), nonce=nonce)
        raw = dict(claims)
        if metadata.get("userinfo_endpoint"):
            info = _object(await self._get(metadata["userinfo_endpoint"], token), self.provider)
            if info.get("sub") != raw.get("sub"):
                raise ProviderError("The user info is not about the ID token's subject")
            raw = info
        return raw

    async def _get(self, url: str, token: Mapping[str, Any]) -> Any:
        """The JSON at ``url``, asked with the access token."""
        response = await self._remote.get(url, token=dict(token))
        response.raise_for_status()
        return response.json()


def _object(data: Any, provider: Provider) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProviderError(f"{provider.label}'s user info is not a JSON object")
    return data


@contextlib.asynccontextmanager
async def _reasons(provider: Provider) -> AsyncIterator[None]:
    """Turns what talking to a provider can raise into ``ProviderError``."""
    label = provider.label
    try:
        yield
    except ProviderError:
        raise
    except httpx2.HTTPStatusError as exc:
        status = exc.response.status_code
        raise ProviderError(
            f"{label} answered {status} to {exc.request.url}", unreachable=status >= 500
        ) from exc
    except httpx2.HTTPError as exc:
        raise ProviderError(f"{label} could not be reached: {exc!r}", unreachable=True) from exc
    except (AuthlibBaseError, JoseError) as exc:
        raise ProviderError(f"{label} refused the sign-in: {exc!r}") from exc
    # Malformed answers: not JSON, or without what the protocol requires.
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ProviderError(f"{label} gave an answer that does not check out: {exc!r}") from exc
