"""HTTP, fuzzed: whatever a browser (or anything else) sends, the app never answers with a
5xx.

- Every route the app serves (its route list: a route added later must be added to
  ``ROUTES``, or ``test_every_route_is_fuzzed`` fails naming it), with every query, form,
  file, header and cookie parameter it reads: a refusal is a 4xx that says why, the server
  still answers, and the chat keeps what was said in it and still answers a message.
- A chat's message endpoint and the composer's upload path, more deeply: every message
  accepted shows in the chat's log exactly once and in order, and after a refusal the chat
  still answers a normal message.

One app serves every example of a test (hypothesis draws many); the message tests open a
chat per example, the route tests reuse the chats of one app per module.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.auth.identity import COOKIE
from lightchat.auth.sessions import OAUTH_COOKIE, SESSION_COOKIE
from lightchat.chat.session import ChatSession
from lightchat.domain.events import Event, FunctionCallEvent, MessageData
from lightchat.http.web import Services
from lightchat.ui.theme import THEME_COOKIE
from tests.helpers import HTMX, WAIT_S, Serve, Site, contents, events_of, messages_in, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

BASE = "http://testserver"
MAX_CHARS = 64
MAX_FILES = 3
MAX_MB = 1
MB = 1024 * 1024
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzz_app(tmp_path: Path) -> LightChat:
    app = LightChat(
        settings=Settings(
            name="Fuzz",
            app_dir=str(tmp_path),
            max_message_chars=MAX_CHARS,
            upload_accept="image/*,.txt,.pdf",
            upload_max_files=MAX_FILES,
            upload_max_size_mb=MAX_MB,
            form_wait_s=1,
        )
    )

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Echo {len(message.elements)}: {message.content}").send()

    return app


@pytest.fixture
async def site(tmp_path: Path, serve: Serve) -> AsyncIterator[Site]:
    # Unbounded: hypothesis runs many examples on the one site; each bounds itself.
    async with serve(fuzz_app(tmp_path), timeout=None) as site:
        yield site


# -- what gets posted -----------------------------------------------------------------------

ANY = None
"""An accepted message whose text the test does not predict (a raw body)."""


@dataclass
class Post:
    """One request to a chat's message endpoint."""

    data: dict[str, Any] | list[tuple[str, str]] | None = None
    body: bytes | None = None
    content_type: str | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    htmx: bool = True

    def expected(self) -> str | None:
        """The text the log must show if the post is accepted (``ANY``: not predicted)."""
        if self.body is not None:
            return ANY
        fields = self.data.items() if isinstance(self.data, dict) else self.data or []
        values = [value for key, value in fields if key == "content"]
        return values[-1] if values else ""

    async def send(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        headers = dict(HTMX) if self.htmx else {}
        if self.body is not None:
            if self.content_type is not None:
                headers["Content-Type"] = self.content_type
            return await client.post(f"{url}/messages", content=self.body, headers=headers)
        if isinstance(self.data, list):  # repeated fields: encoded as a browser does
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(self.data).encode()
            return await client.post(f"{url}/messages", content=body, headers=headers)
        return await client.post(
            f"{url}/messages", data=self.data, files=self.files, headers=headers
        )


# Text of every kind: controls, NUL, newlines, astral characters, around the length limit.
texts = st.one_of(
    st.text(max_size=MAX_CHARS + 8),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=12),
    st.sampled_from(["", " ", "\r\n", "\x00", "/help me", "\u202e\ufeff", "😀" * 3]),
    st.integers(MAX_CHARS - 2, MAX_CHARS + 2).map(lambda n: "x" * n),
    st.just("y" * 5000),
)
field_names = st.sampled_from(["content", "command", "mode:tone", "files", "csrf_token", "z"])
bad_utf8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\xc0\xaf"])


@st.composite
def posts(draw: st.DrawFn) -> Post:
    kind = draw(st.sampled_from(["text", "fields", "raw", "json", "multipart"]))
    htmx = draw(st.booleans())
    if kind == "text":
        return Post(data={"content": draw(texts)}, htmx=htmx)
    if kind == "fields":
        extra = draw(st.lists(st.tuples(field_names, texts), max_size=4))
        return Post(data=[("content", draw(texts)), *extra], htmx=htmx)
    if kind == "multipart":
        # A text field sent as multipart, as the composer does when it has a file input.
        empty = ("files", ("", b"", "application/octet-stream"))
        return Post(data={"content": draw(texts)}, files=[empty], htmx=htmx)
    if kind == "json":
        body = draw(st.binary(max_size=40))
        return Post(body=b'{"content": "' + body + b'"}', content_type="application/json")
    pieces = draw(st.lists(st.one_of(st.binary(max_size=8), bad_utf8), max_size=6))
    body = b"content=" + b"".join(pieces) + draw(st.sampled_from([b"", b"&content=", b"&&="]))
    content_type = draw(
        st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin-1",
                "multipart/form-data",
                "multipart/form-data; boundary=zz",
                "text/plain",
                None,
            ]
        )
    )
    return Post(body=body, content_type=content_type, htmx=htmx)


# -- checks ---------------------------------------------------------------------------------


def user_texts(events: list[Event]) -> list[str]:
    return contents(events, "user_message")


async def check_chat(site: Site, client: httpx.AsyncClient, url: str, expected: list[Any]) -> None:
    """The accepted messages are in the log once each, in order, and the chat still answers."""
    ping = f"ping {len(expected)}"
    response = await client.post(f"{url}/messages", data={"content": ping}, headers=HTMX)
    assert response.status_code == 204, response.text
    session = site.session(client, url)

    def answered(events: list[Event]) -> bool:
        return any(m.content.endswith(f": {ping}") for m in messages_in(events))

    events = await wait_for_log(session.bus, session.id, answered)
    shown = user_texts(events)
    assert len(shown) == len(expected) + 1, (shown, expected)
    for got, wanted in zip(shown, [*expected, ping], strict=True):
        if wanted is not ANY:
            assert got == wanted
    assert shown[-1] == ping


async def new_chat(site: Site, client: httpx.AsyncClient) -> str:
    response = await client.get("/")
    assert response.status_code == 303
    return str(response.headers["location"])


@FUZZ
@given(batch=st.lists(posts(), min_size=1, max_size=4))
async def test_message_posts_never_fail_and_accepted_ones_show_once_in_order(
    site: Site, batch: list[Post]
) -> None:
    client = site.clients[0] if site.clients else site.browser()
    url = await new_chat(site, client)
    expected: list[Any] = []
    async with asyncio.timeout(WAIT_S * 2):
        for post in batch:
            response = await post.send(client, url)
            assert response.status_code < 500, response.text
            event(f"status {response.status_code}")
            if response.status_code in (200, 204, 303):
                expected.append(post.expected())
            else:
                assert 400 <= response.status_code < 500
        await check_chat(site, client, url, expected)


# -- uploads --------------------------------------------------------------------------------

file_names = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "a.txt", "cat.png", "doc.pdf", "run.sh", "../../etc/passwd.txt", ".txt",
            "x.TXT", "a.txt.exe", "con.txt", "name with spaces.txt", 'q"uote.txt',
            "ünï.txt", "a\\b.txt", "a/b.png", "%2e%2e.txt", "no_extension",
        ]
    ),
    st.text(max_size=12).map(lambda name: name + ".txt"),
)  # fmt: skip
mime_types = st.sampled_from(
    [
        "text/plain", "image/png", "application/pdf", "application/octet-stream",
        "text/x-sh", "", "image/svg+xml", "text/html", "bogus", "multipart/mixed",
    ]
)  # fmt: skip
sizes = st.one_of(
    st.integers(0, 64),
    st.sampled_from([MAX_MB * MB - 1, MAX_MB * MB, MAX_MB * MB + 1]),
)


@st.composite
def uploads(draw: st.DrawFn) -> list[tuple[str, tuple[str, bytes, str]]]:
    count = draw(st.integers(0, MAX_FILES + 1))
    return [
        ("files", (draw(file_names), b"\x00" * draw(sizes), draw(mime_types))) for _ in range(count)
    ]


@FUZZ
@given(
    batch=st.lists(st.tuples(texts, uploads(), st.booleans()), min_size=1, max_size=3),
)
async def test_composer_uploads_never_fail_and_accepted_ones_show_once_in_order(
    site: Site, batch: list[tuple[str, list[tuple[str, tuple[str, bytes, str]]], bool]]
) -> None:
    client = site.clients[0] if site.clients else site.browser()
    url = await new_chat(site, client)
    expected: list[Any] = []
    async with asyncio.timeout(WAIT_S * 4):
        for text, files, htmx in batch:
            post = Post(data={"content": text}, files=files or None, htmx=htmx)
            response = await post.send(client, url)
            assert response.status_code < 500, response.text
            event(f"status {response.status_code}")
            if response.status_code in (200, 204, 303):
                expected.append(text)
                named = [f for f in files if f[1][0]]
                session = site.session(client, url)
                events = await wait_for_log(
                    session.bus, session.id, lambda ev: len(user_texts(ev)) == len(expected)
                )
                shown = [m for m in messages_in(events) if m.type == "user_message"]
                assert len(shown[-1].elements) == len(named)
                assert all(e.size is None or e.size <= MAX_MB * MB for e in shown[-1].elements)
            else:
                assert 400 <= response.status_code < 500
        await check_chat(site, client, url, expected)


# -- every route, every parameter ------------------------------------------------------------
#
# Each route the app serves is fuzzed with what it reads from a request (its path, query,
# form, file, header and cookie parameters), with values of every kind: well-formed ones,
# and the odd ones a browser never sends (digits that are not ASCII, numbers too long to
# convert, JSON nested too deep, broken addresses). Whatever comes, the answer is below 500
# (a refusal says why), the server still answers, the chat keeps its messages (unless the
# request was one that may change them, and was accepted) and still answers a message.

CHAT = "/chat/{chat_id:str}"
ASK = "__ask for a file__"
CALL = "__call the page__"
SIGN_IN_SECRET = "fuzz-" + "s" * 40
BUTTON = """<form method="post" action="{{ action_url }}">{{ csrf_input }}
<input type="hidden" name="name" value="go"><button type="submit">Go</button></form>"""
SETTINGS = (
    "model", "temperature", "stream", "tone", "count", "tags", "tools", "agree", "mood", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Reads:
    """What a route reads from a request, besides what every request carries (``COMMON``)."""

    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    files: bool = False
    headers: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    app: str = "chat"
    """The app that serves it here: ``chat`` (open, with history) or ``sign-in``."""
    chat: str = ""
    """What its chat has open: nothing, a question for files (``ask``) or a function call
    of the page (``call``)."""
    keeps: bool = True
    """An accepted request leaves the chat's messages as they were."""


FILE_HEADERS = ("Range", "If-Range", "If-None-Match", "If-Modified-Since")
"""What a file's answer reads: a part of it, or whether the browser's copy is current."""

ROUTES: dict[tuple[str, str], Reads] = {
    ("GET", "/"): Reads(query=("client", "prompt", "profile"), headers=("Sec-Fetch-Dest",)),
    ("GET", "/embed"): Reads(query=("profile",)),
    ("GET", "/embed/{chat_id:str}"): Reads(),
    ("GET", CHAT): Reads(query=("prompt",)),
    ("GET", f"{CHAT}/events"): Reads(query=("after",), headers=("Last-Event-ID",)),
    ("POST", f"{CHAT}/messages"): Reads(form=("content", "command", "mode:length"), files=True),
    ("POST", f"{CHAT}/stop"): Reads(),
    ("POST", f"{CHAT}/window-message"): Reads(form=("data",)),
    ("POST", f"{CHAT}/functions/{{call_id:str}}"): Reads(form=("result",), chat="call"),
    ("GET", f"{CHAT}/copilot"): Reads(),
    ("GET", f"{CHAT}/settings"): Reads(),
    ("POST", f"{CHAT}/settings"): Reads(form=SETTINGS, files=True),
    ("POST", f"{CHAT}/settings/edit"): Reads(form=SETTINGS, files=True),
    # MCP is on with URLs off, for an anonymous user: every server is refused (a 400 that
    # says why) before anything starts (tests/test_mcp_http.py connects real ones).
    ("GET", f"{CHAT}/mcp"): Reads(),
    ("POST", f"{CHAT}/mcp"): Reads(
        form=("name", "command", "url", "transport", "headers"), files=True
    ),
    ("POST", f"{CHAT}/mcp/disconnect"): Reads(form=("name",)),
    # Voice is off here: every request is the same 404 (tests/test_voice.py has it on).
    ("POST", f"{CHAT}/audio"): Reads(),
    ("POST", f"{CHAT}/audio/{{recording:str}}/chunks/{{seq:str}}"): Reads(),
    ("POST", f"{CHAT}/audio/{{recording:str}}/end"): Reads(query=("chunks",)),
    ("POST", f"{CHAT}/messages/{{message_id:str}}/edit"): Reads(form=("content",), keeps=False),
    ("POST", f"{CHAT}/messages/{{message_id:str}}/regenerate"): Reads(keeps=False),
    # Favourites need sign-in: here they are off, and every request is the same 404.
    ("POST", f"{CHAT}/messages/{{message_id:str}}/favorite"): Reads(form=("favorite",)),
    ("GET", f"{CHAT}/favorites"): Reads(),
    ("POST", f"{CHAT}/favorites/{{message_id:str}}/remove"): Reads(),
    # A button's post carries nothing the server reads: a forged name or payload is ignored.
    ("POST", f"{CHAT}/actions/{{action_id:str}}"): Reads(form=("name", "payload")),
    ("POST", f"{CHAT}/asks/{{message_id:str}}/files"): Reads(files=True, chat="ask"),
    ("GET", f"{CHAT}/elements/{{element_id:str}}"): Reads(),
    ("GET", f"{CHAT}/elements/{{element_id:str}}/view"): Reads(),
    ("POST", f"{CHAT}/elements/{{element_id:str}}/actions"): Reads(form=("name", "payload")),
    # A custom element's own requests: its JSX frame, updateElement, deleteElement,
    # sendUserMessage, and submitElement/cancelElement (no question is open here: a 409).
    ("GET", f"{CHAT}/elements/{{element_id:str}}/jsx"): Reads(),
    ("POST", f"{CHAT}/elements/{{element_id:str}}/props"): Reads(form=("props",)),
    ("POST", f"{CHAT}/elements/{{element_id:str}}/delete"): Reads(),
    ("POST", f"{CHAT}/elements/{{element_id:str}}/message"): Reads(form=("content", "command")),
    ("POST", f"{CHAT}/elements/{{element_id:str}}/submit"): Reads(form=("values", "title")),
    ("POST", f"{CHAT}/elements/{{element_id:str}}/cancel"): Reads(),
    ("GET", "/env"): Reads(app="sign-in"),
    ("POST", "/env"): Reads(form=("API_KEY",), app="sign-in"),
    ("GET", "/history"): Reads(query=("q", "chat")),
    ("GET", f"{CHAT}/rename"): Reads(query=("chat",)),
    ("POST", f"{CHAT}/rename"): Reads(form=("name", "chat")),
    ("GET", f"{CHAT}/delete"): Reads(query=("chat",)),
    ("POST", f"{CHAT}/delete"): Reads(form=("chat",), keeps=False),
    ("POST", f"{CHAT}/feedback/{{message_id:str}}"): Reads(form=("value", "comment")),
    ("GET", f"{CHAT}/export.md"): Reads(),
    ("GET", f"{CHAT}/export.json"): Reads(),
    ("GET", f"{CHAT}/debug"): Reads(),
    ("GET", f"{CHAT}/debug/log.jsonl"): Reads(),
    ("GET", f"{CHAT}/debug/replay"): Reads(query=("at", "play")),
    # Sharing needs sign-in, which this open app has not: these answer 404 here, whatever
    # they are sent (tests/test_share_http.py tries them with sharing on).
    ("GET", f"{CHAT}/share"): Reads(),
    ("POST", f"{CHAT}/share"): Reads(),
    ("POST", f"{CHAT}/unshare"): Reads(),
    ("GET", "/share/{thread_id:str}"): Reads(),
    ("GET", "/share/{thread_id:str}/elements/{element_id:str}"): Reads(headers=FILE_HEADERS),
    ("GET", "/share/{thread_id:str}/elements/{element_id:str}/view"): Reads(),
    ("GET", "/share/{thread_id:str}/elements/{element_id:str}/jsx"): Reads(),
    # The analytics page is for admins, whom this open app has not: 404 here, whatever is
    # sent (tests/test_analytics_http.py tries them as an admin, bad periods included).
    ("GET", "/analytics"): Reads(query=("period", "from", "to", "profile", "tag", "client")),
    ("GET", "/analytics/{name:str}.csv"): Reads(
        query=("period", "from", "to", "profile", "tag", "client")
    ),
    ("GET", "/analytics/threads/{thread_id:str}"): Reads(),
    ("GET", "/analytics/threads/{thread_id:str}/elements/{element_id:str}"): Reads(
        headers=FILE_HEADERS
    ),
    ("GET", "/analytics/threads/{thread_id:str}/elements/{element_id:str}/view"): Reads(),
    ("GET", "/login"): Reads(query=("next",), app="sign-in"),
    ("POST", "/login"): Reads(form=("username", "password", "next"), app="sign-in"),
    ("POST", "/logout"): Reads(app="sign-in"),
    ("GET", "/auth/oauth/{provider:str}"): Reads(query=("next",), app="sign-in"),
    ("GET", "/auth/oauth/{provider:str}/callback"): Reads(
        query=("state", "code", "error", "error_description", "iss"),
        cookies=(OAUTH_COOKIE,),
        app="sign-in",
    ),
    ("GET", "/auth/jwt"): Reads(query=("next",), app="sign-in"),
    ("POST", "/auth/jwt"): Reads(headers=("Authorization",), app="sign-in"),
    ("GET", "/readme"): Reads(query=("chat",)),
    ("GET", "/new-chat"): Reads(query=("profile", "client", "chat")),
    ("GET", "/-/health"): Reads(),
    ("GET", "/-/ready"): Reads(),
    ("GET", "/-/theme.css"): Reads(query=("v",)),
    ("POST", "/-/theme"): Reads(form=("theme", "next"), headers=("Referer", "X-Lightchat-Theme")),
    ("GET", "/public/{path:path}"): Reads(headers=FILE_HEADERS),
    ("GET", "/-/copilot.js"): Reads(headers=("If-None-Match",)),
    ("GET", "/copilot/index.js"): Reads(headers=("If-None-Match",)),
    ("GET", "/-/elements/{name:str}.js"): Reads(headers=FILE_HEADERS),
    # The static files (/-/static/{path}; a page's scripts joined: a+b.js) and plotly.js.
    ("GET", "/-/static"): Reads(query=("v",), headers=(*FILE_HEADERS, "Accept-Encoding")),
    ("GET", "/-/plotly"): Reads(query=("v",), headers=(*FILE_HEADERS, "Accept-Encoding")),
    ("GET", "/-/static/vendor/{package:str}/{file:str}"): Reads(headers=("Accept-Encoding",)),
}

COMMON = Reads(
    headers=(
        "Host", "HX-Request", "HX-Current-URL", "Referer", "Accept-Language", "Origin",
        "Sec-Fetch-Site", "X-CSRF-Token", "Content-Length",
    ),
    cookies=(COOKIE, THEME_COOKIE, SESSION_COOKIE),
)  # fmt: skip
"""What any request may carry that lightchat reads: the host, htmx's headers, the page it
came from, the language, the cross-site checks, the form token, the body's length and the
cookies."""


def served(app: LightChat) -> set[tuple[str, str]]:
    """Each (method, path) the app answers, as its route list names them."""
    found: set[tuple[str, str]] = set()
    for route in app.build().routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path))
        elif isinstance(route, Route):
            found.update((method, route.path) for method in route.methods or () if method != "HEAD")
        else:
            raise AssertionError(f"A route of a kind the fuzz does not know: {route!r}")
    return found


def test_every_route_is_fuzzed(tmp_path: Path) -> None:
    routes = served(every_route_app(tmp_path))
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"Routes the fuzz does not know (add them to ROUTES): {missing}"
    gone = sorted(set(ROUTES) - routes)
    assert not gone, f"ROUTES names routes the app no longer serves: {gone}"


CARD_JSX = "export default function Card() { return <p>{props.n}</p>; }\n"
"""A JSX custom element (Chainlit's public/elements/Card.jsx)."""


def every_route_app(app_dir: Path) -> LightChat:
    """An open app with everything a route may act on: history, settings of every kind,
    profiles, commands and modes, an action, elements of each kind (a custom one too),
    questions for files, calls of the page, window messages, a readme and public files."""
    (app_dir / "elements").mkdir(exist_ok=True)
    (app_dir / "elements" / "Button.html").write_text(BUTTON)
    (app_dir / "elements" / "Button.js").write_text("void 0;\n")
    (app_dir / "public").mkdir(exist_ok=True)
    (app_dir / "public" / "logo.txt").write_text("logo")
    (app_dir / "public" / "elements").mkdir(exist_ok=True)
    (app_dir / "public" / "elements" / "Card.jsx").write_text(CARD_JSX)
    (app_dir / "lightchat.md").write_text("# About\n\nA test app.\n")
    app = LightChat(
        settings=Settings(
            name="Fuzz",
            app_dir=str(app_dir),
            max_message_chars=MAX_CHARS,
            upload_accept="image/*,.txt",
            upload_max_files=MAX_FILES,
            upload_max_size_mb=MAX_MB,
            form_wait_s=1,
            shutdown_grace_s=0,  # a question still waiting at the end need not be waited for
            debug=True,  # its pages are routes too, and every page shows its details
            mcp=True,  # its dialog is a route too; URLs off: nothing is reached over the network
            mcp_sse=False,
            mcp_streamable_http=False,
        )
    )

    @app.set_chat_profiles
    async def profiles() -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name="Quick", default=True), cl.ChatProfile(name="Deep")]

    @app.on_chat_start
    async def start() -> None:
        await cl.ChatSettings(
            [
                cl.Select(id="model", label="Model", values=["small", "large"], initial_index=0),
                cl.Slider(
                    id="temperature", label="Temperature", initial=0.5, min=0, max=1, step=0.1
                ),
                cl.Switch(id="stream", label="Stream", initial=True),
                cl.TextInput(id="tone", label="Tone", initial="calm"),
                cl.NumberInput(id="count", label="Count", initial=1, step=0.5),
                cl.Tags(id="tags", label="Tags", initial=["a"]),
                cl.MultiSelect(id="tools", label="Tools", values=["web", "code"], initial=["web"]),
                cl.Checkbox(id="agree", label="Agree", initial=False),
                cl.RadioGroup(id="mood", label="Mood", values=["calm", "bold"], initial_index=0),
            ]
        ).send()
        await cl.context.emitter.set_commands([{"id": "Search", "description": "Search"}])
        short = cl.ModeOption(id="short", name="Short", default=True)
        length = cl.Mode(
            id="length", name="Length", options=[short, cl.ModeOption(id="long", name="Long")]
        )
        await cl.context.emitter.set_modes([length])
        await Message(
            content="Shop",
            actions=[cl.Action(name="go", payload={"n": 1}, label="Go")],
            elements=[
                cl.File(name="a.txt", content=b"a"),
                cl.Image(name="logo", content=b"\x89PNG", mime="image/png"),
                cl.Text(name="notes", content="Notes", display="side"),
                cl.Pdf(name="doc", content=b"%PDF-1.4", display="page"),
                cl.CustomElement(name="Button", props={"n": 1}),
                cl.CustomElement(name="Card", props={"n": 1}),
            ],
        ).send()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == ASK:
            files = await cl.AskFileMessage(
                content="A text?", accept=["text/plain"], timeout=60
            ).send()
            await Message(content=f"Got {len(files or [])}").send()
        elif message.content == CALL:
            answer = await cl.CopilotFunction(name="f", args={}).acall(timeout=60)
            await Message(content=f"Page said {str(answer)[:20]}").send()
        else:
            await Message(content=f"Echo: {message.content}").send()

    @app.action_callback("go")
    async def go(action: cl.Action) -> None:
        await Message(content="Went").send()

    @app.on_settings_update
    async def settings_updated(values: dict[str, Any]) -> None:
        await Message(content="Settings saved").send()

    @app.on_window_message
    async def window_message(data: Any) -> None:
        await Message(content="Heard").send()

    return app


def sign_in_app(app_dir: Path) -> LightChat:
    """An app with sign-in (a password, and GitHub) that asks each user for a key."""
    app = LightChat(
        settings=Settings(
            name="Fuzz sign-in",
            app_dir=str(app_dir),
            auth_secret=SIGN_IN_SECRET,
            user_env="API_KEY",
            history=False,
        )
    )

    @app.password_auth_callback
    def check(username: str, password: str) -> cl.User | None:
        return cl.User(identifier="ada") if (username, password) == ("ada", "pw") else None

    @app.oauth_callback
    def decide(provider_id: str, token: str, raw: dict[str, Any], user: cl.User) -> cl.User:
        return user

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Echo: {message.content}").send()

    with pytest.MonkeyPatch.context() as env:
        env.setenv("OAUTH_GITHUB_CLIENT_ID", "fuzz-id")
        env.setenv("OAUTH_GITHUB_CLIENT_SECRET", "fuzz-secret")
        app.build()  # the providers are read from the environment here
    return app


# -- the values -------------------------------------------------------------------------------

LARGE = {
    "<5,000 digits>": "9" * 5000,
    "<JSON 50,000 deep>": "[" * 50_000 + "]" * 50_000,
    "<JSON 30,000 deep>": "[" * 30_000 + "]" * 30_000,
    "<JSON 65 deep>": '{"a":' * 65 + "1" + "}" * 65,
    "<70,000 x>": "x" * 70_000,
}
"""Long odd values, drawn by their names (a short name keeps hypothesis's record of each
example small)."""

ODD = [
    "", " ", "0", "-1", "1.5", "007", "²", "٣", "\uff11", "1" * 19, "1e999", "1e308",
    "-1.7e308", "-0", "NaN", "Infinity", "null", "true", "[]", "{}", "[", '{"a":',
    '{"by": NaN}', '{"by": 1e999}', "\x00", "\r\n", "\t", "..", "../../etc/passwd", "%2e%2e/x",
    "//evil.example/", "https://evil.example/", "http://[::1", "http://[",
    "javascript:alert(1)", "<script>alert(1)</script>", "%", "%ff", "😀", "\u202e\ufeff",
    "\u212a", "İ", *LARGE,
]  # fmt: skip
"""Values no form of the app sends: digits int() refuses or cannot convert, numbers past
any range, JSON too deep or too large, paths and addresses that break parsers."""

odd = st.one_of(
    st.sampled_from(ODD),
    st.sampled_from(ODD),  # twice: the known troublemakers come up more often
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
)

GOOD: dict[str, list[str]] = {
    "client": ["copilot", "webapp"],
    "prompt": ["Hi"],
    "profile": ["Quick", "Deep"],
    "after": ["0", "1", "5"],
    "Last-Event-ID": ["0", "3"],
    "content": ["Hello", "/Search it"],
    "command": ["Search"],
    "mode:length": ["short", "long"],
    "data": ['{"a": 1}', '"hi"'],
    "result": ["1", '{"ok": true}'],
    "model": ["large"],
    "temperature": ["0.3"],
    "stream": ["on"],
    "tone": ["warm"],
    "count": ["2.5"],
    "tags": ["x, y"],
    "tools": ["code"],
    "agree": ["on"],
    "mood": ["bold"],
    "name": ["go", "Renamed"],
    "payload": ['{"n": 2}', "{}"],
    "API_KEY": ["key"],
    "q": ["hello"],
    "value": ["0", "1"],
    "comment": ["Nice"],
    "next": ["/", "/history", "https://evil.example/"],
    "username": ["ada"],
    "password": ["pw", "wrong"],
    "state": ["x"],
    "code": ["x"],
    "error": ["access_denied"],
    "error_description": ["no"],
    "iss": ["https://github.com"],
    "theme": ["light", "dark", "system"],
    "Sec-Fetch-Dest": ["document", "image"],
    "HX-Request": ["true"],
    "HX-Current-URL": [f"{BASE}/chat/x"],
    "Accept-Language": ["fr", "ar;q=0.5, de"],
    "Origin": [BASE, "http://evil.example"],
    "Sec-Fetch-Site": ["same-origin", "cross-site"],
    "X-CSRF-Token": ["x"],
    "Content-Length": ["0", "10"],
    "Referer": [f"{BASE}/chat/x"],
    "X-Lightchat-Theme": ["1"],
    "If-None-Match": ['"x"', "*"],
    "If-Modified-Since": ["Wed, 21 Oct 2015 07:28:00 GMT"],
    "Range": ["bytes=0-1", "bytes=-5", "bytes=1-0,2-3"],
    "If-Range": ['"x"'],
    "Host": ["testserver", "localhost:8000"],
    COOKIE: ["x"],
    THEME_COOKIE: ["dark", "light"],
    SESSION_COOKIE: ["x"],
    "provider": ["github", "google"],
    "path": ["logo.txt"],
    "static": ["lightchat.js", "lightchat.css", "lightchat.js+htmx-sse-4.0.1.min.js"],
    "plotly": ["plotly.min.js"],
    "script": ["Button"],
    "props": ['{"n": 2}', "{}"],
    "values": ['{"title": "x"}'],
    "title": ["x"],
    "package": ["preact", "babel-standalone"],
    "file": ["preact.umd.js", "babel.min.js"],
    "Accept-Encoding": ["gzip", "identity"],
}
"""Well-formed values of each parameter (the chat's own ids are added per chat)."""

PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


URL_MAX_CHARS = 8000
"""The longest value sent in an address or a header: servers refuse longer request lines
and headers themselves (uvicorn's h11 at 16 KB), before the app sees them."""


VALUE = st.one_of(st.integers(0, 63), odd)
"""A parameter's value: a number that picks one of its well-formed values (whatever they
are at the moment: what is drawn must not depend on the chat, whose ids change between
examples, or hypothesis could not replay an example), or an odd value."""


def value(
    data: st.DataObject, name: str, good: dict[str, list[str]], max_chars: int | None = None
) -> str:
    """Draw a value of parameter ``name``: well-formed or odd (see ``VALUE``)."""
    drawn = data.draw(VALUE, label=name)
    if isinstance(drawn, int):
        known = good.get(name, []) + GOOD.get(name, [])
        drawn = known[drawn % len(known)] if known else str(drawn)
    drawn = LARGE.get(drawn, drawn)
    return drawn if max_chars is None else drawn[:max_chars]


def header_bytes(text: str, latin1: bool) -> bytes:
    """A header's value as a client may send it: UTF-8, or one byte per character
    (latin-1) where it can; never a line break or NUL, which no server passes on."""
    try:
        raw = text.encode("latin-1") if latin1 else text.encode()
    except UnicodeEncodeError:
        raw = text.encode()
    return raw.translate(None, b"\r\n\x00")


@dataclass
class Drawn:
    """One request to a route, as drawn."""

    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    files: list[tuple[str, tuple[str, bytes, str]]]
    headers: dict[str, bytes]
    cookies: dict[str, bytes]

    def describe(self) -> str:
        def short(value: object) -> str:
            text = repr(value)
            return text if len(text) < 80 else text[:60] + f"...({len(text)} chars)"

        parts = [f"{self.method} {short(self.path)}"]
        for label, items in (("query", self.query), ("form", self.form)):
            parts += [f"{label} {name}={short(value)}" for name, value in items]
        parts += [f"header {name}: {short(value)}" for name, value in self.headers.items()]
        parts += [f"cookie {name}={short(value)}" for name, value in self.cookies.items()]
        parts += [f"file {short(file[1][0])} ({len(file[1][1])} bytes)" for file in self.files]
        return "\n  ".join(parts)


def path_of(template: str, pick: Callable[[str], str]) -> str:
    """The route's address with the value ``pick`` gives each path parameter (a custom
    element's script is named by ``script``, a static file by ``static``)."""

    def segment(match: re.Match[str]) -> str:
        name = "script" if template.startswith("/-/elements/") else match.group(1)
        return quote(pick(name), safe="")

    path = PATH_PARAM.sub(segment, template)
    if template in ("/-/static", "/-/plotly"):
        path += "/" + quote(pick(template[3:]), safe="/+")
    return path


def draw_request(
    data: st.DataObject, method: str, template: str, reads: Reads, good: dict[str, list[str]]
) -> Drawn:
    """A request to the route ``template`` with some of what it reads, each value well
    formed or odd."""
    path = path_of(template, lambda name: value(data, name, good, URL_MAX_CHARS))

    def some(names: tuple[str, ...], label: str, max_chars: int | None) -> list[tuple[str, str]]:
        chosen = data.draw(st.lists(st.sampled_from(names), max_size=len(names) + 1), label=label)
        return [(name, value(data, name, good, max_chars)) for name in chosen]

    query = some(reads.query, "query", URL_MAX_CHARS // 2) if reads.query else []
    form = some(reads.form, "form", None) if reads.form else []
    files = data.draw(uploads(), label="files") if reads.files else []
    headers: dict[str, bytes] = {}
    for name in data.draw(
        st.sets(st.sampled_from(reads.headers + COMMON.headers), max_size=3), label="headers"
    ):
        text = value(data, name, good, URL_MAX_CHARS)
        headers[name] = header_bytes(text, data.draw(st.booleans(), label="latin-1"))
    if method == "GET" and "Content-Length" in headers:
        del headers["Content-Length"]  # a GET has no body to measure
    cookies: dict[str, bytes] = {}
    for name in data.draw(
        st.sets(st.sampled_from(reads.cookies + COMMON.cookies), max_size=2), label="cookies"
    ):
        text = value(data, name, good, URL_MAX_CHARS // 2)
        cookies[name] = header_bytes(text, latin1=False).replace(b";", b"")
    return Drawn(method, path, query, form, files, headers, cookies)


BROKE = {
    "path": ["²", "<5,000 digits>", "http://[", "<70,000 x>"],
    "query": ["²", "<5,000 digits>", "http://["],
    "header": ["²", "<5,000 digits>", "http://["],
    "cookie": ["²", "<5,000 digits>"],
    "form": [
        "²", "<5,000 digits>", "http://[", "1e308", "<JSON 30,000 deep>", "<JSON 50,000 deep>",
        "<70,000 x>",
    ],
}  # fmt: skip
"""Odd values that once made a route answer 500 (digits int() refuses or cannot convert,
an address no parser reads, a number too large to count in steps, JSON too deep to parse,
a name too long for a file): each goes into every parameter of every route that can carry
it (and, for what every request carries, of two routes), every time."""

SWEPT_WITH_COMMON = {("GET", CHAT), ("POST", f"{CHAT}/messages"), ("GET", "/env"), ("POST", "/env")}


def swept(
    method: str,
    template: str,
    reads: Reads,
    good: dict[str, list[str]],
    *,
    signed_out: bool = False,
) -> list[Drawn]:
    """A request per parameter of the route and value of ``BROKE``: that parameter odd,
    the route's others well-formed (its path and form) or left out; ``signed_out``, with
    an empty session cookie (the sign-in gate answers)."""

    def well_formed(name: str) -> str:
        return (good.get(name, []) + GOOD.get(name, []) + ["x"])[0]

    names = PATH_PARAM.findall(template)
    if template.startswith("/-/elements/"):
        names = ["script"]
    elif template in ("/-/static", "/-/plotly"):
        names = [template[3:]]
    shared = (method, template) in SWEPT_WITH_COMMON
    headers = reads.headers + (COMMON.headers if shared else ())
    cookies = reads.cookies + (COMMON.cookies if shared else ())
    targets = [("path", name) for name in names]
    targets += [("query", name) for name in reads.query]
    targets += [("form", name) for name in reads.form]
    targets += [("header", name) for name in dict.fromkeys(headers)]
    targets += [("cookie", name) for name in dict.fromkeys(cookies)]
    requests = []
    for kind, name in targets:
        if (method, name) == ("GET", "Content-Length"):
            continue  # a GET has no body to measure
        for odd_value in BROKE[kind]:
            text = LARGE.get(odd_value, odd_value)
            path_values = {param: well_formed(param) for param in names}
            if kind == "path":
                path_values[name] = text[:URL_MAX_CHARS]
            path = path_of(template, path_values.__getitem__)
            form = [(field, well_formed(field)) for field in reads.form if field != name]
            drawn = Drawn(method, path, [], form, [], {}, {})  # as a plain form sends it
            if signed_out:
                drawn.cookies[SESSION_COOKIE] = b""
            if kind == "query":
                drawn.query.append((name, text[: URL_MAX_CHARS // 2]))
            elif kind == "form":
                drawn.form.append((name, text))
            elif kind == "header":
                drawn.headers[name] = header_bytes(text[:URL_MAX_CHARS], latin1=True)
            elif kind == "cookie":
                drawn.cookies[name] = header_bytes(text[: URL_MAX_CHARS // 2], latin1=False)
            requests.append(drawn)
    return requests


# -- the stage --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    text: str
    redirect: str = ""
    """Where an htmx request is sent instead (``HX-Redirect``), e.g. to sign in."""


CHAT_MAX_ITEMS = 30


class Stage:
    """One app served in-process with its lifespan, one browser, and the browser's chats
    brought to where each route can act (made again when a request ended one)."""

    def __init__(self, site: Site, portal: BlockingPortal) -> None:
        self.site = site
        self.app = site.app
        self.portal = portal
        self.client = site.browser()
        self.chats: dict[str, str] = {}
        self.calls: dict[str, str] = {}
        """The function call each chat waits for the page to answer (by chat URL)."""
        self.oauth_flow = ""
        self.pings = 0

    @classmethod
    async def for_site(cls, site: Site, portal: BlockingPortal) -> Stage:
        """A stage made on the portal's event loop, where its clients will run."""
        return cls(site, portal)

    @property
    def services(self) -> Services:
        return self.site.services

    def session(self, url: str) -> ChatSession | None:
        """The browser's chat at ``url``, if it still runs."""
        owner = self.services.identity.load(self.client.cookies.get(COOKIE))
        found = None if owner is None else self.services.chats.get(url.rsplit("/", 1)[1], owner)
        return None if found is None or found.closed else found

    async def said(self, url: str, text: str) -> None:
        """Send ``text`` as the user (as htmx does) and wait for its echo."""
        response = await self.client.post(f"{url}/messages", data={"content": text}, headers=HTMX)
        assert response.status_code == 204, response.text
        session = self.session(url)
        assert session is not None
        await wait_for_log(session.bus, session.id, lambda e: f"Echo: {text}" in contents(e))

    async def chat(self, need: str) -> str:
        """A chat of this browser with something said in it and, as ``need`` says, a
        question for files (``ask``) or a function call of the page (``call``) waiting."""
        url = self.chats.get(need)
        session = None if url is None else self.session(url)
        # A chat grows by a ping per example: a fresh one now and then keeps pages small.
        if url is None or session is None or len(session.transcript.items) > CHAT_MAX_ITEMS:
            response = await self.client.get("/?client=copilot" if need == "call" else "/")
            assert response.status_code == 303, response.text
            url = self.chats[need] = str(response.headers["location"])
            session = self.session(url)
            assert session is not None
            await self.said(url, "hello")
            assert self.app.history is not None
            await self.app.history.flush()  # the thread is there to rename, export...
        if need == "ask" and not open_questions(session):
            sent = await self.client.post(f"{url}/messages", data={"content": ASK}, headers=HTMX)
            assert sent.status_code == 204, sent.text
            await wait_for_log(session.bus, session.id, lambda e: bool(open_questions(session)))
        if need == "call" and url not in self.calls:
            made = len(function_calls(await events_of(session)))
            sent = await self.client.post(f"{url}/messages", data={"content": CALL}, headers=HTMX)
            assert sent.status_code == 204, sent.text
            events = await wait_for_log(
                session.bus, session.id, lambda e: len(function_calls(e)) > made
            )
            self.calls[url] = function_calls(events)[-1].call_id
        return url

    def ids(self, url: str) -> dict[str, list[str]]:
        """The chat's own ids, as well-formed values of the routes' path parameters."""
        session = self.session(url)
        assert session is not None
        shown = [m for m in session.transcript.items.values() if isinstance(m, MessageData)]
        return {
            "chat_id": [session.id],
            "thread_id": [session.id],
            "chat": [session.id],
            "message_id": [m.id for m in shown],
            "action_id": [a.id for m in shown for a in m.actions],
            "element_id": [e.id for m in shown for e in m.elements],
            "call_id": [self.calls[url]] if url in self.calls else [],
            "v": [self.services.renderer.brand.version, self.services.renderer.static_version],
        }

    async def start_signing_in(self) -> None:
        """Start a sign-in with GitHub, for its flow cookie (the provider would send the
        browser back with it); the browser itself stays signed out."""
        started = await self.client.get("/auth/oauth/github")
        assert started.status_code == 303, started.text
        self.oauth_flow = started.cookies[OAUTH_COOKIE]
        self.client.cookies.clear()

    async def ready_for(self, reads: Reads) -> tuple[str, dict[str, list[str]]]:
        """Bring the app to where a route that ``reads`` this can act: the chat's URL (""
        for the sign-in app) and the well-formed values of this moment (its ids)."""
        async with asyncio.timeout(WAIT_S * 2):
            if reads.app == "chat":
                url = await self.chat(reads.chat)
                return url, self.ids(url)
            auth = self.services.auth
            assert auth is not None
            if auth.sessions.load(self.client.cookies.get(SESSION_COOKIE)) is None:
                # Signed out by a request: in again (a fuzzed sign-in may have locked ada out
                # for a while, which refuses this; the routes are fuzzed signed out then).
                await self.client.post("/login", data={"username": "ada", "password": "pw"})
            return "", {OAUTH_COOKIE: [self.oauth_flow]}

    async def try_out(self, reads: Reads, url: str, drawn: Drawn, *, ping: bool = True) -> int:
        """Send ``drawn``; check that the answer is no 5xx (a refusal says why), that the
        server still answers, and that the chat lost nothing and (``ping``) still answers.
        The answer's status."""
        async with asyncio.timeout(WAIT_S * 2):
            before = said_messages(self.session(url)) if url else {}
            jar = self.client.cookies.jar
            cookies = list(jar)
            try:
                answer = await self.send(drawn)
            finally:  # the next example starts from the same cookies
                jar.clear()
                for cookie in cookies:
                    jar.set_cookie(cookie)
            where = f"\n  {drawn.describe()}\n"
            assert answer.status < 500, f"{answer.status} for{where}{answer.text[:300]}"
            assert answer.status >= 100, f"no answer for{where}"
            if answer.status >= 400 and not answer.redirect:
                assert answer.text.strip(), f"a {answer.status} without a word of why, for{where}"

            if ping:
                assert (await self.client.get("/-/health")).status_code == 200
            if not url:
                assert (await self.client.get("/login")).status_code < 400
                return answer.status
            if url in self.calls and drawn.method == "POST" and answer.status == 204:
                del self.calls[url]  # the page's answer was taken: the call is over
            session = self.session(url)
            if reads.keeps or answer.status >= 400:
                after = said_messages(session)
                lost = {key: text for key, text in before.items() if after.get(key) != text}
                assert not lost, f"the chat lost {lost} after{where}"
            if ping:
                await self.ping(reads, url)
            return answer.status

    async def ping(self, reads: Reads, url: str) -> None:
        """The chat still answers a message (unless it waits for the page, or a file)."""
        if self.session(url) is not None and not reads.chat:
            self.pings += 1
            await self.said(url, f"ping {self.pings}")

    async def sweep(self, reads: Reads, url: str, requests: list[Drawn]) -> None:
        """``try_out`` each request; the chat still answers a message after them all."""
        for drawn in requests:
            await self.try_out(reads, url, drawn, ping=False)
        assert (await self.client.get("/-/health")).status_code == 200
        if url:
            await self.ping(reads, url)

    async def send(self, drawn: Drawn) -> Answer:
        """Send a drawn request as a browser would (with its form token), with this
        browser's cookies (those the request names replaced)."""
        jar = {name: value.encode() for name, value in self.client.cookies.items()}
        cookie = b"; ".join(k.encode() + b"=" + v for k, v in {**jar, **drawn.cookies}.items())
        headers = {name.encode("ascii"): value for name, value in drawn.headers.items()}
        headers[b"Cookie"] = cookie
        url = drawn.path + (f"?{urlencode(drawn.query)}" if drawn.query else "")
        if drawn.files:
            data = dict(drawn.form)
            request = self.client.build_request(
                "POST", url, data=data, files=drawn.files, headers=headers
            )
        elif drawn.method == "POST":
            headers[b"Content-Type"] = b"application/x-www-form-urlencoded"
            body = urlencode(drawn.form).encode()
            request = self.client.build_request("POST", url, content=body, headers=headers)
        else:
            request = self.client.build_request("GET", url, headers=headers)
        for hook in self.client.event_hooks["request"]:
            await hook(request)  # the form token, as the page's script sends it
        return await answer_of(self.app.build(), request)


def open_questions(session: ChatSession) -> list[str]:
    """The ids of the chat's questions for files that still wait for an answer."""
    return [m for m in session.transcript.items if session.file_question(m) is not None]


def function_calls(events: list[Event]) -> list[FunctionCallEvent]:
    return [event for event in events if isinstance(event, FunctionCallEvent)]


async def answer_of(asgi: Any, request: httpx.Request) -> Answer:
    """What the app answers ``request``, read as it comes from the server: the status, any
    text, and ``HX-Redirect``. The client goes away once the answer has started, so an
    event stream (which never ends on its own) ends too."""
    body = await request.aread()
    path, _, query = request.url.raw_path.partition(b"?")
    started = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": body, "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    status = 0
    redirect = b""
    text: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, redirect
        if message["type"] == "http.response.start":
            status = message["status"]
            redirect = dict(message.get("headers", [])).get(b"hx-redirect", b"")
            started.set()
        elif message["type"] == "http.response.body":
            text.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": unquote(path.decode("ascii")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async with asyncio.timeout(WAIT_S):
        await asgi(scope, receive, send)
    return Answer(status, b"".join(text).decode(errors="replace"), redirect.decode("latin-1"))


def said_messages(session: ChatSession | None) -> dict[str, str]:
    """What was said in the chat: each finished user or assistant message's text, by id."""
    if session is None:
        return {}
    return {
        m.id: m.content
        for m in session.transcript.items.values()
        if isinstance(m, MessageData)
        and m.type in ("user_message", "assistant_message")
        and not m.streaming
    }


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory, serve: Serve) -> Iterator[dict[str, Stage]]:
    """The two apps that serve the routes (``Reads.app``), for every example of every
    route: each runs on an event loop of its own thread (a portal), and the tests draw
    their values in between calls into it, as hypothesis needs (a draw may end an example
    at any point). The sites are unbounded in time: each call into them bounds itself."""
    with start_blocking_portal(backend="asyncio") as portal:
        chat_app = every_route_app(tmp_path_factory.mktemp("chat"))
        sign_in = sign_in_app(tmp_path_factory.mktemp("sign-in"))

        def served(app: LightChat) -> AbstractAsyncContextManager[Site]:
            return serve(app, lifespan=True, timeout=None, base_url=BASE, opened_page=True)

        with (
            portal.wrap_async_context_manager(served(chat_app)) as chat_site,
            portal.wrap_async_context_manager(served(sign_in)) as sign_in_site,
        ):
            chat = portal.call(Stage.for_site, chat_site, portal)
            signs_in = portal.call(Stage.for_site, sign_in_site, portal)
            portal.call(signs_in.start_signing_in)
            yield {"chat": chat, "sign-in": signs_in}


ROUTE_FUZZ = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda route: " ".join(route))
@ROUTE_FUZZ
@given(data=st.data())
def test_no_value_of_any_parameter_breaks_a_route(
    stages: dict[str, Stage], route: tuple[str, str], data: st.DataObject
) -> None:
    method, template = route
    reads = ROUTES[route]
    stage = stages[reads.app]
    url, good = stage.portal.call(stage.ready_for, reads)
    drawn = draw_request(data, method, template, reads, good)
    status = stage.portal.call(stage.try_out, reads, url, drawn)
    event(f"status {status}")


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda route: " ".join(route))
def test_no_value_that_once_broke_a_route_breaks_any(
    stages: dict[str, Stage], route: tuple[str, str]
) -> None:
    method, template = route
    reads = ROUTES[route]
    stage = stages[reads.app]
    url, good = stage.portal.call(stage.ready_for, reads)
    requests = swept(method, template, reads, good)
    if reads.app == "sign-in":
        requests += swept(method, template, reads, good, signed_out=True)
    stage.portal.call(stage.sweep, reads, url, requests)
