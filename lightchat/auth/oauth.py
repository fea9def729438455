"""Sign-in with OAuth 2 and OpenID Connect providers: which ones are on, and the exchange
with them.

A provider is on when the app has ``@oauth_callback`` and the provider's variables are set
(Chainlit's names). The exchange goes through authlib's Starlette client, without its
session: lightchat keeps the state of a sign-in in progress in its own signed cookie
(``lightchat.auth.sessions.OAuthFlows``), so any worker can finish a sign-in another one started.

The providers are one table, ``PROVIDERS``: one entry per provider (``ProviderSpec``: its
path segment and label, its variables, required and optional with their defaults, its
discovery or explicit URLs as templates over the variables, its scope, the keys of the
user's identifier, name and picture...), from which ``provider_from`` makes a ``Provider``
with the environment's values. The README's table ("Sign-in with OAuth") lists the same
providers, variables and identifiers; a test keeps the two in step.

Google, GitLab, Okta, Auth0, Keycloak and a generic provider with a discovery URL speak
OpenID Connect: their endpoints, issuer and signing keys come from the discovery document,
and the ID token is checked (signature against the provider's keys, issuer, audience,
expiry, nonce) before the user info is read. GitHub, Microsoft (Graph's ``/me``), Cognito
(whose ID token's issuer is the user pool, which its domain does not tell) and a generic
provider with explicit URLs are plain OAuth 2: the user comes from the user info endpoint,
asked with the access token the token endpoint gave back. Every flow uses PKCE (S256).

Each provider makes the ``default_user`` the app's callback receives: the identifier (the
value under its ``identifier_key``), the display name (``name``, ``displayName``...), and
metadata ``{"provider": ..., "image": ...}`` (``image`` is the picture's URL, or ``""``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider lightchat knows, as an entry of ``PROVIDERS``: how its ``Provider``
    is made from the environment (``provider_from``).

    Its variables are ``OAUTH_<prefix>_<name>``. The URLs and ``identifier_key`` are
    templates over the variables' values: ``{DOMAIN}`` is ``OAUTH_<prefix>_DOMAIN``
    (stripped; one named in ``hosts`` as a URL without a trailing slash, ``https://``
    unless it names a scheme), and ``derive`` may add values computed from the others.
    """

    slug: str
    """Its place in the URLs, and its ``provider_id`` unless ``renamed_by`` names it."""
    label: str
    """Its name on the login page ("Continue with <label>") unless ``renamed_by`` names it."""
    prefix: str
    required: tuple[str, ...] = ("CLIENT_ID", "CLIENT_SECRET")
    """Set all or none: some without the others stop the app, naming the missing ones."""
    optional: Mapping[str, str] = field(default_factory=dict)
    """The variables that may be unset, with the value they then take."""
    hosts: tuple[str, ...] = ()
    """The variables that name a host (or its URL), made URLs for the templates."""
    derive: Callable[[Mapping[str, str]], dict[str, str]] | None = None
    """A rule of the provider's (Microsoft's tenant, Okta's authorization server): more
    values for the templates, from the variables' values."""
    renamed_by: str = ""
    """An optional variable whose value, when set, is the ``provider_id`` and the label."""
    scope: str = "openid profile email"
    scope_variable: str = ""
    """An optional variable whose words (commas or spaces between them) replace ``scope``.
    An OpenID Connect provider's scope always has ``openid``."""
    discovery_url: str = ""
    """OpenID Connect: where its endpoints, issuer and keys are published. When it is
    empty (or its variable unset), the explicit URLs below are used."""
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    emails_url: str = ""
    discovery_or_urls: tuple[str, ...] = ()
    """The variable of the discovery URL, then those of the explicit URLs, when either is
    up to the app (the generic provider): the first is set, or all the others."""
    token_auth: str = "client_secret_basic"
    """How the client authenticates at an explicit token endpoint (OpenID Connect
    providers: ``client_secret_basic``, its default)."""
    identifier_key: str = "email"
    name_keys: tuple[str, ...] = ("name",)
    image_key: str = "picture"
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    """More parameters of its authorization request (templates, as the URLs)."""

    def variable(self, name: str) -> str:
        """The environment variable ``name`` is short for: ``OAUTH_<prefix>_<name>``."""
        return f"OAUTH_{self.prefix}_{name}"

    @property
    def variables(self) -> list[str]:
        """Its variables, required then optional (``OAUTH_PROMPT`` and
        ``OAUTH_<prefix>_PROMPT`` apply to every provider and are not listed)."""
        return [self.variable(name) for name in (*self.required, *self.optional)]


def _azure_tenant(values: Mapping[str, str]) -> dict[str, str]:
    # As Chainlit: any Microsoft account ("common") unless the app is single-tenant.
    single = values["ENABLE_SINGLE_TENANT"].lower() in _TRUE
    return {"TENANT": values["TENANT_ID"] if single else "common"}


def _okta_server(values: Mapping[str, str]) -> dict[str, str]:
    # Chainlit's rule: the "default" authorization server, a named one, or "false" for
    # the org authorization server.
    server = values["AUTHORIZATION_SERVER_ID"]
    return {"SERVER_PATH": "" if server == "false" else f"/oauth2/{server}"}


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        slug="github",
        label="GitHub",
        prefix="GITHUB",
        scope="user:email",
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        userinfo_url="https://api.github.com/user",
        emails_url="https://api.github.com/user/emails",
        token_auth="client_secret_post",
        identifier_key="login",
        name_keys=("name", "login"),
        image_key="avatar_url",
    ),
    ProviderSpec(
        slug="google",
        label="Google",
        prefix="GOOGLE",
        scope="openid email profile",
        discovery_url="https://accounts.google.com" + _DISCOVERY,
    ),
    ProviderSpec(
        slug="gitlab",
        label="GitLab",
        prefix="GITLAB",
        optional={"DOMAIN": "gitlab.com"},
        hosts=("DOMAIN",),
        discovery_url="{DOMAIN}" + _DISCOVERY,
        name_keys=("name", "nickname"),
    ),
    ProviderSpec(
        slug="azure-ad",
        label="Microsoft",
        prefix="AZURE_AD",
        required=("CLIENT_ID", "CLIENT_SECRET", "TENANT_ID"),
        optional={"ENABLE_SINGLE_TENANT": ""},
        derive=_azure_tenant,
        scope="https://graph.microsoft.com/User.Read",
        authorize_url="https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
        userinfo_url="https://graph.microsoft.com/v1.0/me",
        token_auth="client_secret_post",
        identifier_key="userPrincipalName",
        name_keys=("displayName",),
        image_key="",
    ),
    ProviderSpec(
        # Chainlit's hybrid flow asks for the id_token in the front channel too; the code
        # flow with PKCE used here gets the same user and a refresh token (offline_access).
        slug="azure-ad-hybrid",
        label="Microsoft",
        prefix="AZURE_AD_HYBRID",
        required=("CLIENT_ID", "CLIENT_SECRET", "TENANT_ID"),
        optional={"ENABLE_SINGLE_TENANT": "", "SCOPES": ""},
        derive=_azure_tenant,
        scope="https://graph.microsoft.com/User.Read offline_access",
        scope_variable="SCOPES",
        authorize_url="https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
        userinfo_url="https://graph.microsoft.com/v1.0/me",
        token_auth="client_secret_post",
        identifier_key="userPrincipalName",
        name_keys=("displayName",),
        image_key="",
    ),
    ProviderSpec(
        slug="okta",
        label="Okta",
        prefix="OKTA",
        required=("CLIENT_ID", "CLIENT_SECRET", "DOMAIN"),
        optional={"AUTHORIZATION_SERVER_ID": "default"},
        hosts=("DOMAIN",),
        derive=_okta_server,
        discovery_url="{DOMAIN}{SERVER_PATH}" + _DISCOVERY,
    ),
    ProviderSpec(
        slug="auth0",
        label="Auth0",
        prefix="AUTH0",
        required=("CLIENT_ID", "CLIENT_SECRET", "DOMAIN"),
        hosts=("DOMAIN",),
        discovery_url="{DOMAIN}" + _DISCOVERY,
    ),
    ProviderSpec(
        slug="keycloak",
        label="Keycloak",
        prefix="KEYCLOAK",
        required=("CLIENT_ID", "CLIENT_SECRET", "BASE_URL", "REALM"),
        optional={"NAME": ""},
        hosts=("BASE_URL",),
        renamed_by="NAME",
        discovery_url="{BASE_URL}/realms/{REALM}" + _DISCOVERY,
        name_keys=("name", "preferred_username"),
    ),
    ProviderSpec(
        slug="descope",
        label="Descope",
        prefix="DESCOPE",
        authorize_url="https://api.descope.com/oauth2/v1/authorize",
        token_url="https://api.descope.com/oauth2/v1/token",
        userinfo_url="https://api.descope.com/oauth2/v1/userinfo",
        token_auth="client_secret_post",
        # As Chainlit asks: an access token meant for the userinfo endpoint.
        authorize_params={"audience": "https://api.descope.com/oauth2/v1/userinfo"},
    ),
    ProviderSpec(
        slug="aws-cognito",
        label="Amazon Cognito",
        prefix="COGNITO",
        required=("CLIENT_ID", "CLIENT_SECRET", "DOMAIN"),
        hosts=("DOMAIN",),
        # Plain OAuth 2: the ID token's issuer is the user pool, which the domain does
        # not tell.
        scope="openid email profile",
        authorize_url="{DOMAIN}/oauth2/authorize",
        token_url="{DOMAIN}/oauth2/token",
        userinfo_url="{DOMAIN}/oauth2/userInfo",
        name_keys=("name", "username"),
    ),
    ProviderSpec(
        slug="generic",
        label="SSO",
        prefix="GENERIC",
        optional={
            "DISCOVERY_URL": "",
            "AUTH_URL": "",
            "TOKEN_URL": "",
            "USER_INFO_URL": "",
            "SCOPES": "",
            "USER_IDENTIFIER": "email",
            "NAME": "",
        },
        renamed_by="NAME",
        scope_variable="SCOPES",
        discovery_url="{DISCOVERY_URL}",
        authorize_url="{AUTH_URL}",
        token_url="{TOKEN_URL}",
        userinfo_url="{USER_INFO_URL}",
        discovery_or_urls=("DISCOVERY_URL", "AUTH_URL", "TOKEN_URL", "USER_INFO_URL"),
        token_auth="client_secret_post",  # as Chainlit sends it
        identifier_key="{USER_IDENTIFIER}",
    ),
)
"""The providers, in the login page's order (the README's table in "Sign-in with OAuth"
lists the same, which a test checks)."""


def configured_providers(environ: Mapping[str, str] | None = None) -> list[Provider]:
    """The providers whose variables are set (``os.environ`` by default), in table order.

    Raises ``ConfigError`` naming the missing variables when a provider is half set up.
    """
    env = os.environ if environ is None else environ
    found = []
    for spec in PROVIDERS:
        provider = provider_from(spec, env)
        if provider is not None:
            found.append(provider)
    return found


def provider_from(spec: ProviderSpec, env: Mapping[str, str]) -> Provider | None:
    """The provider ``spec`` describes, configured by ``env``; None when its variables
    are not set. Raises ``ConfigError`` naming what is missing when it is half set up."""
    values = _values(env, spec.prefix, *spec.required)
    if values is None:
        either = spec.discovery_or_urls
        if any(env.get(spec.variable(name), "").strip() for name in either):
            raise ConfigError(
                f"{spec.variable(either[0])} or its URLs are set but "
                f"{' and '.join(spec.variable(name) for name in spec.required)} are not: "
                "set them to offer this sign-in."
            )
        return None
    for name, default in spec.optional.items():
        values[name] = env.get(spec.variable(name), "").strip() or default
    for name in spec.hosts:
        values[name] = _https(values[name])
    if spec.derive is not None:
        values.update(spec.derive(values))
    discovery = spec.discovery_url.format_map(values)
    if not discovery and spec.discovery_or_urls:
        _, *urls = spec.discovery_or_urls
        missing = [spec.variable(name) for name in urls if not values[name]]
        if missing:
            *most, last = [spec.variable(urls[0]), *(f"_{name}" for name in urls[1:])]
            raise ConfigError(
                f"The {spec.slug} OAuth provider needs "
                f"{spec.variable(spec.discovery_or_urls[0])} (OpenID Connect), or "
                f"{', '.join(most)}{' and ' if most else ''}{last}; "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set."
            )
    scope = spec.scope.split()
    if spec.scope_variable:
        scope = values[spec.scope_variable].replace(",", " ").split() or scope
    if discovery and "openid" not in scope:
        scope = ["openid", *scope]
    name = values[spec.renamed_by] if spec.renamed_by else ""

    def explicit(template: str) -> str:
        return "" if discovery else template.format_map(values)

    return Provider(
        slug=spec.slug,
        provider_id=name or spec.slug,
        label=" ".join(name.split()) or spec.label,
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        scope=" ".join(scope),
        discovery_url=discovery,
        authorize_url=explicit(spec.authorize_url),
        token_url=explicit(spec.token_url),
        userinfo_url=explicit(spec.userinfo_url),
        emails_url=explicit(spec.emails_url),
        authorize_params={
            **{key: value.format_map(values) for key, value in spec.authorize_params.items()},
            **_prompt(env, spec.prefix),
        },
        token_auth="client_secret_basic" if discovery else spec.token_auth,
        identifier_key=spec.identifier_key.format_map(values),
        name_keys=spec.name_keys,
        image_key=spec.image_key,
    )


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
        # authlib and its HTTP client (about 25 MB and a tenth of a second) are imported
        # only when an app signs users in with a provider, not on every start.
        from authlib.integrations.starlette_client import OAuth

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
    import httpx2
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

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
