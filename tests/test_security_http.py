"""Security over HTTP: the form token on every write, the Origin check, the headers (CSP,
CORS), images in markdown, and which files an element may read.

The clients here send nothing on their own: each request carries the token only where the
test puts it, read off the page the way the page's script and forms read it.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.auth.identity import COOKIE
from lightchat.bus import MemoryBus
from lightchat.chat.session import ChatSession
from lightchat.domain.events import ElementData, MessageData, MessageEvent, new_id
from lightchat.domain.user import User
from lightchat.errors import ConfigError, ElementPathError
from lightchat.files import LocalFileStorage
from lightchat.http.middleware.csrf import MAX_PEEK_BYTES, NO_COOKIE, NO_TOKEN, WRONG_TOKEN
from lightchat.http.middleware.security import CSP
from lightchat.ui.markdown import render_markdown
from lightchat.ui.render import Renderer
from tests.helpers import HTMX, Serve, Site, messages_in, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
SECRET = "s" * 40
EXACT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)


def token_of(page: str) -> str:
    """The form token a page gives its browser (its ``<meta name="csrf-token">``)."""
    match = TOKEN.search(page)
    assert match is not None, page[:500]
    assert match.group(1)
    return match.group(1)


def ids_of(page: str, type_: str) -> list[str]:
    """The ids of the messages of one type on a page, in order."""
    return re.findall(rf'<article id="msg-([^"]+)"[^>]*data-type="{type_}"', page)


async def log_size(session: ChatSession) -> int:
    """How many entries the chat's log holds."""
    return len(await session.bus.read(session.id))


# -- the app every kind of write is tried on ------------------------------------------------


BUTTON = """<form method="post" action="{{ action_url }}">{{ csrf_input }}
<input type="hidden" name="name" value="go"><button type="submit">Press</button></form>"""


def guarded_app(tmp_path: Path, **settings: Any) -> LightChat:
    """Settings, actions, questions back for files, answers: one of each kind of write."""
    (tmp_path / "elements").mkdir(exist_ok=True)
    (tmp_path / "elements" / "Button.html").write_text(BUTTON)
    app = LightChat(
        settings=Settings(name="Guard", app_dir=str(tmp_path), secret=SECRET, **settings)
    )

    @app.on_chat_start
    async def start() -> None:
        await cl.ChatSettings([cl.TextInput(id="tone", label="Tone", initial="calm")]).send()
        await Message(content="hello", actions=[cl.Action(name="go", label="Go")]).send()
        await Message(content="custom", elements=[cl.CustomElement(name="Button")]).send()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "ask":
            await cl.AskFileMessage(content="Upload a text", accept=["text/plain"]).send()
            return
        await Message(content=f"echo {message.content}").send()

    @app.action_callback("go")
    async def go(action: cl.Action) -> None:
        await Message(content="went").send()

    return app


@dataclass
class Write:
    """One state-changing request, ready to send, and what it answers when it is allowed."""

    url: str
    data: dict[str, str]
    files: dict[str, tuple[str, bytes, str]] | None
    plain: int
    htmx: int
    chat: str
    unchanged: Callable[[], Awaitable[bool]] | None = None
    """True while the write has not happened (besides the chat's log staying the same)."""


async def open_chat(site: Site, client: httpx.AsyncClient) -> tuple[str, str]:
    """A new chat whose start has run (the app must have an on_chat_start); its URL and the
    page's token."""
    response = await client.get("/")
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    await site.idle(site.session(client, url))
    return url, token_of((await client.get(url)).text)


async def said(site: Site, client: httpx.AsyncClient, url: str, token: str, text: str) -> str:
    """Send a message (as htmx does) and wait for the answer; the page afterwards."""
    sent = await client.post(
        f"{url}/messages", data={"content": text}, headers={**HTMX, "X-CSRF-Token": token}
    )
    assert sent.status_code == 204, sent.text
    await site.idle(site.session(client, url))
    return (await client.get(url)).text


async def prepare(site: Site, client: httpx.AsyncClient, kind: str) -> Write:
    """A fresh chat, brought to where a write of this kind can be made."""
    url, token = await open_chat(site, client)
    page = (await client.get(url)).text
    history = site.app.history
    if kind == "messages":
        return Write(f"{url}/messages", {"content": "hi"}, None, 303, 204, url)
    if kind == "messages (multipart)":
        files = {"files": ("a.txt", b"text", "text/plain")}
        return Write(f"{url}/messages", {"content": "hi"}, files, 303, 204, url)
    if kind == "stop":
        return Write(f"{url}/stop", {}, None, 303, 204, url)
    if kind == "action":
        action = re.search(r'action="[^"]*/actions/([0-9a-f]+)"', page)
        assert action is not None
        return Write(f"{url}/actions/{action.group(1)}", {}, None, 303, 204, url)
    if kind == "element action":
        action = re.search(r'action="([^"]*/elements/[0-9a-f]+/actions)"', page)
        assert action is not None
        return Write(action.group(1), {"name": "go"}, None, 303, 204, url)
    if kind == "settings":
        return Write(f"{url}/settings", {"tone": "warm"}, None, 303, 200, url)
    if kind == "ask files":
        sent = await client.post(
            f"{url}/messages", data={"content": "ask"}, headers={**HTMX, "X-CSRF-Token": token}
        )
        assert sent.status_code == 204
        session = site.session(client, url)
        events = await wait_for_log(
            session.bus, session.id, lambda events: any(m.ask for m in messages_in(events))
        )
        ask = next(m.id for m in messages_in(events) if m.ask)
        files = {"files": ("a.txt", b"an answer", "text/plain")}
        return Write(f"{url}/asks/{ask}/files", {}, files, 303, 204, url)
    page = await said(site, client, url, token, "question")
    mine, answer = ids_of(page, "user_message")[-1], ids_of(page, "assistant_message")[-1]
    if kind == "edit":
        return Write(f"{url}/messages/{mine}/edit", {"content": "better"}, None, 303, 204, url)
    if kind == "regenerate":
        return Write(f"{url}/messages/{answer}/regenerate", {}, None, 303, 204, url)
    assert history is not None
    session = site.session(client, url)
    owner, thread = session.owner, session.thread_id
    await history.flush()
    if kind == "feedback":

        async def no_feedback() -> bool:
            return not await history.feedback(thread, owner)

        return Write(f"{url}/feedback/{answer}", {"value": "1"}, None, 303, 200, url, no_feedback)
    if kind == "rename":

        async def same_name() -> bool:
            link = await history.thread(thread, owner)
            return link is not None and link.name != "Renamed"

        return Write(f"{url}/rename", {"name": "Renamed"}, None, 303, 200, url, same_name)
    if kind == "delete":

        async def still_there() -> bool:
            return (await client.get(url)).status_code == 200

        return Write(f"{url}/delete", {}, None, 303, 200, url, still_there)
    raise AssertionError(kind)


KINDS = [
    "messages",
    "messages (multipart)",
    "stop",
    "action",
    "element action",
    "settings",
    "ask files",
    "edit",
    "regenerate",
    "feedback",
    "rename",
    "delete",
]


async def send(
    client: httpx.AsyncClient,
    write: Write,
    *,
    field_token: str | None = None,
    header_token: str | None = None,
    htmx: bool = False,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    data = dict(write.data)
    if field_token is not None:
        data = {"csrf_token": field_token, **data}  # first, as _csrf.html puts it
    headers = {**(HTMX if htmx else {}), **(extra or {})}
    if header_token is not None:
        headers["X-CSRF-Token"] = header_token
    if write.files is not None:
        return await client.post(write.url, data=data, files=write.files, headers=headers)
    return await client.post(write.url, data=data, headers=headers)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_write_needs_the_browsers_form_token(
    tmp_path: Path, kind: str, serve: Serve
) -> None:
    async with serve(guarded_app(tmp_path), lifespan=True, form_token=False) as site:
        client = site.browser()
        stranger = site.browser()
        _, strangers_token = await open_chat(site, stranger)  # valid, for another browser

        write = await prepare(site, client, kind)
        mine = token_of((await client.get(write.chat)).text)
        assert strangers_token != mine
        before = await log_size(site.session(client, write.chat))
        refusals = [
            (await send(client, write), NO_TOKEN),
            (await send(client, write, htmx=True), NO_TOKEN),
            (await send(client, write, field_token=strangers_token), WRONG_TOKEN),
            (await send(client, write, header_token=strangers_token, htmx=True), WRONG_TOKEN),
            (await send(client, write, field_token=""), NO_TOKEN),
            (await send(client, write, header_token=mine[:-1], htmx=True), WRONG_TOKEN),
            # A wrong header is not saved by a right field: the header decides.
            (await send(client, write, header_token="x", field_token=mine), WRONG_TOKEN),
        ]
        for response, reason in refusals:
            assert response.status_code == 403, (response.status_code, response.text)
            assert reason in html.unescape(response.text)
        htmx_refusal = refusals[1][0]
        assert '<p role="alert">' in htmx_refusal.text  # a notice in the composer
        assert "<!doctype html>" in refusals[0][0].text  # a page, without JavaScript
        assert await log_size(site.session(client, write.chat)) == before
        if write.unchanged is not None:
            assert await write.unchanged()

        # Cross-site, even with the right token: the Origin check still refuses.
        evil = await send(client, write, field_token=mine, extra={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        assert "another site" in evil.text
        assert await log_size(site.session(client, write.chat)) == before

        # The right token: in the form without JavaScript, in the header with htmx.
        plain = await send(client, write, field_token=mine)
        assert plain.status_code == write.plain, plain.text
        fresh = await prepare(site, client, kind)
        with_htmx = await send(client, fresh, header_token=mine, htmx=True)
        assert with_htmx.status_code == fresh.htmx, with_htmx.text


@pytest.mark.parametrize(
    ("base_url", "origin", "allowed"),
    [
        ("http://testserver", "http://testserver", True),
        ("http://testserver", "HTTP://TestServer:80", True),
        ("http://testserver", "https://testserver", False),  # another scheme
        ("http://testserver", "http://testserver:8080", False),  # another port
        ("http://testserver", "http://testserver.evil.example", False),
        ("http://testserver", "http://testserver:bad", False),
        ("http://testserver", "testserver", False),
        ("https://testserver", "https://testserver:443", True),
        ("https://testserver", "http://testserver", False),
        ("http://testserver:8000", "http://testserver:8000", True),
        ("http://testserver:8000", "http://testserver", False),
    ],
)
async def test_the_origin_check_compares_scheme_host_and_port(
    tmp_path: Path, base_url: str, origin: str, serve: Serve, *, allowed: bool
) -> None:
    async with serve(guarded_app(tmp_path), form_token=False) as site:
        client = site.browser(base_url=base_url)
        url, token = await open_chat(site, client)
        before = await log_size(site.session(client, url))
        posted = await client.post(
            f"{url}/messages",
            data={"content": "hi"},
            headers={**HTMX, "X-CSRF-Token": token, "Origin": origin},
        )
        if allowed:
            assert posted.status_code == 204, posted.text
        else:
            assert posted.status_code == 403, posted.text
            assert "another site" in posted.text
            assert await log_size(site.session(client, url)) == before


async def test_a_post_without_the_cookie_is_refused(tmp_path: Path, serve: Serve) -> None:
    async with serve(guarded_app(tmp_path), lifespan=True, form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        before = await log_size(site.session(client, url))
        bare = site.browser()
        for headers in ({"X-CSRF-Token": token}, {"X-CSRF-Token": token, **HTMX}):
            response = await bare.post(f"{url}/messages", data={"content": "hi"}, headers=headers)
            assert response.status_code == 403
            assert NO_COOKIE in html.unescape(response.text)
        forged = site.browser()
        forged.cookies.set(COOKIE, client.cookies[COOKIE] + "x")
        response = await forged.post(f"{url}/messages", data={"csrf_token": token, "content": "hi"})
        assert response.status_code == 403
        assert await log_size(site.session(client, url)) == before


async def test_every_form_that_posts_carries_the_token_first(tmp_path: Path, serve: Serve) -> None:
    async with serve(guarded_app(tmp_path), lifespan=True, form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        page = await said(site, client, url, token, "question")
        await site.app.history.flush()  # type: ignore[union-attr]
        pages = [
            page,
            (await client.get(f"{url}/settings")).text,
            (await client.get(f"{url}/rename")).text,
            (await client.get(f"{url}/delete")).text,
        ]
        forms = [form for html in pages for form in post_forms(html)]
        actions = {action.rsplit("/", 1)[-1] for action, _ in forms}
        assert {"messages", "edit", "regenerate", "settings", "rename", "delete"} <= actions
        assert any("/feedback/" in action for action, _ in forms)
        assert any("/actions/" in action for action, _ in forms)
        assert any(action.endswith("/actions") for action, _ in forms)  # the custom element
        for action, first in forms:
            assert first == ("csrf_token", token), action


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, tuple[str, str] | None]] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self._open = found.get("action") or ""
        elif self._open is not None and tag in ("input", "textarea", "select", "button"):
            first = (found.get("name") or "", found.get("value") or "")
            if found.get("type") != "hidden" or not first[0]:
                first = (tag, "")  # a control before the token
            self.forms.append((self._open, first))
            self._open = None


def post_forms(html: str) -> list[tuple[str, tuple[str, str] | None]]:
    """Each POST form's action, with the name and value of its first hidden input."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


# -- the body: urlencoded, multipart ---------------------------------------------------------


async def test_a_multipart_token_must_come_before_the_files(tmp_path: Path, serve: Serve) -> None:
    async with serve(guarded_app(tmp_path), form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        before = await log_size(site.session(client, url))

        def body(*parts: tuple[str, str | None, bytes]) -> bytes:
            chunks = []
            for name, filename, value in parts:
                disposition = f'form-data; name="{name}"'
                if filename is not None:
                    disposition += f'; filename="{filename}"'
                chunks.append(
                    f"--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
                    + value
                    + b"\r\n"
                )
            return b"".join(chunks) + b"--XyZ--\r\n"

        async def post(content: bytes) -> httpx.Response:
            headers = {"content-type": "multipart/form-data; boundary=XyZ"}
            return await client.post(f"{url}/messages", content=content, headers=headers)

        file = ("files", "a.txt", b"file text")
        after_file = await post(body(("content", None, b"hi"), file, ("csrf_token", None, b"x")))
        assert after_file.status_code == 403
        bulky = body(("content", None, b"y" * (MAX_PEEK_BYTES + 10)), ("csrf_token", None, b"x"))
        assert (await post(bulky)).status_code == 403
        assert (await post(body(("content", None, b"hi")))).status_code == 403
        assert await log_size(site.session(client, url)) == before

        ok = await post(
            body(("content", None, b"first"), ("csrf_token", None, token.encode()), file)
        )
        assert ok.status_code == 303
        session = site.session(client, url)
        users = [
            i for i in session.transcript.items.values()
            if isinstance(i, MessageData) and i.type == "user_message"
        ]  # fmt: skip
        assert [u.content for u in users] == ["first"]
        # The endpoint read the whole body again: the file arrived too.
        assert [e.name for e in users[0].elements] == ["a.txt"]


async def test_a_urlencoded_token_and_fields_reach_the_endpoint_unchanged(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(guarded_app(tmp_path), form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        text = "a=b&c é " + "z" * 50_000
        response = await client.post(f"{url}/messages", data={"content": text, "csrf_token": token})
        assert response.status_code == 303
        session = site.session(client, url)
        users = [
            i.content for i in session.transcript.items.values()
            if isinstance(i, MessageData) and i.type == "user_message"
        ]  # fmt: skip
        assert users == [text]


# -- the first visit, sign-in, sign-out, user keys -------------------------------------------


def password_app(tmp_path: Path) -> LightChat:
    app = LightChat(
        settings=Settings(app_dir=str(tmp_path), secret=SECRET, auth_secret="a" * 40, history=False)
    )

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return User(identifier=username) if password == "right" else None

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content="ok").send()

    return app


async def test_the_login_form_works_from_a_browser_without_a_cookie(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(password_app(tmp_path), form_token=False) as site:
        client = site.browser()
        assert not client.cookies
        login = await client.get("/login")
        assert login.status_code == 200
        assert COOKIE in client.cookies  # given with the page, for the form's token
        token = token_of(login.text)
        assert post_forms(login.text) == [("/login", ("csrf_token", token))]
        credentials = {"username": "ada", "password": "right"}

        refused = await client.post("/login", data=credentials)
        assert refused.status_code == 403
        assert "lightchat_session" not in client.cookies
        other = token_of((await site.browser().get("/login")).text)
        wrong = await client.post("/login", data={**credentials, "csrf_token": other})
        assert wrong.status_code == 403
        assert "lightchat_session" not in client.cookies

        signed_in = await client.post("/login", data={"csrf_token": token, **credentials})
        assert signed_in.status_code == 303
        assert "lightchat_session" in client.cookies
        # Signing in keeps the browser cookie, so its token still holds.
        chat = (await client.get("/")).headers["location"]
        page = (await client.get(chat)).text
        assert token_of(page) == token

        # Signing out is a write too.
        assert (await client.post("/logout")).status_code == 403
        assert (await client.get(chat)).status_code == 200
        out = await client.post("/logout", headers={**HTMX, "X-CSRF-Token": token})
        assert out.status_code == 204
        assert out.headers["HX-Redirect"] == "/login"
        assert (await client.get(chat)).status_code == 303  # to the login page

        again = await client.post("/login", data={"csrf_token": token, **credentials})
        assert again.status_code == 303
        plain_out = await client.post("/logout", data={"csrf_token": token})
        assert plain_out.status_code == 303


async def test_the_keys_form_needs_the_token(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret=SECRET, user_env="MY_KEY"))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=str(cl.user_session.get("env"))).send()

    async with serve(app, form_token=False) as site:
        client = site.browser()
        first = await client.get("/")
        assert first.headers["location"] == "/env"
        form = await client.get("/env")
        token = token_of(form.text)
        assert post_forms(form.text) == [("/env", ("csrf_token", token))]
        assert (await client.post("/env", data={"MY_KEY": "k"})).status_code == 403
        assert (await client.get("/")).headers["location"] == "/env"  # nothing kept
        wrong = await client.post("/env", data={"MY_KEY": "k"}, headers={"X-CSRF-Token": "x"})
        assert wrong.status_code == 403
        saved = await client.post("/env", data={"MY_KEY": "k", "csrf_token": token})
        assert saved.status_code == 303
        assert (await client.get("/")).headers["location"].startswith("/chat/")


async def test_safe_methods_need_no_token_and_static_files_make_no_cookie(
    tmp_path: Path,
    serve: Serve,
) -> None:
    async with serve(guarded_app(tmp_path), form_token=False) as site:
        client = site.browser()
        static = await client.get("/-/static/lightchat.css")
        health = await client.get("/-/health")
        assert (static.status_code, health.status_code) == (200, 200)
        assert "set-cookie" not in static.headers
        assert "set-cookie" not in health.headers
        url, _ = await open_chat(site, client)
        assert (await client.head(url)).status_code == 200
        assert (await client.options(url)).status_code == 405  # not a write: no 403


# -- headers: CSP, CORS ----------------------------------------------------------------------


async def test_the_content_security_policy_is_exact(tmp_path: Path, serve: Serve) -> None:
    assert CSP == EXACT_CSP
    async with serve(guarded_app(tmp_path), form_token=False) as site:
        client = site.browser()
        url, _ = await open_chat(site, client)
        for response in (
            await client.get(url),
            await client.get("/-/static/lightchat.js"),
            await client.post(f"{url}/messages", data={"content": "hi"}),  # a 403
        ):
            assert response.headers["content-security-policy"] == EXACT_CSP
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"


async def test_frame_ancestors_come_from_the_settings(tmp_path: Path, serve: Serve) -> None:
    settings = Settings.from_env(
        {"LIGHTCHAT_FRAME_ANCESTORS": "'self'  https://intranet.example"},
        app_dir=str(tmp_path),
        secret=SECRET,
    )
    assert settings.frame_ancestors == "'self'  https://intranet.example"
    app = LightChat(settings=settings)

    @app.on_message
    async def main(message: Message) -> None: ...

    async with serve(app, form_token=False) as site:
        page = await site.browser().get("/login")
        expected = EXACT_CSP.replace(
            "frame-ancestors 'self'", "frame-ancestors 'self' https://intranet.example"
        )
        assert page.headers["content-security-policy"] == expected
    none = Settings(frame_ancestors="'none'")
    assert none.frame_sources() == "'none'"


@pytest.mark.parametrize(
    "value",
    [
        "'self'; script-src *",
        "'self', https://a.example",
        "",
        "'none' https://a.example",
        "'unsafe-inline'",
        "https://a.example\r\nSet-Cookie: x=1",
    ],
)
def test_frame_ancestors_that_are_not_sources_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="LIGHTCHAT_FRAME_ANCESTORS"):
        Settings.from_env({"LIGHTCHAT_FRAME_ANCESTORS": value})
    with pytest.raises(ConfigError, match="LIGHTCHAT_FRAME_ANCESTORS"):
        LightChat(settings=Settings(frame_ancestors=value)).build()


@pytest.mark.parametrize("value", ["*", "https://a.example,*", "https://*.example", " * "])
def test_any_origin_with_cookies_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match=r"'\*' would let every site"):
        Settings.from_env({"LIGHTCHAT_ALLOW_ORIGINS": value})
    with pytest.raises(ConfigError, match=r"'\*' would let every site"):
        LightChat(settings=Settings(allow_origins=value)).build()


@pytest.mark.parametrize("value", ["portal.example", "https://a.example/path", "ftp://a.example"])
def test_allowed_origins_must_be_origins(value: str) -> None:
    with pytest.raises(ConfigError, match="is not an origin"):
        Settings.from_env({"LIGHTCHAT_ALLOW_ORIGINS": value})


PORTAL = "https://portal.example"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "hx-request, x-csrf-token",
    }


async def test_cors_answers_only_the_allowed_origins(tmp_path: Path, serve: Serve) -> None:
    app = guarded_app(tmp_path, allow_origins=f"{PORTAL}/, https://admin.example:8443")
    async with serve(app, form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)

        allowed = await client.options(f"{url}/messages", headers=preflight(PORTAL))
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PORTAL
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "POST" in allowed.headers["access-control-allow-methods"]
        allowed_headers = allowed.headers["access-control-allow-headers"].lower()
        assert "x-csrf-token" in allowed_headers
        assert "hx-request" in allowed_headers

        refused = await client.options(f"{url}/messages", headers=preflight("https://evil.example"))
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        # The allowed site may post with the user's cookie, with the token it read off a page.
        posted = await client.post(
            f"{url}/messages",
            data={"content": "from the portal"},
            headers={"Origin": PORTAL, "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": token},
        )
        assert posted.status_code == 303
        assert posted.headers["access-control-allow-origin"] == PORTAL
        # ...never without it.
        tokenless = await client.post(
            f"{url}/messages", data={"content": "x"}, headers={"Origin": PORTAL}
        )
        assert tokenless.status_code == 403
        evil = await client.post(
            f"{url}/messages",
            data={"content": "x"},
            headers={"Origin": "https://evil.example", "X-CSRF-Token": token},
        )
        assert evil.status_code == 403
        assert "access-control-allow-origin" not in evil.headers


async def test_without_allowed_origins_there_is_no_cors(tmp_path: Path, serve: Serve) -> None:
    async with serve(guarded_app(tmp_path), form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        answer = await client.options(f"{url}/messages", headers=preflight(PORTAL))
        assert "access-control-allow-origin" not in answer.headers
        posted = await client.post(
            f"{url}/messages",
            data={"content": "x"},
            headers={"Origin": PORTAL, "X-CSRF-Token": token},
        )
        assert posted.status_code == 403
        assert "another site" in posted.text
        assert "access-control-allow-origin" not in posted.headers


# -- images in markdown -----------------------------------------------------------------------


IMAGE = "![a chart](https://img.example/c.png?q=1&r=2)"


def test_markdown_images_show_by_default_and_are_links_when_off() -> None:
    on = render_markdown(IMAGE)
    assert on == '<p><img src="https://img.example/c.png?q=1&amp;r=2" alt="a chart"></p>\n'
    off = render_markdown(IMAGE, images=False)
    assert off == (
        '<p><a href="https://img.example/c.png?q=1&amp;r=2" rel="noopener noreferrer nofollow" '
        'target="_blank">a chart</a></p>\n'
    )
    assert "<img" not in render_markdown("![](/local.png)", images=False)
    assert '<img src="/local.png" alt="">' in render_markdown("![](/local.png)")
    # Only http(s) and relative images; anything else is never an image.
    for source in (
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "vbscript:x",
        "file:///etc",
    ):
        assert "<img" not in render_markdown(f"![x]({source})")
    assert "<img" not in render_markdown("![x](mailto:a@b.example)")
    # The link text stays text.
    hostile = render_markdown(
        '![<script>alert(1)</script>"](https://a.example/x.png)', images=False
    )
    assert "<script>" not in hostile
    assert "&lt;script&gt;" in hostile


def test_markdown_images_setting_from_the_environment() -> None:
    assert Settings().markdown_images is True
    assert Settings.from_env({"LIGHTCHAT_MARKDOWN_IMAGES": "0"}).markdown_images is False
    renderer = Renderer(Settings(markdown_images=False), "v")
    message = MessageData(id="m", author="Bot", type="assistant_message", content=IMAGE)
    settled, tail = renderer.streaming_parts(
        MessageData(id="s", author="Bot", type="assistant_message", content=f"{IMAGE}\n\nmore")
    )
    assert "<img" not in settled + tail
    assert 'href="https://img.example/c.png' in settled
    shown = renderer.message(message, base="")
    assert "<img" not in shown
    assert ">a chart</a>" in shown


@pytest.mark.parametrize("images", [True, False])
async def test_the_chat_page_follows_the_images_setting(
    tmp_path: Path, images: bool, serve: Serve
) -> None:
    app = LightChat(
        settings=Settings(
            app_dir=str(tmp_path), secret=SECRET, history=False, markdown_images=images
        )
    )

    @app.on_chat_start
    async def start() -> None:
        await Message(content=IMAGE).send()

    async with serve(app, form_token=False) as site:
        client = site.browser()
        url, _ = await open_chat(site, client)
        page = (await client.get(url)).text
        assert ('<img src="https://img.example/c.png' in page) is images
        assert ('<a href="https://img.example/c.png' in page) is not images


# -- element files ----------------------------------------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """An allowed folder and, beside it, one that is not."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "ok.txt").write_text("fine")
    (outside / "secret.txt").write_text("TOP SECRET")
    return allowed, outside


def chat_session(tmp_path: Path, **settings: Any) -> ChatSession:
    return ChatSession(
        LightChat(),
        MemoryBus(),
        Settings(app_dir=str(tmp_path), **settings),
        owner="tester",
        message_factory=Message.from_data,
        files=LocalFileStorage(tmp_path / "store"),
    )


async def test_elements_read_files_only_inside_the_allowed_folders(
    tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    allowed, outside = folders
    session = chat_session(tmp_path, element_dirs=str(allowed))
    inside = cl.File(name="ok", path=allowed / "ok.txt")
    await inside.prepare(session)
    assert inside.key is not None
    text = cl.Text(name="ok", path=str(allowed / "ok.txt"))
    await text.prepare(session)
    assert text.data().content == "fine"

    escapes = {
        "outside": outside / "secret.txt",
        "dot-dot": allowed / ".." / "outside" / "secret.txt",
        "system": Path("/etc/passwd"),
    }
    (allowed / "link.txt").symlink_to(outside / "secret.txt")
    (allowed / "linked-folder").symlink_to(outside, target_is_directory=True)
    escapes["symlink"] = allowed / "link.txt"
    escapes["symlinked folder"] = allowed / "linked-folder" / "secret.txt"
    for name, path in escapes.items():
        for element in (cl.File(name=name, path=path), cl.Text(name=name, path=path)):
            with pytest.raises(ElementPathError, match="outside the folders") as refused:
                await element.prepare(session)
            assert isinstance(refused.value, PermissionError)
            assert "LIGHTCHAT_ELEMENT_DIRS" in str(refused.value)
            assert element.key is None
            assert "TOP SECRET" not in str(element.data().content)

    # A link that stays inside is fine; a folder or a missing file is no element.
    (allowed / "alias.txt").symlink_to(allowed / "ok.txt")
    await cl.File(path=allowed / "alias.txt").prepare(session)
    with pytest.raises(ElementPathError, match="not a file"):
        await cl.File(path=allowed).prepare(session)
    with pytest.raises(FileNotFoundError):
        await cl.File(path=allowed / "missing.txt").prepare(session)


def test_the_default_element_folders(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    settings = Settings(app_dir=str(allowed))
    assert settings.element_folders() == (
        (allowed / "public").resolve(),
        Path(tempfile.gettempdir()).resolve(),
    )
    assert Settings(element_dirs=f"{allowed}{os.pathsep}{outside}").element_folders() == (
        allowed.resolve(),
        outside.resolve(),
    )


async def test_by_default_public_the_temp_folder_and_the_chats_own_uploads_are_allowed(
    tmp_path: Path,
) -> None:
    app_dir = Path(tempfile.mkdtemp(dir=Path.home()))  # an app folder outside the temp folder
    try:
        (app_dir / "public").mkdir()
        (app_dir / "public" / "logo.txt").write_text("public")
        (app_dir / "app.py").write_text("API_KEY = 'sk-live'")
        session = chat_session(app_dir)
        await cl.File(path=app_dir / "public" / "logo.txt").prepare(session)
        written = tmp_path / "chart.txt"  # a file the app wrote for the chat
        written.write_text("made for the chat")
        await cl.File(path=written).prepare(session)
        for refused in (app_dir / "app.py", Path("/etc/passwd")):
            with pytest.raises(ElementPathError, match="outside the folders"):
                await cl.Text(path=refused).prepare(session)
    finally:
        shutil.rmtree(app_dir)


async def test_only_the_chats_own_uploads_are_readable_from_the_store(tmp_path: Path) -> None:
    """An upload is read again by its path (``files[0].path``) in its own chat only."""
    mine, theirs = chat_session(tmp_path), chat_session(tmp_path)
    assert mine.files is not None
    own = await mine.files.put(b"my upload", name="up.txt", mime="text/plain")
    other = await mine.files.put(b"their upload", name="up.txt", mime="text/plain")
    for session, key in ((mine, own.key), (theirs, other.key)):
        session.transcript.apply_event(
            MessageEvent(
                MessageData(
                    id=new_id(),
                    author="User",
                    type="user_message",
                    elements=[ElementData(id=new_id(), kind="file", name="up.txt", key=key)],
                )
            )
        )
    again = cl.File(path=mine.files.path(own.key))  # type: ignore[attr-defined]
    await again.prepare(mine)
    assert again.key is not None
    stolen = cl.Text(path=mine.files.path(other.key))  # type: ignore[attr-defined]
    with pytest.raises(ElementPathError, match="belongs to lightchat itself"):
        await stolen.prepare(mine)
    assert "their upload" not in str(stolen.data().content)


def lightchat_state(app_dir: Path) -> dict[str, Path]:
    """lightchat's own files beside an app, as a served app with history makes them."""
    state = app_dir / ".lightchat"
    state.mkdir(parents=True)
    files = {
        "secret": state / "secret",
        "database": state / "chat.db",
        "journal": state / "chat.db-wal",
        "shared memory": state / "chat.db-shm",
        "upload store": state / "files" / "ab" / ("ab" + "0" * 30 + ".txt"),
        ".env": app_dir / ".env",
        "dot folder": app_dir / ".git" / "config",
        "named env": app_dir / "production.env",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("TOP SECRET")
    return files


@pytest.mark.parametrize("configured", ["the app folder", "the state folder", "everything"])
async def test_lightchats_own_state_and_hidden_files_are_never_read(
    tmp_path: Path, configured: str
) -> None:
    app_dir = tmp_path / "app"
    files = lightchat_state(app_dir)
    wide = {
        "the app folder": str(app_dir),
        "the state folder": str(app_dir / ".lightchat"),
        "everything": "/",
    }[configured]
    session = chat_session(app_dir, element_dirs=wide)
    session.files = LocalFileStorage(app_dir / ".lightchat" / "files")
    elsewhere = tmp_path / "data" / "history.sqlite"  # a database outside the app folder
    elsewhere.parent.mkdir()
    elsewhere.write_text("TOP SECRET")
    session.settings = replace(session.settings, database_url=f"sqlite:///{elsewhere}")
    files["database elsewhere"] = elsewhere
    files["its journal"] = elsewhere.with_name("history.sqlite-wal")
    files["its journal"].write_text("TOP SECRET")
    for name, path in files.items():
        spelled = {
            "plain": path,
            "dot-dot": app_dir / "public" / ".." / path.relative_to(app_dir)
            if path.is_relative_to(app_dir)
            else path,
        }
        for how, given in spelled.items():
            element = cl.Text(name=name, path=given)
            with pytest.raises(ElementPathError) as refused:
                await element.prepare(session)
            assert "TOP SECRET" not in str(element.data().content), (name, how)
            assert str(tmp_path) not in str(refused.value), (name, how)

    # Nor through a link, whether symbolic or hard, from a folder elements may read.
    public = app_dir / "public"
    public.mkdir()
    (public / "innocent.txt").symlink_to(files["secret"])
    os.link(files["secret"], public / "innocent-too.txt")
    narrow = chat_session(app_dir)
    for name in ("innocent.txt", "innocent-too.txt"):
        with pytest.raises(ElementPathError, match="belongs to lightchat itself"):
            await cl.File(path=public / name).prepare(narrow)


async def test_a_refused_path_names_no_server_path_in_the_chat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: Serve
) -> None:
    """The chat shows a short refusal; the log has the paths."""
    app_dir = tmp_path / "app"
    lightchat_state(app_dir)
    app = LightChat(settings=Settings(app_dir=str(app_dir), secret=SECRET, history=False))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Which file?").send()

    @app.on_message
    async def main(message: Message) -> None:
        name = message.content
        await Message(content="here", elements=[cl.Text(name="f", path=app_dir / name)]).send()

    (tmp_path / "outside.txt").symlink_to("/proc/self/environ")
    async with serve(app, form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        for asked in (".lightchat/secret", "../outside.txt", "missing.txt", "../../../etc"):
            page = await said(site, client, url, token, asked)
            errors = re.findall(r'data-type="error".*?</article>', page, re.DOTALL)
            assert errors, asked
            shown = html.unescape(errors[-1])
            assert str(tmp_path) not in shown, shown
            assert "/proc" not in shown, shown
            assert str(os.getpid()) not in shown, shown
            assert "TOP SECRET" not in page
    logged = caplog.text
    assert str(app_dir / ".lightchat" / "secret") in logged
    assert "/proc/" in logged


async def test_no_message_can_make_the_server_show_a_file(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret=SECRET, history=False))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Which file?").send()

    @app.on_message
    async def main(message: Message) -> None:
        # An app that trusts its user far too much.
        await Message(content="here", elements=[cl.Text(name="f", path=message.content)]).send()

    async with serve(app, form_token=False) as site:
        client = site.browser()
        url, token = await open_chat(site, client)
        page = await said(site, client, url, token, "/etc/passwd")
        assert "root:" not in page
        assert 'data-type="error"' in page
        assert "outside the folders elements may read" in page


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server that counts the requests it gets."""
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


async def test_elements_from_a_url_are_never_fetched_by_the_server(
    tmp_path: Path, serve: Serve
) -> None:
    with counting_server() as (origin, hits):
        app = LightChat(settings=Settings(app_dir=str(tmp_path), secret=SECRET, history=False))
        sent: list[cl.Element] = []

        @app.on_chat_start
        async def start() -> None:
            sent.extend(
                [
                    cl.Image(name="pic", url=f"{origin}/pic.png"),
                    cl.File(name="doc", url=f"{origin}/doc.pdf"),
                    cl.Pdf(name="paper", url=f"{origin}/paper.pdf", display="side"),
                    cl.Text(name="notes", url=f"{origin}/notes.txt"),
                ]
            )
            await Message(content="look", elements=sent).send()

        async with serve(app, form_token=False) as site:
            client = site.browser()
            url, _ = await open_chat(site, client)
            page = (await client.get(url)).text
            for element in sent:
                assert element.key is None  # nothing was stored: nothing was read
                assert element.data().key is None
                assert element.data().url == element.url
                assert f"{origin}/" in page
                await client.get(f"{url}/elements/{element.id}")
                await client.get(f"{url}/elements/{element.id}/view")
            assert f'src="{origin}/pic.png"' in page
        assert hits == []


async def test_an_image_pointing_at_the_root_starts_no_chat(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), history=False))

    @app.on_message
    async def main(message: Message) -> None:
        pass

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for dest in ("image", "script", "style"):
            refused = await client.get("/", headers={"Sec-Fetch-Dest": dest})
            assert refused.status_code == 400
        assert app.chats is not None
        assert len(app.chats) == 0
        page = await client.get("/", headers={"Sec-Fetch-Dest": "document"})
        assert page.status_code == 303
        assert len(app.chats) == 1
        await app.chats.close_all()
