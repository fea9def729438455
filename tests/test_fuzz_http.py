"""HTTP, fuzzed: whatever a browser (or anything else) posts to a chat's message endpoint
and to the composer's upload path, the app never answers with a 5xx, every message it
accepts shows in the chat's log exactly once and in order, and after a refusal the chat
still answers a normal message.

One app serves every example of a test (hypothesis draws many); each example opens a chat
of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lightchat import LightChat, Message, Settings
from lightchat.events import Event
from tests.helpers import WAIT_S, contents, messages_in, wait_for_log
from tests.test_http import Site

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

HTMX = {"HX-Request": "true"}
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
            form_wait_s=1.0,
        )
    )

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"Echo {len(message.elements)}: {message.content}").send()

    return app


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    app = fuzz_app(tmp_path)
    site = Site(app, "http://testserver")
    try:
        yield site
    finally:
        for client in site.clients:
            await client.aclose()
        if app.chats is not None:
            await app.chats.close_all()


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
