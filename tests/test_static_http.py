"""The static files and the pages on the wire: compressed (Brotli, gzip, by the request's
``Accept-Encoding``, with ``Vary``), cached for good under versioned URLs and revalidated
(304) under the others, a page's scripts in one request; pages compressed, the event
stream never."""

from __future__ import annotations

import gzip
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import brotli
import httpx
import pytest
from starlette.types import Receive, Scope, Send

import lightchat.http.endpoints.static as static_module
from lightchat import LightChat, Message, Settings
from lightchat.http.encoding import accepted
from lightchat.http.endpoints.static import FIRST_PAGE, IMMUTABLE, StaticFiles
from lightchat.http.middleware.compress import CompressPages
from lightchat.http.routes import STATIC, STATIC_DIR
from tests.helpers import HTMX, LiveServer, Serve, echo_app, start_chat

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SCRIPTS = "lightchat.js+lightchat.composer.js+htmx-sse-4.0.1.min.js"
STATIC_URL = re.compile(r'(?:src|href)="(/-/static/[^"]+)"')


def app_in(tmp_path: Path) -> LightChat:
    return echo_app(Settings(name="Echo", app_dir=str(tmp_path), history=False))


async def raw(client: httpx.AsyncClient, url: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The answer and its body as it came over the wire (not decoded)."""
    async with client.stream("GET", url, headers=headers) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


def plain(body: bytes, encoding: str | None) -> bytes:
    if encoding == "br":
        return bytes(brotli.decompress(body))
    if encoding == "gzip":
        return gzip.decompress(body)
    assert encoding is None, encoding
    return body


# -- encodings --------------------------------------------------------------------------------


def test_the_encoding_is_brotli_then_gzip_as_the_request_accepts() -> None:
    assert accepted("gzip, deflate, br, zstd") == "br"
    assert accepted("gzip;q=1.0, br;q=0") == "gzip"
    assert accepted("GZIP") == "gzip"
    assert accepted("*") == "br"
    assert accepted("*, br;q=0") == "gzip"
    assert accepted("identity") is None
    assert accepted("gzip;q=0, br;q=0") is None
    assert accepted("br;q=oops, gzip") == "gzip"
    assert accepted("") is None
    assert accepted(None) is None


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("br, gzip", "br"), ("gzip, deflate", "gzip"), ("identity", None), ("br;q=0, gzip", "gzip")],
)
async def test_a_static_file_comes_in_the_encoding_the_browser_takes(
    tmp_path: Path, serve: Serve, sent: str, expected: str | None
) -> None:
    css = (STATIC_DIR / "lightchat.css").read_bytes()
    async with serve(app_in(tmp_path)) as site:
        client = site.browser()
        response, body = await raw(client, "/-/static/lightchat.css", **{"Accept-Encoding": sent})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/css; charset=utf-8"
        assert response.headers.get("content-encoding") == expected
        assert response.headers["vary"] == "Accept-Encoding"
        assert int(response.headers["content-length"]) == len(body)
        assert plain(body, expected) == css
        if expected is not None:
            assert len(body) < len(css) / 4  # compressed at the highest level


async def test_versioned_urls_are_cached_for_good_and_the_others_revalidated(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(app_in(tmp_path)) as site:
        client = site.browser()
        version = STATIC.version
        current = await client.get(f"/-/static/lightchat.css?v={version}")
        assert current.headers["cache-control"] == IMMUTABLE
        for url in ("/-/static/lightchat.css", "/-/static/lightchat.css?v=0ld0ld0ld0"):
            other = await client.get(url)
            assert other.status_code == 200
            assert other.headers["cache-control"] == "no-cache", url

        # Revalidation: the ETag of the encoding sent; a match is a 304 without a body.
        etag = current.headers["etag"]
        assert etag.endswith('-br"')
        again = await client.get("/-/static/lightchat.css", headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"] == etag
        assert again.headers["vary"] == "Accept-Encoding"
        weak = await client.get("/-/static/lightchat.css", headers={"If-None-Match": f"W/{etag}"})
        assert weak.status_code == 304
        # Another encoding is another representation: its own ETag, sent in full.
        gzipped = await client.get(
            "/-/static/lightchat.css",
            headers={"If-None-Match": etag, "Accept-Encoding": "gzip"},
        )
        assert gzipped.status_code == 200
        assert gzipped.headers["etag"] == etag.replace('-br"', '-gzip"')

        head = await client.head(f"/-/static/lightchat.css?v={version}")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == current.headers["content-length"]


async def test_a_pages_scripts_come_joined_in_one_file(tmp_path: Path, serve: Serve) -> None:
    async with serve(app_in(tmp_path)) as site:
        client = site.browser()
        joined = await client.get(f"/-/static/{SCRIPTS}?v={STATIC.version}")
        assert joined.status_code == 200
        assert joined.headers["content-type"] == "text/javascript; charset=utf-8"
        assert joined.headers["cache-control"] == IMMUTABLE
        text = joined.text
        starts = []
        for name in SCRIPTS.split("+"):
            part = (STATIC_DIR / name).read_text().rstrip("\n")
            assert part in text, name
            starts.append(text.index(part))
        assert starts == sorted(starts)  # in the order named
        assert "\n;\n" in text  # a script without a final semicolon cannot run into the next

        for wrong in (
            "lightchat.js+lightchat.js",  # twice
            "lightchat.js+lightchat.css",  # only scripts join
            "lightchat.js+nope.js",
            "lightchat.js+../app.py",
            "+".join(["lightchat.js", "lightchat.composer.js", "lightchat.framed.js"] * 3),
            "vendor",
            "",
        ):
            assert (await client.get(f"/-/static/{wrong}")).status_code == 404, wrong
        posted = await client.post("/-/static/lightchat.css")
        assert posted.status_code in (403, 405)  # refused, as any write without a token


async def test_the_chat_page_names_only_versioned_files_one_stylesheet_and_one_script(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(app_in(tmp_path)) as site:
        client = site.browser()
        page = await client.get(await site.new_chat(client))
        urls = STATIC_URL.findall(page.text)
        assert urls == [
            f"/-/static/lightchat.css?v={STATIC.version}",
            f"/-/static/{SCRIPTS}?v={STATIC.version}",
        ]
        for url in urls:
            served = await client.get(url)
            assert served.status_code == 200, url
            assert served.headers["cache-control"] == IMMUTABLE, url


async def test_a_page_that_shows_code_links_its_colours(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), history=False))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Hello").send()

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content="```python\ndef greet():\n    pass\n```").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        href = f"/-/static/lightchat.code.css?v={STATIC.version}"
        code_css = f'<link id="lc-code-css" rel="stylesheet" href="{href}">'
        assert code_css not in (await client.get(url)).text  # no code: not fetched
        posted = await client.post(f"{url}/messages", data={"content": "code"})
        assert posted.status_code == 303
        page = (await client.get(url)).text
        assert code_css in page
        assert page.index("lightchat.css?v=") < page.index("lightchat.code.css?v=")
        served = await client.get(f"/-/static/lightchat.code.css?v={STATIC.version}")
        assert ".highlight .k" in served.text
        assert ".highlight .k" not in (await client.get("/-/static/lightchat.css")).text


# -- pages ------------------------------------------------------------------------------------


async def test_pages_and_fragments_are_compressed(tmp_path: Path, serve: Serve) -> None:
    async with serve(app_in(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for sent, expected in (("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)):
            response, body = await raw(client, url, **{"Accept-Encoding": sent})
            assert response.status_code == 200
            assert response.headers.get("content-encoding") == expected, sent
            assert "Accept-Encoding" in response.headers["vary"]
            assert "Accept-Language" in response.headers["vary"]  # what the page said stays
            assert int(response.headers["content-length"]) == len(body)
            assert b"<!doctype html>" in plain(body, expected)
        # The security headers are on the compressed answer as on any other.
        page = await client.get(url, headers={"Accept-Encoding": "br"})
        assert "script-src 'self'" in page.headers["content-security-policy"]
        # An answer without a body (a redirect) is left as it is.
        redirect = await client.get("/", headers={"Accept-Encoding": "br"})
        assert redirect.status_code == 303
        assert "content-encoding" not in redirect.headers


async def test_a_small_answer_is_sent_as_it_is(tmp_path: Path, serve: Serve) -> None:
    async with serve(app_in(tmp_path)) as site:
        health = await site.browser().get("/-/health", headers={"Accept-Encoding": "br"})
        assert health.text == "ok"
        assert "content-encoding" not in health.headers


def asgi_answer(
    content_type: str, chunks: list[bytes], more: list[tuple[bytes, bytes]] | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app answering every request with ``chunks`` (several: a streamed body)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type.encode()), *(more or [])]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})

    return app


async def test_only_whole_text_answers_are_compressed() -> None:
    text = b"<p>hello</p>" * 200
    cases: list[tuple[str, list[bytes], list[tuple[bytes, bytes]], str | None]] = [
        ("text/html; charset=utf-8", [text], [], "br"),  # a page, an htmx fragment
        ("application/json", [text], [], "br"),
        ("text/html; charset=utf-8", [text, text], [], None),  # streamed: never held back
        ("text/event-stream", [text], [], None),
        ("image/png", [text], [], None),
        ("text/html", [text], [(b"content-encoding", b"gzip")], "gzip"),  # encoded already
        ("text/html", [b"<p>short</p>"], [], None),
        ("text/css", [text], [(b"content-range", b"bytes 0-2399/9000")], None),  # a part
        ("text/javascript", [text], [(b"etag", b'"abc"')], "br"),
    ]
    for content_type, chunks, more, expected in cases:
        app = CompressPages(asgi_answer(content_type, chunks, more))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            response, body = await raw(client, "/", **{"Accept-Encoding": "br, gzip"})
        assert response.headers.get("content-encoding") == expected, content_type
        if expected == "br":
            assert plain(body, "br") == text
            assert response.headers["vary"] == "Accept-Encoding"
            assert int(response.headers["content-length"]) == len(body)
            if more:  # the tag of the bytes as they were now names the same content only
                assert response.headers["etag"] == 'W/"abc"'
            else:
                assert "etag" not in response.headers
        elif not more:
            assert body == b"".join(chunks), content_type


def test_the_event_stream_is_never_compressed(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), history=False))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content="x" * 4000).send()  # a large, very compressible event

    with LiveServer(app) as live, live.browser() as client:
        url = start_chat(client)
        posted = client.post(f"{url}/messages", data={"content": "hi"}, headers=HTMX)
        assert posted.status_code == 204
        headers = {"Accept-Encoding": "br, gzip"}
        with client.stream("GET", f"{url}/events?after=0", headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in stream.headers
            assert "content-length" not in stream.headers  # sent as it comes
            seen = b""
            for chunk in stream.iter_raw():
                seen += chunk
                if b"x" * 4000 in seen:
                    break
        assert seen.startswith(b"id:")  # plain text events, as they were written


# -- made once, kept between starts ---------------------------------------------------------


async def test_compressed_files_are_kept_and_read_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = StaticFiles(STATIC_DIR)
    await first.prepare(tmp_path / "static")
    kept = sorted(path.name for path in (tmp_path / "static").iterdir())
    assert len(kept) == 2 * len(FIRST_PAGE)  # Brotli and gzip of each
    assert not [name for name in kept if name.startswith(".")]  # no half-written file left

    def no_compressing(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("compressed again")

    monkeypatch.setattr(static_module, "compress", no_compressing)
    second = StaticFiles(STATIC_DIR)
    await second.prepare(tmp_path / "static")
    css = await second.asset(("lightchat.css",))
    assert plain(css.encoded["br"], "br") == (STATIC_DIR / "lightchat.css").read_bytes()


async def test_a_file_changed_on_disk_is_read_again_and_not_cached_for_good(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "a.css").write_text("body { color: red; }\n" * 100)
    files = StaticFiles(folder)
    version = files.version
    before = await files.asset(("a.css",))
    assert files.current(before)
    (folder / "a.css").write_text("body { color: blue; }\n" * 100)
    after = await files.asset(("a.css",))
    assert b"blue" in after.body
    assert not files.current(after)  # served, but not as the version's for good
    assert files.version == version
