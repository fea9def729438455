"""Signing in with an access token over HTTP: custom auth (``LIGHTCHAT_CUSTOM_AUTH``),
``POST /auth/jwt`` and its page for the copilot's frame, the cookies' attributes when other
sites frame the app, and Chainlit's ``lightchat.auth`` functions in routes the app adds to
``lightchat.server.app`` (FastAPI), served as ``lightchat serve`` serves them.

The widget signing in with its ``accessToken`` in a real browser: tests/e2e/test_copilot_auth.py.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response

import lightchat
import lightchat as cl
import lightchat.cli
from lightchat import LightChat, Settings, User
from lightchat.auth import (
    authenticate_user,
    clear_auth_cookie,
    create_jwt,
    decode_jwt,
    get_configuration,
    get_current_user,
    get_token_from_cookies,
    set_auth_cookie,
)
from lightchat.auth.sessions import SESSION_COOKIE
from lightchat.auth.tokens import AccessTokens
from tests.helpers import CHAT_URL, Serve, Site

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = "jwt-secret-" + "j" * 40
OTHER_SECRET = "not-the-app-" + "n" * 40
REFUSED = "This access token was refused: it is malformed, or not signed with this app's secret."
EXPIRED = "This access token has expired: reload the page that opened the chat to get a new one."
MISSING = (
    "No access token came with this request: send one in the Authorization header "
    "(Bearer <token>), or sign in first."
)
PORTAL = "https://portal.example"


def custom_app(tmp_path: Path, **settings: Any) -> LightChat:
    """An app whose users come signed in from its own site (custom auth): it greets them."""
    defaults: dict[str, Any] = {"custom_auth": True, "history": False}
    app = LightChat(
        settings=Settings(
            name="Custom", auth_secret=SECRET, app_dir=str(tmp_path), **{**defaults, **settings}
        )
    )

    @app.on_chat_start
    async def start() -> None:
        user = cl.user_session.get("user")
        await cl.Message(content=f"Hello {user.identifier} ({user.metadata['plan']})").send()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content=f"Echo: {message.content}").send()

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ada_token(secret: str = SECRET, max_age_s: int = 3600) -> str:
    """A token for ada, as the app's own site makes it (with the same secret)."""
    return AccessTokens(secret, max_age_s).create(User(identifier="ada", metadata={"plan": "pro"}))


def cookie_attributes(response: httpx.Response, name: str = SESSION_COOKIE) -> list[str]:
    """The attributes of the Set-Cookie for ``name``, lower-cased."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return [part.strip().lower() for part in header.split(";")]
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers}")


async def greeting(site: Site, client: httpx.AsyncClient) -> str:
    """Open a new chat as ``client``; the app's first message in it."""
    opened = await client.get("/")
    assert opened.status_code == 303, opened.text
    url = opened.headers["location"]
    assert CHAT_URL.match(url), url
    await site.idle(site.session("user:ada", url))
    page = (await client.get(url)).text
    found = re.search(r"Hello [^<]*", page)
    assert found is not None, page
    return found.group(0)


# -- custom auth and POST /auth/jwt -----------------------------------------------------------


async def test_custom_auth_turns_sign_in_on_and_a_token_signs_in(
    tmp_path: Path, serve: Serve
) -> None:
    app = custom_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        assert (await client.get("/")).headers["location"] == "/login"
        login = await client.get("/login")
        assert login.status_code == 401  # no form of its own: users come from the app's site
        assert "You are not signed in." in login.text

        signed = await client.post("/auth/jwt", headers=bearer(ada_token()))
        assert signed.status_code == 200, signed.text
        assert signed.json() == {"success": True}
        assert signed.headers["cache-control"] == "no-store"
        attributes = cookie_attributes(signed)  # the same as the login form's
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert f"max-age={15 * 24 * 3600}" in attributes
        assert "secure" not in attributes
        assert await greeting(site, client) == "Hello ada (pro)"


async def test_a_token_signs_in_to_a_password_app_too(tmp_path: Path, serve: Serve) -> None:
    app = custom_app(tmp_path, custom_auth=False)

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return None

    async with serve(app, opened_page=True) as site:
        client = site.browser()
        signed = await client.post("/auth/jwt", headers=bearer(ada_token()))
        assert signed.status_code == 200
        assert await greeting(site, client) == "Hello ada (pro)"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, MISSING),
        ({"Authorization": "Basic YWRhOnB3"}, MISSING),
        ({"Authorization": "Bearer"}, MISSING),
        (bearer("not.a.token"), REFUSED),
        (bearer(ada_token(OTHER_SECRET)), REFUSED),
        (bearer(ada_token(max_age_s=-3600)), EXPIRED),
        (bearer(ada_token()[:-4] + "AAAA"), REFUSED),
    ],
)
async def test_a_missing_forged_or_expired_token_signs_nobody_in(
    tmp_path: Path, serve: Serve, headers: dict[str, str], detail: str
) -> None:
    app = custom_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        refused = await client.post("/auth/jwt", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {"detail": detail}
        assert refused.headers["www-authenticate"] == "Bearer"
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
        assert (await client.get("/")).headers["location"] == "/login"


async def test_the_refusal_is_in_the_browsers_language(tmp_path: Path, serve: Serve) -> None:
    app = custom_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser(headers={"Accept-Language": "fr-FR"})
        refused = await client.post("/auth/jwt", headers=bearer(ada_token(OTHER_SECRET)))
        assert refused.json()["detail"].startswith("Ce jeton d'accès a été refusé")


async def test_another_site_cannot_sign_the_visitor_in(tmp_path: Path, serve: Serve) -> None:
    """Login CSRF: a page of another site cannot make the visitor's browser sign in as
    someone else, even with a good token for that someone."""
    app = custom_app(tmp_path)
    async with serve(app, form_token=False) as site:
        client = site.browser()
        await client.get("/login")  # the visitor has the app's cookie
        token = ada_token()
        # A form post (a form cannot set Authorization: the token would be a field).
        as_form = await client.post("/auth/jwt", data={"token": token})
        assert as_form.status_code == 403
        # A script of another site, without the form token it cannot read.
        cross = await client.post(
            "/auth/jwt",
            headers={
                **bearer(token),
                "Origin": "https://evil.example",
                "Sec-Fetch-Site": "cross-site",
            },
        )
        assert cross.status_code == 403
        same_origin_without_form_token = await client.post("/auth/jwt", headers=bearer(token))
        assert same_origin_without_form_token.status_code == 403
        assert (await client.get("/")).headers["location"] == "/login"


async def test_a_good_token_posted_from_another_origin_is_refused(
    tmp_path: Path, serve: Serve
) -> None:
    app = custom_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        cross = await client.post(
            "/auth/jwt", headers={**bearer(ada_token()), "Origin": "https://evil.example"}
        )
        assert cross.status_code == 403  # form token or not, the Origin is checked
        assert SESSION_COOKIE not in cross.headers.get("set-cookie", "")


async def test_an_app_without_sign_in_has_no_token_sign_in(tmp_path: Path, serve: Serve) -> None:
    app = custom_app(tmp_path, custom_auth=False)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        assert (await client.post("/auth/jwt", headers=bearer(ada_token()))).status_code == 404
        assert (await client.get("/auth/jwt")).status_code == 404


# -- the copilot frame's sign-in page ----------------------------------------------------------


async def test_the_sign_in_page_of_the_copilots_frame(tmp_path: Path, serve: Serve) -> None:
    app = custom_app(tmp_path, frame_ancestors=f"'self' {PORTAL}")
    async with serve(app) as site:
        client = site.browser()
        page = await client.get("/auth/jwt", params={"next": "/chat/abc/copilot"})
        assert page.status_code == 200  # open before sign-in, as the login page is
        assert page.headers["cache-control"] == "no-store"
        html = page.text
        assert 'id="lc-token-sign-in"' in html
        assert 'data-action="/auth/jwt" data-next="/chat/abc/copilot"' in html
        frame_ancestors = "&#39;self&#39; https://portal.example"
        assert f'<meta name="lc-frame-ancestors" content="{frame_ancestors}">' in html
        # The script that asks the widget, among the page's scripts (joined in one file).
        scripts = re.findall(r'<script src="/-/static/([^"?]+)', html)
        assert "lightchat.framed.js" in scripts[0].split("+")
        assert 'role="alert" hidden' in html
        assert "<h1>Signing in…</h1>" in html
        assert re.search(r"<script(?![^>]*\ssrc=)", html) is None  # no inline script
        assert f"frame-ancestors 'self' {PORTAL}" in page.headers["content-security-policy"]
        assert COOKIE_NAME in page.headers.get("set-cookie", "")  # its form can post

        for wanted in ("https://evil.example/", "//evil.example", "/auth/jwt", "/login"):
            elsewhere = await client.get("/auth/jwt", params={"next": wanted})
            assert 'data-next="/"' in elsewhere.text, wanted


COOKIE_NAME = "lightchat_browser"


# -- the cookies when other sites frame the app -------------------------------------------------


@pytest.mark.parametrize(
    ("frame_ancestors", "scheme", "expected", "absent"),
    [
        (f"'self' {PORTAL}", "https", ["samesite=none", "secure", "partitioned"], []),
        (f"'self' {PORTAL}", "http", ["samesite=lax"], ["secure", "partitioned"]),
        ("'self'", "https", ["samesite=lax", "secure"], ["partitioned"]),
    ],
)
async def test_the_session_cookie_reaches_frames_on_other_sites_only_when_needed(
    tmp_path: Path,
    serve: Serve,
    frame_ancestors: str,
    scheme: str,
    expected: list[str],
    absent: list[str],
) -> None:
    app = custom_app(tmp_path, frame_ancestors=frame_ancestors)
    async with serve(app, base_url=f"{scheme}://testserver", opened_page=True) as site:
        client = site.browser()
        signed = await client.post("/auth/jwt", headers=bearer(ada_token()))
        attributes = cookie_attributes(signed)
        assert "httponly" in attributes
        assert all(part in attributes for part in expected), attributes
        assert not any(part in attributes for part in absent), attributes
        out = await client.post("/logout")
        gone = cookie_attributes(out)
        assert "max-age=0" in gone
        # A partitioned cookie is only deleted by a partitioned Set-Cookie.
        assert ("partitioned" in gone) == ("partitioned" in expected)


# -- lightchat.auth in the app's own routes (lightchat.server.app) ------------------------------


@pytest.fixture
def server_app() -> Iterator[FastAPI]:
    """A fresh ``lightchat.server.app`` for this test (the module is imported anew, and the
    one imported before, if any, comes back afterwards)."""
    saved = sys.modules.pop("lightchat.server", None)
    module = importlib.import_module("lightchat.server")
    app: FastAPI = module.app
    yield app
    sys.modules.pop("lightchat.server", None)
    if saved is not None:
        sys.modules["lightchat.server"] = saved
        lightchat.server = saved
    elif hasattr(lightchat, "server"):
        delattr(lightchat, "server")


def add_routes(server: FastAPI) -> None:
    """Routes an app adds, as a Chainlit app does with ``chainlit.server.app``."""

    @server.get("/api/me")
    async def me(user: Annotated[User | None, Depends(get_current_user)]) -> dict[str, Any]:
        return {"identifier": user.identifier if user else None}

    @server.get("/api/strict")
    async def strict(user: Annotated[User, Depends(authenticate_user)]) -> dict[str, Any]:
        return {"identifier": user.identifier, "metadata": user.metadata}

    @server.get("/api/token")
    async def token(request: Request) -> dict[str, Any]:
        return {"token": get_token_from_cookies(request.cookies)}

    @server.get("/api/config")
    async def config() -> dict[str, Any]:
        return get_configuration()

    @server.get("/custom-login")
    async def custom_login(request: Request, response: Response) -> dict[str, Any]:
        # The app's own sign-in: it knows its user, and signs them into the chat.
        made = create_jwt(User(identifier="ada", metadata={"plan": "team"}))
        set_auth_cookie(request, response, made)
        return {"signed_in": decode_jwt(made).identifier}

    @server.get("/custom-logout")
    async def custom_logout(request: Request, response: Response) -> dict[str, Any]:
        clear_auth_cookie(request, response)
        return {"signed_out": True}


@pytest.fixture
async def served_client(
    tmp_path: Path, server_app: FastAPI, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """The chat with the app's routes in front of it, served as ``lightchat serve`` serves
    them (``lightchat.cli.served``); ``custom_auth`` from the test's parameter."""
    app = custom_app(tmp_path, custom_auth=getattr(request, "param", True))
    add_routes(server_app)
    asgi = lightchat.cli.served(app)
    assert asgi is server_app
    transport = httpx.ASGITransport(app=asgi)
    async with (
        server_app.router.lifespan_context(server_app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def test_get_current_user_reads_the_chats_session_or_a_bearer_token(
    served_client: httpx.AsyncClient,
) -> None:
    client = served_client
    nobody = await client.get("/api/me")
    assert nobody.status_code == 401
    assert nobody.json() == {"detail": MISSING}
    assert nobody.headers["www-authenticate"] == "Bearer"

    # A bearer token (another server of the site, a script): no cookie needed.
    assert (await client.get("/api/me", headers=bearer(ada_token()))).json() == {
        "identifier": "ada"
    }
    forged = await client.get("/api/strict", headers=bearer(ada_token(OTHER_SECRET)))
    assert (forged.status_code, forged.json()) == (401, {"detail": REFUSED})
    expired = await client.get("/api/me", headers=bearer(ada_token(max_age_s=-3600)))
    assert (expired.status_code, expired.json()) == (401, {"detail": EXPIRED})

    # Signed in to the chat (its session cookie): the same user in the app's routes.
    page = await client.get("/auth/jwt")
    form_token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert form_token is not None
    signed = await client.post(
        "/auth/jwt", headers={**bearer(ada_token()), "X-CSRF-Token": form_token.group(1)}
    )
    assert signed.status_code == 200
    assert (await client.get("/api/me")).json() == {"identifier": "ada"}
    assert (await client.get("/api/strict")).json() == {
        "identifier": "ada",
        "metadata": {"plan": "pro"},
    }


@pytest.mark.parametrize("served_client", [False], indirect=True)
async def test_without_sign_in_get_current_user_is_none(
    served_client: httpx.AsyncClient,
) -> None:
    assert (await served_client.get("/api/me")).json() == {"identifier": None}
    assert (await served_client.get("/api/strict")).status_code == 401
    assert (await served_client.get("/api/config")).json()["requireLogin"] is False
    assert (await served_client.get("/api/token")).json() == {"token": None}


async def test_the_apps_routes_sign_users_in_and_out_of_the_chat(
    served_client: httpx.AsyncClient,
) -> None:
    client = served_client
    assert (await client.get("/api/token")).json() == {"token": None}
    signed = await client.get("/custom-login")
    assert signed.json() == {"signed_in": "ada"}
    attributes = cookie_attributes(signed)
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes

    # The chat takes that session: its first message greets the user.
    opened = await client.get("/")
    assert CHAT_URL.match(opened.headers["location"]), opened.headers
    assert (await client.get("/api/me")).json() == {"identifier": "ada"}

    # The session as a token, lasting as long as the session.
    token = (await client.get("/api/token")).json()["token"]
    assert AccessTokens(SECRET, 3600).decode(token) == User(
        identifier="ada", metadata={"plan": "team"}
    )

    config = (await client.get("/api/config")).json()
    assert (config["requireLogin"], config["passwordAuth"], config["headerAuth"]) == (
        True,
        False,
        False,
    )

    session = client.cookies.get(SESSION_COOKIE)
    out = await client.get("/custom-logout")
    assert "max-age=0" in cookie_attributes(out)
    assert (await client.get("/api/me")).status_code == 401
    # The cookie signed out is refused from then on, even if a copy of it is sent again.
    client.cookies.set(SESSION_COOKIE, str(session))
    assert (await client.get("/api/me")).status_code == 401
    assert (await client.get("/")).headers["location"] == "/login"
