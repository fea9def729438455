"""OAuth sign-in over HTTP: the providers the environment turns on, the login page's
"Continue with" links, and the whole flow against a real OpenID Connect provider.

The app runs in-process (httpx's ASGI transport); the provider is the npm package
oidc-provider, run by Node.js on a port of its own (``tests/oidc_provider.py``). Each
"browser" is an httpx client that reaches the app in-process and the provider over the
network, with one cookie jar, and follows the provider's login and consent forms.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings, User, context
from lightchat.auth.oauth import Provider, configured_providers
from lightchat.auth.sessions import OAUTH_COOKIE, SESSION_COOKIE, Auth, OAuthFlows
from lightchat.errors import ConfigError
from lightchat.http.endpoints.oauth import EXPIRED, NOT_ALLOWED
from lightchat.store import MemoryStore
from tests.helpers import Serve, free_port, tag_structure
from tests.oidc_provider import CLIENT_ID, PROVIDER_NAME, OIDCProvider, running_provider
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = "oauth-test-secret-" + "x" * 40
APP = "http://testserver"
CALLBACK = f"{APP}/auth/oauth/generic/callback"
MOUNTED_CALLBACK = f"{APP}/app/auth/oauth/generic/callback"
ALERT = re.compile(r'<p id="lc-login-error" class="lc-login-error" role="alert">([^<]*)</p>')


@pytest.fixture(scope="module")
def oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with running_provider([CALLBACK, MOUNTED_CALLBACK], log=log) as provider:
        yield provider


@dataclass
class Calls:
    """What the app's ``@oauth_callback`` was called with."""

    args: list[tuple[Any, ...]] = field(default_factory=list)


def oauth_app(
    tmp_path: Path,
    *,
    password: bool = False,
    store: MemoryStore | None = None,
    fail: bool = False,
    **settings: Any,
) -> tuple[LightChat, Calls]:
    """An app with ``@oauth_callback``: it lets every user in but bob (and raises when
    ``fail``); with ``password``, ada may also sign in with a password."""
    app = LightChat(
        settings=Settings(
            name="OAuth app",
            auth_secret=SECRET,
            app_dir=str(tmp_path),
            history=store is not None,
            **settings,
        )
    )
    calls = Calls()

    @app.oauth_callback
    async def decide(
        provider_id: str,
        token: str,
        raw_user_data: dict[str, Any],
        default_user: User,
        id_token: str | None = None,
    ) -> User | None:
        calls.args.append((provider_id, token, raw_user_data, default_user, id_token))
        if fail:
            raise RuntimeError("the directory is down")
        if default_user.identifier.startswith("bob"):
            return None
        return default_user

    if password:

        @app.password_auth_callback
        def check(username: str, password: str) -> User | None:
            return User(identifier="ada") if (username, password) == ("ada", "pw") else None

    if store is not None:

        @app.data_layer
        def layer() -> MemoryStore:
            return store

    @app.on_chat_start
    async def start() -> None:
        await Message(content=f"Hello {context.session.user.display_name}").send()

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Echo: {message.content}").send()

    return app, calls


@asynccontextmanager
async def browser(
    serve: Serve, app: LightChat, root_path: str = "", *, lifespan: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser: the app in-process at http://testserver, anything else over the network."""
    async with serve(app, lifespan=lifespan, form_token=False) as site:
        yield site.browser(root_path=root_path, network=True)


def provider_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


async def at_provider(
    client: httpx.AsyncClient, start: httpx.Response, login: str = "ada", *, cancel: bool = False
) -> httpx.Response:
    """Sign in at the provider the app sent the browser to (its login form, then its
    consent form), or cancel there; the app's answer when the provider sends it back."""
    assert start.status_code == 303, start.text
    response = start
    for _ in range(20):
        location = response.headers.get("location")
        if location is not None:
            url = urljoin(str(response.url), location)
            response = await client.get(url)
            if url.startswith(APP) and "/callback" in url:
                return response
            continue
        assert response.status_code == 200, response.text
        page = response.text
        if cancel:
            abort = re.search(r'<a href="([^"]+)">\[ Cancel \]</a>', page)
            assert abort is not None, page
            response = await client.get(urljoin(str(response.url), html.unescape(abort[1])))
            continue
        action = re.search(r'<form[^>]*action="([^"]+)"', page)
        prompt = re.search(r'name="prompt" value="(\w+)"', page)
        assert action is not None, page
        assert prompt is not None, page
        data = {"prompt": prompt[1]}
        if prompt[1] == "login":
            data.update(login=login, password="any password")
        url = urljoin(str(response.url), html.unescape(action[1]))
        response = await client.post(url, data=data)
    raise AssertionError("the provider never sent the browser back")


def alert(response: httpx.Response) -> str | None:
    found = ALERT.search(response.text)
    return html.unescape(found[1]) if found else None


def set_cookies(response: httpx.Response) -> dict[str, list[str]]:
    """The response's Set-Cookie headers: name -> attributes (lower-cased)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.partition("=")[0]
        found[name] = [part.strip().lower() for part in header.split(";")]
    return found


# -- the providers, from the environment ----------------------------------------------------


def by_slug(env: dict[str, str]) -> dict[str, Provider]:
    return {provider.slug: provider for provider in configured_providers(env)}


def test_each_provider_is_turned_on_by_its_variables() -> None:
    assert configured_providers({}) == []
    secrets = {"CLIENT_ID": "id", "CLIENT_SECRET": "shh"}

    def env(prefix: str, **extra: str) -> dict[str, str]:
        return {f"OAUTH_{prefix}_{k}": v for k, v in {**secrets, **extra}.items()}

    github = by_slug(env("GITHUB"))["github"]
    assert (github.provider_id, github.label) == ("github", "GitHub")
    assert github.authorize_url == "https://github.com/login/oauth/authorize"
    assert github.token_url == "https://github.com/login/oauth/access_token"
    assert github.userinfo_url == "https://api.github.com/user"
    assert github.emails_url == "https://api.github.com/user/emails"
    assert (github.scope, github.openid) == ("user:email", False)
    assert (github.client_id, github.client_secret) == ("id", "shh")
    assert "shh" not in repr(github)

    google = by_slug(env("GOOGLE"))["google"]
    assert google.discovery_url == "https://accounts.google.com/.well-known/openid-configuration"
    assert (google.label, google.scope, google.openid) == ("Google", "openid email profile", True)

    gitlab = by_slug(env("GITLAB"))["gitlab"]
    assert gitlab.discovery_url == "https://gitlab.com/.well-known/openid-configuration"
    own = by_slug(env("GITLAB", DOMAIN="git.example.com/"))["gitlab"]
    assert own.discovery_url == "https://git.example.com/.well-known/openid-configuration"

    azure = by_slug(env("AZURE_AD", TENANT_ID="t-1"))["azure-ad"]
    assert (azure.provider_id, azure.label) == ("azure-ad", "Microsoft")
    assert azure.authorize_url == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert azure.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert azure.userinfo_url == "https://graph.microsoft.com/v1.0/me"
    single = by_slug(env("AZURE_AD", TENANT_ID="t-1", ENABLE_SINGLE_TENANT="true"))["azure-ad"]
    assert single.authorize_url == "https://login.microsoftonline.com/t-1/oauth2/v2.0/authorize"
    assert single.token_url == "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"

    okta = by_slug(env("OKTA", DOMAIN="dev-1.okta.com"))["okta"]
    assert okta.discovery_url == (
        "https://dev-1.okta.com/oauth2/default/.well-known/openid-configuration"
    )
    named = by_slug(env("OKTA", DOMAIN="dev-1.okta.com", AUTHORIZATION_SERVER_ID="aus9"))
    assert named["okta"].discovery_url == (
        "https://dev-1.okta.com/oauth2/aus9/.well-known/openid-configuration"
    )
    org = by_slug(env("OKTA", DOMAIN="dev-1.okta.com", AUTHORIZATION_SERVER_ID="false"))
    assert org["okta"].discovery_url == "https://dev-1.okta.com/.well-known/openid-configuration"

    auth0 = by_slug(env("AUTH0", DOMAIN="me.eu.auth0.com"))["auth0"]
    assert auth0.discovery_url == "https://me.eu.auth0.com/.well-known/openid-configuration"

    keycloak = by_slug(env("KEYCLOAK", BASE_URL="https://kc.example/", REALM="staff"))
    assert keycloak["keycloak"].discovery_url == (
        "https://kc.example/realms/staff/.well-known/openid-configuration"
    )
    assert keycloak["keycloak"].provider_id == "keycloak"
    renamed = by_slug(env("KEYCLOAK", BASE_URL="http://kc:8080", REALM="r", NAME="Staff login"))[
        "keycloak"
    ]
    assert (renamed.provider_id, renamed.label) == ("Staff login", "Staff login")
    assert renamed.discovery_url == "http://kc:8080/realms/r/.well-known/openid-configuration"

    cognito = by_slug(env("COGNITO", DOMAIN="me.auth.eu-west-1.amazoncognito.com"))
    assert cognito["aws-cognito"].authorize_url == (
        "https://me.auth.eu-west-1.amazoncognito.com/oauth2/authorize"
    )
    assert cognito["aws-cognito"].token_url == (
        "https://me.auth.eu-west-1.amazoncognito.com/oauth2/token"
    )
    assert cognito["aws-cognito"].userinfo_url == (
        "https://me.auth.eu-west-1.amazoncognito.com/oauth2/userInfo"
    )
    assert cognito["aws-cognito"].openid is False

    discovered = by_slug(env("GENERIC", DISCOVERY_URL="https://id.example/.well-known/x"))
    generic = discovered["generic"]
    assert (generic.provider_id, generic.label) == ("generic", "SSO")
    assert (generic.discovery_url, generic.openid) == ("https://id.example/.well-known/x", True)
    assert generic.scope == "openid profile email"
    explicit = by_slug(
        env(
            "GENERIC",
            NAME="Corp",
            AUTH_URL="https://id.example/authorize",
            TOKEN_URL="https://id.example/token",
            USER_INFO_URL="https://id.example/me",
            SCOPES="profile,email",
            USER_IDENTIFIER="preferred_username",
        )
    )["generic"]
    assert (explicit.provider_id, explicit.label, explicit.openid) == ("Corp", "Corp", False)
    assert explicit.authorize_url == "https://id.example/authorize"
    assert explicit.token_url == "https://id.example/token"
    assert explicit.userinfo_url == "https://id.example/me"
    assert (explicit.scope, explicit.identifier_key) == ("profile email", "preferred_username")

    # Chainlit's prompt variables; several providers at once, in the table's order.
    both = configured_providers(
        {**env("GITHUB", PROMPT="consent"), **env("GOOGLE"), "OAUTH_PROMPT": "select_account"}
    )
    assert [p.slug for p in both] == ["github", "google"]
    assert both[0].authorize_params == {"prompt": "consent"}
    assert both[1].authorize_params == {"prompt": "select_account"}


def test_a_half_configured_provider_names_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="OAUTH_GITHUB_CLIENT_SECRET is not"):
        configured_providers({"OAUTH_GITHUB_CLIENT_ID": "id"})
    with pytest.raises(ConfigError, match="OAUTH_OKTA_DOMAIN is not"):
        configured_providers({"OAUTH_OKTA_CLIENT_ID": "id", "OAUTH_OKTA_CLIENT_SECRET": "s"})
    with pytest.raises(ConfigError, match="OAUTH_GENERIC_DISCOVERY_URL"):
        configured_providers({"OAUTH_GENERIC_CLIENT_ID": "id", "OAUTH_GENERIC_CLIENT_SECRET": "s"})
    with pytest.raises(ConfigError, match="OAUTH_GENERIC_CLIENT_ID"):
        configured_providers({"OAUTH_GENERIC_DISCOVERY_URL": "https://id.example/x"})


def test_the_default_user_follows_each_providers_data() -> None:
    env = {
        "OAUTH_GITHUB_CLIENT_ID": "id",
        "OAUTH_GITHUB_CLIENT_SECRET": "s",
        "OAUTH_AZURE_AD_CLIENT_ID": "id",
        "OAUTH_AZURE_AD_CLIENT_SECRET": "s",
        "OAUTH_AZURE_AD_TENANT_ID": "t",
        "OAUTH_GOOGLE_CLIENT_ID": "id",
        "OAUTH_GOOGLE_CLIENT_SECRET": "s",
    }
    found = by_slug(env)
    github = found["github"].default_user(
        {"login": "octo", "name": "Octo Cat", "avatar_url": "https://a.example/o.png"}
    )
    assert github == User(
        identifier="octo",
        display_name="Octo Cat",
        metadata={"provider": "github", "image": "https://a.example/o.png"},
    )
    assert found["github"].default_user({"login": "octo"}).display_name == "octo"
    azure = found["azure-ad"].default_user(
        {"userPrincipalName": "ada@corp.example", "displayName": "Ada"}
    )
    assert azure == User(
        identifier="ada@corp.example",
        display_name="Ada",
        metadata={"provider": "azure-ad", "image": ""},
    )
    google = found["google"].default_user({"sub": "1", "email": "ada@example.com"})
    assert (google.identifier, google.display_name) == ("ada@example.com", None)
    # No identifier: the callback gets an empty one and must decide itself.
    assert found["google"].default_user({"sub": "1"}).identifier == ""


# -- turning it on --------------------------------------------------------------------------


def test_the_oauth_callback_follows_chainlit(monkeypatch: pytest.MonkeyPatch) -> None:
    app = LightChat()
    with pytest.raises(ConfigError, match="def auth\\(provider_id, token, raw_user_data"):
        app.oauth_callback(lambda provider_id, token, raw_user_data: None)
    with pytest.raises(ConfigError, match="default_user, id_token=None"):
        app.oauth_callback(lambda a, b, c, d, e, f: None)

    def four(provider_id: str, token: str, raw_user_data: dict[str, Any], user: User) -> None:
        return None

    def five(
        provider_id: str, token: str, raw: dict[str, Any], user: User, id_token: str | None
    ) -> None:
        return None

    assert app.oauth_callback(four) is four
    assert app.oauth_callback(five) is five
    assert cl.oauth_callback == cl.default_app.oauth_callback
    assert "oauth_callback" in cl.__all__
    assert cl.__all__ == sorted(cl.__all__)


def test_oauth_needs_a_secret_and_a_provider(tmp_path: Path) -> None:
    env = {"OAUTH_GITHUB_CLIENT_ID": "id", "OAUTH_GITHUB_CLIENT_SECRET": "s"}
    callbacks = {"oauth_callback": lambda a, b, c, d: d}
    with pytest.raises(ConfigError, match="LIGHTCHAT_AUTH_SECRET"):
        Auth.for_app(callbacks, Settings(), env)
    with pytest.raises(ConfigError, match="OAUTH_GITHUB_CLIENT_ID"):
        Auth.for_app(callbacks, Settings(auth_secret=SECRET), {})
    with pytest.raises(ConfigError, match="LIGHTCHAT_URL"):
        Auth.for_app(callbacks, Settings(auth_secret=SECRET, url="chat.example.com"), env)
    auth = Auth.for_app(callbacks, Settings(auth_secret=SECRET), env)
    assert auth is not None
    assert list(auth.providers) == ["github"]
    # Provider variables without @oauth_callback offer nothing.
    password = Auth.for_app(
        {"password_auth_callback": lambda u, p: None}, Settings(auth_secret=SECRET), env
    )
    assert password is not None
    assert password.providers == {}
    # CHAINLIT_URL stands in for LIGHTCHAT_URL.
    assert Settings.from_env({"CHAINLIT_URL": "https://c.example"}).url == "https://c.example"
    both = {"CHAINLIT_URL": "https://c.example", "LIGHTCHAT_URL": "https://l.example"}
    assert Settings.from_env(both).url == "https://l.example"


# -- the login page -------------------------------------------------------------------------


async def test_the_login_page_offers_each_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Serve
) -> None:
    provider_env(
        monkeypatch,
        {
            "OAUTH_GITHUB_CLIENT_ID": "id",
            "OAUTH_GITHUB_CLIENT_SECRET": "s",
            "OAUTH_GENERIC_CLIENT_ID": "id",
            "OAUTH_GENERIC_CLIENT_SECRET": "s",
            "OAUTH_GENERIC_DISCOVERY_URL": "https://id.example/.well-known/openid-configuration",
            "OAUTH_GENERIC_NAME": "Corp ID",
        },
    )
    app, _ = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        # Not signed in: the gate sends pages to the login page, which has only the links.
        home = await client.get("/history")
        assert home.status_code == 303
        assert home.headers["location"] == "/login?next=%2Fhistory"
        page = await client.get(home.headers["location"])
        assert page.status_code == 200
        assert 'role="alert"' not in page.text
        assert 'name="password"' not in page.text
        links = re.findall(
            r'<a class="lc-button lc-provider" href="([^"]+)">([^<]+)</a>', page.text
        )
        assert [(html.unescape(url), name) for url, name in links] == [
            ("/auth/oauth/github?next=%2Fhistory", "Continue with GitHub"),
            ("/auth/oauth/generic?next=%2Fhistory", "Continue with Corp ID"),
        ]
        plain = await client.get("/login")
        assert 'href="/auth/oauth/github">Continue with GitHub</a>' in plain.text
        # GitHub needs no discovery: starting goes straight to its authorization page.
        started = await client.get("/auth/oauth/github")
        assert started.status_code == 303
        assert started.headers["location"].startswith("https://github.com/login/oauth/authorize?")
        assert (await client.get("/auth/oauth/nowhere")).status_code == 404
        assert (await client.get("/auth/oauth/google/callback")).status_code == 404

    app, _ = oauth_app(tmp_path, password=True)
    async with browser(serve, app) as client:
        login = (await client.get("/login")).text
        assert '<button type="submit" class="lc-button lc-primary">Sign in</button>' in login
        assert '<p class="lc-login-or">or</p>' in login
        assert login.index("Sign in</button>") < login.index("Continue with GitHub")


async def test_provider_names_stay_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Serve
) -> None:
    provider_env(
        monkeypatch,
        {
            "OAUTH_GENERIC_CLIENT_ID": "id",
            "OAUTH_GENERIC_CLIENT_SECRET": "s",
            "OAUTH_GENERIC_DISCOVERY_URL": "https://id.example/.well-known/openid-configuration",
            "OAUTH_GENERIC_NAME": PAYLOADS[0],
        },
    )
    app, _ = oauth_app(tmp_path)
    client = app.build().state.services.auth.providers["generic"]
    # From the environment, the name is the label, its runs of spaces made one.
    assert client.provider.label == " ".join(PAYLOADS[0].split())

    async def structure(label: str) -> list[tuple[str, tuple[str, ...]]]:
        client.provider = dataclasses.replace(client.provider, label=label)
        page = (await visitor.get("/login")).text
        main = page[page.index('<main class="lc-page lc-login">') : page.index("</main>")]
        link = re.search(r'class="lc-button lc-provider" href="[^"]*">([^<]*)</a>', main)
        assert link is not None, main
        assert html.unescape(link[1]) == f"Continue with {label}"
        return tag_structure(main)

    async with serve(app, form_token=False) as site:
        visitor = site.browser()
        plain = await structure("plain")
        for payload in PAYLOADS:
            assert await structure(payload) == plain, payload


# -- the whole flow, with a real OpenID Connect provider ------------------------------------


async def test_signing_in_with_an_openid_connect_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(monkeypatch, oidc.env())
    store = MemoryStore()
    app, calls = oauth_app(tmp_path, store=store)
    async with browser(serve, app, lifespan=True) as client:
        assert app.history is not None  # it opened with the lifespan
        start = await client.get("/auth/oauth/generic", params={"next": "/history"})
        assert start.status_code == 303
        assert start.headers["cache-control"] == "no-store"
        to = urlsplit(start.headers["location"])
        assert f"{to.scheme}://{to.netloc}" == oidc.issuer
        query = {k: v[0] for k, v in parse_qs(to.query).items()}
        assert query["client_id"] == CLIENT_ID
        assert query["redirect_uri"] == CALLBACK
        assert query["response_type"] == "code"
        assert query["scope"] == "openid profile email"
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43
        assert len(query["state"]) >= 20
        assert len(query["nonce"]) >= 20
        flow = set_cookies(start)[OAUTH_COOKIE]
        assert "httponly" in flow
        assert "samesite=lax" in flow
        assert "path=/auth/oauth" in flow
        assert "max-age=600" in flow
        assert "secure" not in flow
        # The verifier never goes to the provider's page: only its challenge.
        assert "code_verifier" not in start.headers["location"]

        back = await at_provider(client, start)
        assert back.status_code == 303, back.text
        assert back.headers["location"] == "/history"
        cookies = set_cookies(back)
        assert "max-age=0" in cookies[OAUTH_COOKIE]
        session_cookie = cookies[SESSION_COOKIE]
        assert "httponly" in session_cookie
        assert "samesite=lax" in session_cookie
        assert f"max-age={15 * 24 * 3600}" in session_cookie

        [(provider_id, token, raw, default_user, id_token)] = calls.args
        assert provider_id == PROVIDER_NAME
        assert isinstance(token, str)
        assert token
        assert raw["sub"] == "ada"
        assert raw["email"] == "ada@example.com"
        assert raw["name"] == "Ada Lovelace"
        assert default_user == User(
            identifier="ada@example.com",
            display_name="Ada Lovelace",
            metadata={"provider": PROVIDER_NAME, "image": "https://example.com/ada.png"},
        )
        assert isinstance(id_token, str)
        assert id_token.count(".") == 2

        # Signed in, as with a password: the user menu, the chat's user, the data layer.
        chat = await client.get("/")
        assert chat.status_code == 303
        page = await client.get(chat.headers["location"])
        assert '<summary role="button" class="lc-new">Ada Lovelace</summary>' in page.text
        assert app.chats is not None
        session = app.chats.get(chat.headers["location"].rsplit("/", 1)[1], "user:ada@example.com")
        assert session is not None
        assert session.user == default_user
        auth = app.build().state.services.auth
        await asyncio.gather(*auth.background)
        stored = await store.get_user("ada@example.com")
        assert stored is not None
        assert stored.display_name == "Ada Lovelace"

        # The provider's answer again (a reload): the user is in, so on to the home page.
        reloaded = await client.get(str(back.request.url))
        assert reloaded.status_code == 303
        assert reloaded.headers["location"] == "/"
        assert calls.args[1:] == []

        # Signed in already: starting again goes straight on.
        again = await client.get("/auth/oauth/generic", params={"next": "/history"})
        assert again.status_code == 303
        assert again.headers["location"] == "/history"


async def test_signing_in_with_a_plain_oauth_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    # Chainlit's generic provider: explicit URLs, the user from the user info endpoint,
    # the client's secret in the token request's body; no ID token is checked or passed.
    provider_env(monkeypatch, oidc.plain_oauth_env(name="Corp"))
    app, calls = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        start = await client.get("/auth/oauth/generic")
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["client_id"] == [f"{CLIENT_ID}-post"]
        assert query["code_challenge_method"] == ["S256"]
        back = await at_provider(client, start)
        assert back.status_code == 303, back.text
        assert back.headers["location"] == "/"
        [(provider_id, _, raw, default_user, id_token)] = calls.args
        assert (provider_id, raw["sub"], id_token) == ("Corp", "ada", None)
        assert default_user == User(
            identifier="ada@example.com",
            display_name="Ada Lovelace",
            metadata={"provider": "Corp", "image": "https://example.com/ada.png"},
        )
        assert SESSION_COOKIE in set_cookies(back)


async def test_a_user_the_app_refuses_gets_an_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(monkeypatch, oidc.env())
    app, calls = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        back = await at_provider(client, await client.get("/auth/oauth/generic"), login="bob")
        assert back.status_code == 401
        assert alert(back) == NOT_ALLOWED
        assert SESSION_COOKIE not in set_cookies(back)
        assert "max-age=0" in set_cookies(back)[OAUTH_COOKIE]
        assert 'href="/auth/oauth/generic">Continue with Test ID</a>' in back.text
        assert calls.args[0][3].identifier == "bob@example.com"
        assert (await client.get("/history")).status_code == 303  # still not signed in

    failing, _ = oauth_app(tmp_path, fail=True)
    async with browser(serve, failing) as client:
        back = await at_provider(client, await client.get("/auth/oauth/generic"))
        assert back.status_code == 500
        assert alert(back) == "Signing in failed on the server. Try again later."
        assert SESSION_COOKIE not in set_cookies(back)


@pytest.mark.parametrize("kind", ["openid", "plain"])
async def test_an_email_the_provider_has_not_verified_does_not_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, kind: str, serve: Serve
) -> None:
    # eve typed ada's address at the provider, which says it never checked it: signing
    # her in would hand her ada's chats.
    env = oidc.env() if kind == "openid" else oidc.plain_oauth_env(name=PROVIDER_NAME)
    provider_env(monkeypatch, env)
    app, calls = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        back = await at_provider(client, await client.get("/auth/oauth/generic"), login="eve")
        assert back.status_code == 401
        assert alert(back) == (
            "Test ID has not verified this account's email address, so it may not sign in. "
            "Verify it with Test ID, then try again."
        )
        assert SESSION_COOKIE not in set_cookies(back)
        assert calls.args == []  # the app's callback never saw it
        assert (await client.get("/history")).status_code == 303  # still not signed in

    # An app that allows it (its callback checks the address some other way).
    allowing, calls = oauth_app(tmp_path, oauth_allow_unverified_email=True)
    async with browser(serve, allowing) as client:
        back = await at_provider(client, await client.get("/auth/oauth/generic"), login="eve")
        assert back.status_code == 303, back.text
        assert SESSION_COOKIE in set_cookies(back)
        [(_, _, raw, default_user, _)] = calls.args
        assert raw["email_verified"] is False
        assert default_user.identifier == "ada@example.com"


def test_which_emails_count_as_unverified() -> None:
    env = {
        "OAUTH_GITHUB_CLIENT_ID": "id",
        "OAUTH_GITHUB_CLIENT_SECRET": "s",
        "OAUTH_GOOGLE_CLIENT_ID": "id",
        "OAUTH_GOOGLE_CLIENT_SECRET": "s",
    }
    found = by_slug(env)
    google = found["google"]
    email = {"email": "ada@example.com"}
    assert not google.unverified_email(email)  # no claim: the provider's word
    assert not google.unverified_email({**email, "email_verified": True})
    assert not google.unverified_email({**email, "email_verified": "true"})
    for unverified in (False, "false", "False", None, 0, "yes"):
        assert google.unverified_email({**email, "email_verified": unverified}), unverified
    # GitHub knows its users by their login, not by an email address.
    assert not found["github"].unverified_email({"login": "octo", "email_verified": False})
    assert Settings.from_env(
        {"LIGHTCHAT_OAUTH_ALLOW_UNVERIFIED_EMAIL": "true"}
    ).oauth_allow_unverified_email


async def test_cancelling_at_the_provider_shows_an_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(monkeypatch, oidc.env())
    app, calls = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        start = await client.get("/auth/oauth/generic", params={"next": "/history"})
        back = await at_provider(client, start, cancel=True)
        assert back.status_code == 401
        assert alert(back) == "Test ID did not sign you in. Try again."
        assert SESSION_COOKIE not in set_cookies(back)
        assert calls.args == []
        # The login page keeps where the user was going.
        assert 'href="/auth/oauth/generic?next=%2Fhistory"' in back.text


async def test_a_state_that_does_not_match_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(monkeypatch, oidc.env())
    app, calls = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        start = await client.get("/auth/oauth/generic")
        # Sign in at the provider, but stop before the browser goes back to the app.
        response = start
        while True:
            location = response.headers.get("location")
            if location is not None and location.startswith(CALLBACK):
                break
            if location is not None:
                response = await client.get(urljoin(str(response.url), location))
                continue
            prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert prompt is not None
            assert action is not None
            data = {"prompt": prompt[1], "login": "ada", "password": "x"}
            url = urljoin(str(response.url), html.unescape(action[1]))
            response = await client.post(url, data=data)
        answer = urlsplit(location)
        params = {k: v[0] for k, v in parse_qs(answer.query).items()}
        assert params["code"]

        # Another state with the real code (a forged or crossed answer): refused.
        forged = await client.get(CALLBACK, params={**params, "state": "not-the-state"})
        assert forged.status_code == 400
        assert alert(forged) == EXPIRED
        assert SESSION_COOKIE not in set_cookies(forged)
        # The refusal used the sign-in up: the real answer is refused now too.
        real = await client.get(location)
        assert real.status_code == 400
        assert alert(real) == EXPIRED
        assert calls.args == []


async def test_a_missing_or_expired_state_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(
        monkeypatch,
        {**oidc.env(), "OAUTH_GITHUB_CLIENT_ID": "id", "OAUTH_GITHUB_CLIENT_SECRET": "s"},
    )
    app, calls = oauth_app(tmp_path)
    auth = app.build().state.services.auth
    async with browser(serve, app) as client:
        # No cookie at all (another browser, or cookies off).
        bare = await client.get(CALLBACK, params={"code": "c", "state": "s"})
        assert bare.status_code == 400
        assert alert(bare) == EXPIRED

        # A sign-in that took too long: its cookie has expired on the server.
        start = await client.get("/auth/oauth/generic")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        clock = auth.flows.clock
        monkeypatch.setattr(auth.flows, "clock", lambda: clock() + 601)
        late = await client.get(CALLBACK, params={"code": "c", "state": state})
        assert late.status_code == 400
        assert alert(late) == EXPIRED
        monkeypatch.setattr(auth.flows, "clock", clock)

        # A cookie signed with another secret.
        forged = OAuthFlows("another-secret-" + "y" * 40).issue(
            {
                "provider": "generic",
                "state": "s",
                "verifier": "v",
                "nonce": "n",
                "redirect_uri": CALLBACK,
                "next": "/",
            }
        )
        client.cookies.set(OAUTH_COOKIE, forged, domain="testserver", path="/auth/oauth")
        refused = await client.get(CALLBACK, params={"code": "c", "state": "s"})
        assert refused.status_code == 400
        assert alert(refused) == EXPIRED

        # The cookie of a sign-in with another provider.
        client.cookies.clear()
        github = await client.get("/auth/oauth/github")
        state = parse_qs(urlsplit(github.headers["location"]).query)["state"][0]
        crossed = await client.get(CALLBACK, params={"code": "c", "state": state})
        assert crossed.status_code == 400
        assert alert(crossed) == EXPIRED
        assert calls.args == []


async def test_next_is_kept_and_only_ever_a_path_inside_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(monkeypatch, oidc.env())
    app, _ = oauth_app(tmp_path)
    for wanted, expected in [
        ("/history?x=1", "/history?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/login", "/"),
        ("/auth/oauth/generic/callback", "/"),
    ]:
        async with browser(serve, app) as client:
            start = await client.get("/auth/oauth/generic", params={"next": wanted})
            back = await at_provider(client, start)
            assert back.status_code == 303, back.text
            assert back.headers["location"] == expected, wanted

    # Mounted under a prefix: the redirect URI, the cookies and next stay under it.
    async with browser(serve, app, root_path="/app") as client:
        start = await client.get("/app/auth/oauth/generic", params={"next": "/elsewhere"})
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["redirect_uri"] == [MOUNTED_CALLBACK]
        assert "path=/app/auth/oauth" in set_cookies(start)[OAUTH_COOKIE]
        back = await at_provider(client, start)
        assert back.status_code == 303, back.text
        assert back.headers["location"] == "/app/"
        assert "path=/app" in set_cookies(back)[SESSION_COOKIE]


async def test_the_redirect_uri_follows_the_apps_public_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    provider_env(monkeypatch, oidc.env())
    for url, root, expected in [
        ("https://chat.example.com", "", "https://chat.example.com/auth/oauth/generic/callback"),
        (
            "https://chat.example.com/",
            "/app",
            "https://chat.example.com/app/auth/oauth/generic/callback",
        ),
        (
            "https://example.com/chat",
            "/app",
            "https://example.com/chat/auth/oauth/generic/callback",
        ),
    ]:
        app, _ = oauth_app(tmp_path, url=url)
        async with browser(serve, app, root_path=root) as client:
            start = await client.get(f"{root}/auth/oauth/generic")
            query = parse_qs(urlsplit(start.headers["location"]).query)
            assert query["redirect_uri"] == [expected], url
            # The same URI goes with the code to the token endpoint (kept in the cookie).
            kept = app.build().state.services.auth.flows.load(client.cookies.get(OAUTH_COOKIE))
            assert kept is not None
            assert kept["redirect_uri"] == expected


async def test_a_provider_that_cannot_be_reached_or_checked_gets_an_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oidc: OIDCProvider, serve: Serve
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"
    provider_env(monkeypatch, {**oidc.env(), "OAUTH_GENERIC_DISCOVERY_URL": closed})
    app, _ = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        start = await client.get("/auth/oauth/generic")
        assert start.status_code == 502
        assert alert(start) == "Test ID could not be reached. Try again later."
        assert OAUTH_COOKIE not in set_cookies(start)

    # A discovery document whose issuer is not the address it came from is not trusted.
    port = urlsplit(oidc.issuer).port
    elsewhere = f"http://localhost:{port}/.well-known/openid-configuration"
    monkeypatch.setenv("OAUTH_GENERIC_DISCOVERY_URL", elsewhere)
    app, _ = oauth_app(tmp_path)
    async with browser(serve, app) as client:
        start = await client.get("/auth/oauth/generic")
        assert start.status_code == 401
        assert alert(start) == "Signing in with Test ID failed. Try again."
