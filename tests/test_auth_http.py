"""Sign-in over HTTP: the gate, the login form, the session cookie, header sign-in,
signing out, and what belongs to whom once users sign in.

The app runs in-process (httpx's ASGI transport); the tests that need history run its
lifespan, with the history in a ``MemoryStore`` data layer. Each browser is an httpx client
with its own cookie jar and, where it matters, its own client address.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings, User, context, user_session
from lightchat.auth.identity import COOKIE
from lightchat.auth.sessions import SESSION_COOKIE, Auth, LoginLimiter, UserSessions, owner_key
from lightchat.domain.events import MessageData
from lightchat.errors import ConfigError
from lightchat.http.endpoints.auth import REFUSED
from lightchat.http.signin import safe_next
from lightchat.store import MemoryStore
from tests.helpers import CHAT_URL, HTMX, Serve, Site, tag_structure
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = "test-secret-" + "x" * 40
PASSWORDS = {"ada": "correct horse", "bob": "battery staple"}
NAMES = {"ada": "Ada Lovelace", "bob": None}


@dataclass
class Calls:
    """What the app's auth callbacks were called with."""

    header: int = 0
    logout: list[tuple[str, int]] = field(default_factory=list)


def guarded_app(
    tmp_path: Path,
    *,
    password: bool = True,
    header: bool = False,
    store: MemoryStore | None = None,
    names: dict[str, str | None] | None = None,
    **settings: Any,
) -> tuple[LightChat, Calls]:
    """An app with sign-in: ada and bob have passwords; ``x-user`` signs in by header."""
    app = LightChat(
        settings=Settings(
            name="Guarded",
            auth_secret=SECRET,
            app_dir=str(tmp_path),
            history=store is not None,
            **settings,
        )
    )
    calls = Calls()
    display = NAMES if names is None else names

    if password:

        @app.password_auth_callback
        def check(username: str, password: str) -> User | None:
            if PASSWORDS.get(username) == password or (username in display and password == "any"):
                return User(identifier=username, display_name=display.get(username))
            return None

    if header:

        @app.header_auth_callback
        async def from_proxy(headers: Any) -> User | None:
            calls.header += 1
            name = headers.get("x-user")
            return User(identifier=name, display_name=f"{name} (proxy)") if name else None

    @app.on_logout
    def logged_out(request: Any, response: Any) -> None:
        calls.logout.append((request.url.path, response.status_code))

    if store is not None:

        @app.data_layer
        def layer() -> MemoryStore:
            return store

    @app.on_chat_start
    async def start() -> None:
        user = context.session.user
        same = user is user_session.get("user")
        await Message(content=f"Hello {user.identifier}, same={same}").send()

    @app.on_message
    async def main(message: Message) -> None:
        notes = cl.File(name="notes.txt", content=b"private notes", display="inline")
        await Message(content=f"Echo: {message.content}", elements=[notes]).send()

    return app, calls


async def sign_in(client: httpx.AsyncClient, name: str = "ada", **extra: str) -> httpx.Response:
    """Sign ``name`` in with the login form (ada and bob with their passwords)."""
    data = {"username": name, "password": PASSWORDS.get(name, "any"), **extra}
    response = await client.post("/login", data=data)
    assert response.status_code == 303, response.text
    return response


def cookie_attributes(response: httpx.Response, name: str = SESSION_COOKIE) -> list[str]:
    """The attributes of the Set-Cookie for ``name``, lower-cased."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return [part.strip().lower() for part in header.split(";")]
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers}")


def login_next(response: httpx.Response) -> str | None:
    """The ``next`` of a redirect to the login page (None when it has none)."""
    location = response.headers.get("location") or response.headers["hx-redirect"]
    parts = urlsplit(location)
    assert parts.path == "/login", location
    return parse_qs(parts.query).get("next", [None])[0]


async def settled(site: Site) -> None:
    """Wait for the user records that sign-ins save in the background."""
    await asyncio.gather(*site.auth.background)


# -- the open app ---------------------------------------------------------------------------


async def test_without_an_auth_callback_the_app_stays_open(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=Settings(name="Open", app_dir=str(tmp_path), history=False))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=message.content).send()

    async with serve(app, opened_page=True) as site:
        assert site.services.auth is None
        client = site.browser()
        response = await client.get("/")
        assert response.status_code == 303
        assert CHAT_URL.match(response.headers["location"])
        assert COOKIE in client.cookies
        assert SESSION_COOKIE not in client.cookies
        page = await client.get(response.headers["location"])
        assert page.status_code == 200
        assert "lc-user-menu" not in page.text
        assert "Sign out" not in page.text
        assert (await client.get("/login")).status_code == 404
        assert (await client.post("/login", data={"username": "a"})).status_code == 404
        assert (await client.post("/logout")).status_code == 404


# -- the gate -------------------------------------------------------------------------------


async def test_pages_send_the_browser_to_the_login_page_with_a_safe_next(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        home = await client.get("/")
        assert home.status_code == 303
        assert home.headers["location"] == "/login"
        history = await client.get("/history", params={"q": "old"})
        assert history.status_code == 303
        assert login_next(history) == "/history?q=old"
        chat = await client.get(f"/chat/{'0' * 32}")
        assert login_next(chat) == f"/chat/{'0' * 32}"
        assert "Vary" in chat.headers
        # The browser cookie (it carries the login form's token) is all it was given.
        assert COOKIE in client.cookies
        assert SESSION_COOKIE not in client.cookies

        # A form posted without a session goes back to the page it came from, once signed in.
        posted = await client.post(
            f"/chat/{'0' * 32}/messages",
            data={"content": "hi"},
            headers={"Referer": f"http://testserver/chat/{'0' * 32}"},
        )
        assert posted.status_code == 303
        assert login_next(posted) == f"/chat/{'0' * 32}"
        elsewhere = await client.post(
            f"/chat/{'0' * 32}/stop", headers={"Referer": "http://evil.example/chat/x"}
        )
        assert elsewhere.headers["location"] == "/login"

        # htmx gets a 401 with HX-Redirect, back to the page it is on.
        fragment = await client.get(
            "/history",
            headers={**HTMX, "HX-Current-URL": f"http://testserver/chat/{'1' * 32}"},
        )
        assert fragment.status_code == 401
        assert login_next(fragment) == f"/chat/{'1' * 32}"
        foreign = await client.get(
            "/history", headers={**HTMX, "HX-Current-URL": "http://evil.example/x"}
        )
        assert foreign.headers["hx-redirect"] == "/login"
        # An address no parser reads (a host in brackets that does not close) names no page.
        broken = await client.get("/history", headers={**HTMX, "HX-Current-URL": "http://["})
        assert broken.headers["hx-redirect"] == "/login"
        posted = await client.post(f"/chat/{'0' * 32}/stop", headers={"Referer": "http://[::1"})
        assert posted.headers["location"] == "/login"

        # The event stream gets a 401, not a page.
        events = await client.get(f"/chat/{'0' * 32}/events")
        assert events.status_code == 401
        assert "location" not in events.headers

        # Open: the login page, static files, health and the sign-out post.
        assert (await client.get("/login")).status_code == 200
        assert (await client.get("/-/static/lightchat.css")).status_code == 200
        assert (await client.get("/-/health")).text == "ok"
        signed_out = await client.post("/logout")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/login"


def test_next_is_only_ever_a_path_inside_the_app() -> None:
    for hostile in [
        "//evil.example/",
        "///evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/chat/x\r\nSet-Cookie: a=b",
        "/chat/\x00",
        "evil.example",
        "",
        None,
        "/login",
        "/login?next=/x",
        "/logout",
        "/" + "a" * 3000,
    ]:
        assert safe_next(hostile, "") == "/", hostile
    assert safe_next("/chat/abc?prompt=hi", "") == "/chat/abc?prompt=hi"
    assert safe_next("/history", "") == "/history"
    # Under a prefix, only paths under it.
    assert safe_next("/app/chat/abc", "/app") == "/app/chat/abc"
    assert safe_next("/other/chat", "/app") == "/app/"
    assert safe_next("/application", "/app") == "/app/"
    assert safe_next("/app/login", "/app") == "/app/"


# -- the login form -------------------------------------------------------------------------


async def test_the_login_page_is_a_plain_accessible_form(tmp_path: Path, serve: Serve) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        page = (await site.browser().get("/login", params={"next": "/history"})).text
        assert '<form class="lc-login-form" method="post" action="/login">' in page
        assert '<label for="lc-username">Username</label>' in page
        assert 'id="lc-username" type="text" name="username"' in page
        assert '<label for="lc-password">Password</label>' in page
        assert 'id="lc-password" type="password" name="password"' in page
        assert 'autocomplete="current-password"' in page
        assert '<button type="submit" class="lc-button lc-primary">Sign in</button>' in page
        assert '<input type="hidden" name="next" value="/history">' in page
        assert 'role="alert"' not in page
        assert re.search(r"<script(?![^>]*\ssrc=)", page) is None  # no inline script
        assert page.startswith("<!doctype html>")


async def test_signing_in_sets_a_session_and_goes_on_to_next(tmp_path: Path, serve: Serve) -> None:
    app, _ = guarded_app(tmp_path, store=MemoryStore())
    async with serve(app, lifespan=True, opened_page=True) as site:
        client = site.browser()
        response = await sign_in(client, next="/history")
        assert response.headers["location"] == "/history"
        attributes = cookie_attributes(response)
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert f"max-age={15 * 24 * 3600}" in attributes
        assert "secure" not in attributes

        url = await site.chat(client)
        page = await client.get(url)
        assert page.status_code == 200
        assert '<summary role="button" class="lc-new">Ada Lovelace</summary>' in page.text
        assert 'method="post" action="/logout"' in page.text
        assert ">Sign out</button>" in page.text
        history = await client.get("/history")
        assert "Ada Lovelace</summary>" in history.text

        # A signed-in user who opens the login page goes straight on.
        again = await client.get("/login", params={"next": url})
        assert again.status_code == 303
        assert again.headers["location"] == url

        # bob has no display name: the menu is named by his identifier.
        other = site.browser()
        await sign_in(other, "bob")
        page = await other.get(await site.chat(other))
        assert '<summary role="button" class="lc-new">bob</summary>' in page.text


async def test_the_chat_knows_its_user(tmp_path: Path, serve: Serve) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        await sign_in(client)
        url = await site.chat(client, "hi")
        session = site.session("user:ada", url)
        assert session.owner == "user:ada" == owner_key(User(identifier="ada"))
        assert session.user == User(identifier="ada", display_name="Ada Lovelace")
        assert session.data["user"] is session.user
        page = (await client.get(url)).text
        assert "Hello ada, same=True" in page


async def test_a_refused_sign_in_says_so_without_saying_which_part(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        wrong_password = await client.post(
            "/login", data={"username": "ada", "password": "nope", "next": "/history"}
        )
        unknown_user = await client.post("/login", data={"username": "eve", "password": "x"})
        empty = await client.post("/login", data={})
        for response in (wrong_password, unknown_user, empty):
            assert response.status_code == 401
            assert SESSION_COOKIE not in client.cookies
            alert = re.search(r'<p id="lc-login-error"[^>]*role="alert">([^<]*)</p>', response.text)
            assert alert is not None, response.text
            assert alert.group(1) == REFUSED
        assert REFUSED == "Wrong user name or password."
        # The form comes back with the user name, never the password, and the same next.
        assert 'name="username" value="ada"' in wrong_password.text
        assert "nope" not in wrong_password.text
        assert 'name="next" value="/history"' in wrong_password.text
        assert 'aria-describedby="lc-login-error"' in wrong_password.text


async def test_failed_sign_ins_are_limited_per_user_name_and_per_address(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        now = [1000.0]
        site.auth.limiter = LoginLimiter(clock=lambda: now[0])
        attacker = site.browser(address="10.0.0.1")
        for _ in range(5):
            response = await attacker.post("/login", data={"username": "ada", "password": "x"})
            assert response.status_code == 401
        # The sixth try is refused before the password is checked, even the right one...
        blocked = await attacker.post(
            "/login", data={"username": "ADA ", "password": PASSWORDS["ada"]}
        )
        assert blocked.status_code == 429
        assert "Too many failed sign-ins. Try again in 15 minutes." in blocked.text
        assert 'role="alert"' in blocked.text
        assert blocked.headers["retry-after"] == "901"
        assert SESSION_COOKIE not in attacker.cookies
        # ...and from another address too: the count is per user name.
        elsewhere = site.browser(address="10.0.0.2")
        again = await elsewhere.post(
            "/login", data={"username": "ada", "password": PASSWORDS["ada"]}
        )
        assert again.status_code == 429
        # Another user name from the first address is still fine (5 < 20 per address).
        await sign_in(attacker, "bob")

        # Once the oldest failure leaves the window, ada may try again.
        now[0] += 15 * 60 + 1
        await sign_in(elsewhere, "ada")

        # Per address: 20 failures with as many names, then even a new name waits.
        spray = site.browser(address="10.0.0.3")
        for number in range(20):
            failed = await spray.post("/login", data={"username": f"u{number}", "password": "x"})
            assert failed.status_code == 401
        refused = await spray.post("/login", data={"username": "bob", "password": "x"})
        assert refused.status_code == 429
        assert "Try again in 15 minutes" in refused.text
        now[0] += 14 * 60
        later = await spray.post("/login", data={"username": "bob", "password": "x"})
        assert "Try again in 1 minute." in later.text
        # In the browser's language.
        french = {"Accept-Language": "fr-FR"}
        en_francais = await spray.post(
            "/login", data={"username": "bob", "password": "x"}, headers=french
        )
        assert "Trop d&#39;échecs de connexion. Réessayez dans 1 minute." in en_francais.text
        now[0] -= 14 * 60
        plus_tard = await spray.post(
            "/login", data={"username": "bob", "password": "x"}, headers=french
        )
        assert "Réessayez dans 15 minutes." in plus_tard.text


async def test_a_successful_sign_in_clears_its_user_names_count(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        for _ in range(4):
            await client.post("/login", data={"username": "ada", "password": "x"})
        await sign_in(client)
        for _ in range(4):
            response = await client.post("/login", data={"username": "ada", "password": "x"})
            assert response.status_code == 401


# -- the session cookie ---------------------------------------------------------------------


async def test_the_cookie_is_secure_over_https_and_scoped_to_the_apps_path(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser(base_url="https://testserver")
        response = await sign_in(client)
        assert "secure" in cookie_attributes(response)
        signed_out = await client.post("/logout")
        gone = cookie_attributes(signed_out)
        assert "secure" in gone
        assert "max-age=0" in gone

        # Mounted under a prefix: the cookie's path is the prefix, next stays under it.
        mounted = site.browser(root_path="/app")
        response = await mounted.post(
            "/app/login",
            data={"username": "ada", "password": PASSWORDS["ada"], "next": "/elsewhere"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/app/"
        assert "path=/app" in cookie_attributes(response)
        home = await mounted.get("/app/")
        assert home.status_code == 303
        assert home.headers["location"].startswith("/app/chat/")


async def test_every_sign_in_makes_a_new_cookie(tmp_path: Path, serve: Serve) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        planted = site.auth.sessions.issue(User(identifier="ada"))
        client.cookies.set(SESSION_COOKIE, planted)
        values = set()
        for _ in range(3):
            response = await sign_in(client)
            values.add(response.cookies[SESSION_COOKIE])
        assert len(values) == 3
        assert planted not in values


async def test_a_session_expires_on_the_server(tmp_path: Path, serve: Serve) -> None:
    app, _ = guarded_app(tmp_path, session_max_age_s=60)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        response = await sign_in(client)
        assert "max-age=60" in cookie_attributes(response)
        url = await site.chat(client)
        sessions = site.auth.sessions
        start = time.time()
        sessions.clock = lambda: start + 59
        assert (await client.get(url)).status_code == 200
        # The browser still sends the cookie; the server checks the signed time.
        sessions.clock = lambda: start + 62
        expired = await client.get(url)
        assert expired.status_code == 303
        assert login_next(expired) == url
        # A cookie signed "in the future" is refused too.
        sessions.clock = lambda: start - 3600
        assert (await client.get(url)).status_code == 303


async def test_a_tampered_or_foreign_cookie_is_refused(tmp_path: Path, serve: Serve) -> None:
    app, _ = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        await sign_in(client)
        value = client.cookies[SESSION_COOKIE]
        url = await site.chat(client)
        assert (await client.get(url)).status_code == 200
        other = UserSessions("another-secret-" + "y" * 40, 3600)
        for forged in [
            value[:-2] + ("AA" if not value.endswith("AA") else "BB"),
            value[:10] + ("x" if value[10] != "x" else "y") + value[11:],
            other.issue(User(identifier="ada")),
            "forged",
            "",
            "x" * 5000,
        ]:
            client.cookies.set(SESSION_COOKIE, forged)
            response = await client.get(url)
            assert response.status_code == 303, forged
            assert login_next(response) == url
        # The browser cookie of an open app is no session either.
        client.cookies.clear()
        client.cookies.set(COOKIE, site.services.identity.new()[1])
        assert (await client.get(url)).status_code == 303


# -- header sign-in -------------------------------------------------------------------------


async def test_header_sign_in_needs_no_login_page(tmp_path: Path, serve: Serve) -> None:
    app, calls = guarded_app(tmp_path, password=False, header=True)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        response = await client.get("/", headers={"x-user": "carol"})
        assert response.status_code == 303
        assert CHAT_URL.match(response.headers["location"])
        assert "httponly" in cookie_attributes(response)
        assert calls.header == 1
        # From then on the session cookie is enough: the callback is not asked again.
        page = await client.get(response.headers["location"])
        assert page.status_code == 200
        assert "carol (proxy)</summary>" in page.text
        assert calls.header == 1
        assert site.session("user:carol", response.headers["location"]).user.identifier == "carol"

        # Without the header: no session, and a login page that has no form to offer.
        stranger = site.browser()
        refused = await stranger.get("/")
        assert refused.headers["location"] == "/login"
        login = await stranger.get("/login")
        assert login.status_code == 401
        assert 'role="alert"' in login.text
        assert "<form" not in login.text
        assert (await stranger.post("/login", data={"username": "a"})).status_code == 404


async def test_a_header_callback_that_fails_or_returns_nonsense_signs_no_one_in(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: Serve
) -> None:
    app = LightChat(settings=Settings(auth_secret=SECRET, history=False, app_dir=str(tmp_path)))

    @app.header_auth_callback
    def from_proxy(headers: Any) -> Any:
        if headers.get("x-mode") == "raise":
            raise RuntimeError("directory down")
        return {"identifier": "dict-is-not-a-user"}

    @app.on_message
    async def main(message: Message) -> None:
        pass

    async with serve(app, opened_page=True) as site:
        client = site.browser()
        with caplog.at_level(logging.ERROR, logger="lightchat"):
            assert (await client.get("/", headers={"x-mode": "raise"})).status_code == 303
            assert (await client.get("/")).status_code == 303
        assert SESSION_COOKIE not in client.cookies
        assert "Error in @header_auth_callback" in caplog.text
        assert "return cl.User(identifier=...)" in caplog.text


async def test_password_callback_errors_and_oversized_users_fail_on_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: Serve
) -> None:
    app = LightChat(settings=Settings(auth_secret=SECRET, history=False, app_dir=str(tmp_path)))

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        if username == "raise":
            raise RuntimeError("database down")
        return User(identifier=username, metadata={"blob": secrets.token_urlsafe(6000)})

    @app.on_message
    async def main(message: Message) -> None:
        pass

    async with serve(app, opened_page=True) as site:
        client = site.browser()
        with caplog.at_level(logging.ERROR, logger="lightchat"):
            for name in ["raise", "big"]:
                response = await client.post("/login", data={"username": name, "password": "p"})
                assert response.status_code == 500
                assert "Signing in failed on the server" in response.text
                assert 'role="alert"' in response.text
        assert "database down" in caplog.text
        assert "keep cl.User(metadata=...) small" in caplog.text
        assert SESSION_COOKIE not in client.cookies
        # A failing app is not the user's fault: it does not count against them.
        assert site.auth.limiter.retry_after("raise", "127.0.0.1") is None


# -- signing out ----------------------------------------------------------------------------


async def test_signing_out_clears_the_cookie_runs_on_logout_and_ends_the_session(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, calls = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        await sign_in(client)
        url = await site.chat(client)
        copy = client.cookies[SESSION_COOKIE]
        response = await client.post("/logout")
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        gone = cookie_attributes(response)
        assert "max-age=0" in gone
        assert "path=/" in gone
        assert calls.logout == [("/logout", 303)]
        assert SESSION_COOKIE not in client.cookies
        assert (await client.get(url)).status_code == 303
        # A copy of the cookie taken before signing out is refused as well.
        client.cookies.set(SESSION_COOKIE, copy)
        assert (await client.get(url)).status_code == 303

        # htmx is sent on with HX-Redirect; signing out twice is harmless.
        client.cookies.clear()
        await sign_in(client)
        again = await client.post("/logout", headers=HTMX)
        assert again.headers["hx-redirect"] == "/login"
        assert (await client.post("/logout")).status_code == 303
        assert len(calls.logout) == 2
        # Sign-out is a POST only.
        assert (await client.get("/logout")).status_code == 405


async def test_login_and_logout_refuse_other_sites(tmp_path: Path, serve: Serve) -> None:
    app, calls = guarded_app(tmp_path)
    async with serve(app, opened_page=True) as site:
        client = site.browser()
        login = await client.post(
            "/login",
            data={"username": "ada", "password": PASSWORDS["ada"]},
            headers={"Origin": "http://evil.example"},
        )
        assert login.status_code == 403
        assert SESSION_COOKIE not in client.cookies
        await sign_in(client)
        url = await site.chat(client)
        logout = await client.post("/logout", headers={"Sec-Fetch-Site": "cross-site"})
        assert logout.status_code == 403
        assert calls.logout == []
        assert (await client.get(url)).status_code == 200
        # From the app's own pages both work.
        same = await client.post("/logout", headers={"Origin": "http://testserver"})
        assert same.status_code == 303


# -- whose is what --------------------------------------------------------------------------


async def test_chats_history_elements_and_feedback_belong_to_their_user(
    tmp_path: Path, serve: Serve
) -> None:
    store = MemoryStore()
    app, _ = guarded_app(tmp_path, store=store)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob, ada_elsewhere = site.browser(), site.browser(), site.browser(address="10.1.1.1")
        await sign_in(ada)
        await sign_in(bob, "bob")
        await sign_in(ada_elsewhere)
        url = await site.chat(ada, "the secret plan")
        page = (await ada.get(url)).text
        element = re.search(r'href="(/chat/[0-9a-f]+/elements/[^"]+)"[^>]*download', page)
        assert element is not None, page
        assert (await ada.get(element.group(1))).content == b"private notes"
        answer = next(
            item
            for item in site.session("user:ada", url).transcript.items.values()
            if isinstance(item, MessageData) and item.content.startswith("Echo")
        )
        await site.history.flush()
        given = await ada.post(f"{url}/feedback/{answer.id}", data={"value": "1"})
        assert given.status_code == 303

        # bob gets a 404 for every one of ada's ids.
        assert (await bob.get(url)).status_code == 404
        assert (await bob.get(f"{url}/events")).status_code == 404
        assert (await bob.get(element.group(1))).status_code == 404
        assert (await bob.post(f"{url}/messages", data={"content": "x"})).status_code == 404
        feedback = await bob.post(f"{url}/feedback/{answer.id}", data={"value": "0"})
        assert feedback.status_code == 404
        assert (await bob.get(f"{url}/export.json")).status_code == 404
        assert (await bob.post(f"{url}/rename", data={"name": "mine"})).status_code == 404
        assert (await bob.post(f"{url}/delete")).status_code == 404
        assert "the secret plan" not in (await bob.get("/history")).text
        stored = await store.load_thread(url.rsplit("/", 1)[1], owner="user:ada")
        assert stored is not None
        assert stored.feedback[answer.id].value == 1

        # ada, from another browser, has the same history and the same chat.
        assert "the secret plan" in (await ada_elsewhere.get("/history")).text
        assert (await ada_elsewhere.get(url)).status_code == 200


async def test_a_signed_in_user_is_saved_to_the_data_layer(tmp_path: Path, serve: Serve) -> None:
    store = MemoryStore()
    names: dict[str, str | None] = {"ada": "Ada", "carol": None}
    app, _ = guarded_app(tmp_path, store=store, header=True, names=names)
    async with serve(app, lifespan=True, opened_page=True) as site:
        client = site.browser()
        await sign_in(client)
        await settled(site)
        saved = await store.get_user("ada")
        assert saved is not None
        assert saved.display_name == "Ada"
        first_id = saved.id

        names["ada"] = "Ada L."
        await sign_in(site.browser())
        await settled(site)
        saved = await store.get_user("ada")
        assert saved is not None
        assert (saved.id, saved.display_name) == (first_id, "Ada L.")

        # Header sign-in saves the user too.
        assert (await site.browser().get("/", headers={"x-user": "dan"})).status_code == 303
        await settled(site)
        proxied = await store.get_user("dan")
        assert proxied is not None
        assert proxied.display_name == "dan (proxy)"


# -- untrusted display names ----------------------------------------------------------------


async def test_display_names_stay_text(tmp_path: Path, serve: Serve) -> None:
    async def menus(folder: Path, names: list[str]) -> list[list[tuple[str, tuple[str, ...]]]]:
        display = {f"u{i}": name for i, name in enumerate(names)}
        app, _ = guarded_app(folder, names=dict(display), store=MemoryStore())
        structures = []
        async with serve(app, lifespan=True, opened_page=True) as site:
            for identifier in display:
                client = site.browser()
                await sign_in(client, identifier)
                page = (await client.get(await site.chat(client))).text
                header = page[page.index('<header class="lc-header">') : page.index("</header>")]
                history = (await client.get("/history")).text
                menu = history[history.index('<details id="lc-user-menu"') :]
                menu = menu[: menu.index("</details>")]
                structures.append(tag_structure(header) + tag_structure(menu))
        return structures

    hostile = await menus(tmp_path / "a", list(PAYLOADS))
    plain = await menus(tmp_path / "b", ["plain"] * len(PAYLOADS))
    assert hostile == plain


# -- configuration --------------------------------------------------------------------------


def test_sign_in_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    for secret, expected in [("", "LIGHTCHAT_AUTH_SECRET"), ("short", "at least 32")]:
        app = LightChat(settings=Settings(auth_secret=secret, app_dir=str(tmp_path)))

        @app.password_auth_callback
        def check(username: str, password: str) -> None:
            return None

        with pytest.raises(ConfigError) as caught:
            app.build()
        assert "lightchat create-secret" in str(caught.value)
        assert expected in str(caught.value)


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"LIGHTCHAT_AUTH_SECRET": SECRET, "LIGHTCHAT_SESSION_MAX_AGE_S": "3600"}
    )
    assert settings.auth_secret == SECRET
    assert settings.session_max_age_s == 3600
    assert Settings().session_max_age_s == 15 * 24 * 3600
    with pytest.raises(ConfigError, match="LIGHTCHAT_SESSION_MAX_AGE_S"):
        Settings.from_env({"LIGHTCHAT_SESSION_MAX_AGE_S": "0"})


def test_the_auth_decorators_follow_chainlit() -> None:
    app = LightChat()
    with pytest.raises(ConfigError, match="def auth\\(username: str, password: str\\)"):
        app.password_auth_callback(lambda username: None)
    with pytest.raises(ConfigError, match="def auth\\(headers\\)"):
        app.header_auth_callback(lambda: None)
    with pytest.raises(ConfigError, match="async def logout\\(request, response\\)"):
        app.on_logout(lambda a, b, c: None)
    for logout in (lambda: None, lambda request: None, lambda request, response: None):
        assert app.on_logout(logout) is logout
    assert cl.password_auth_callback == cl.default_app.password_auth_callback
    assert cl.header_auth_callback == cl.default_app.header_auth_callback
    assert cl.on_logout == cl.default_app.on_logout
    user = cl.User(identifier="ada")
    assert (user.display_name, user.metadata) == (None, {})
    assert user.to_dict() == {"identifier": "ada", "display_name": None, "metadata": {}}
    persisted = cl.PersistedUser(identifier="ada", id="1", createdAt="2024-01-01")
    assert persisted.to_dict()["createdAt"] == "2024-01-01"
    # Without an auth callback, an app has no sign-in.
    assert Auth.for_app({"on_logout": lambda: None}, Settings()) is None
