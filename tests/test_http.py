"""HTTP: the real app over ASGI (request/response) and over a real server (event streams).

httpx's ASGI transport reads a whole response before returning, so the endless event
streams are tested against uvicorn on a loopback port (tests/test_sse.py); everything that
answers and ends is tested here, in-process.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lightchat import LightChat, Message, Settings, Step, context
from lightchat.auth.identity import COOKIE
from lightchat.chat.history import History
from lightchat.domain.events import MessageData, RunEvent
from tests.helpers import (
    CHAT_URL,
    HTMX,
    Serve,
    assert_inert,
    contents,
    echo_app,
    events_of,
)
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

TOKEN_IN_PAGE = re.compile(r'(?<=<meta name="csrf-token" content=")[^"]*')


# -- chats and cookies ----------------------------------------------------------------------


async def test_new_chat_sets_a_signed_cookie_and_redirects(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        response = await client.get("/")
        assert response.status_code == 303
        assert CHAT_URL.match(response.headers["location"])
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert "secure" not in attributes
        value = client.cookies[COOKIE]
        identity = site.services.identity
        assert identity.load(value) is not None
        assert identity.load(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None
        assert identity.load("forged") is None

        # The same browser keeps its cookie and gets a second chat of its own.
        again = await client.get("/")
        assert "set-cookie" not in again.headers
        second = again.headers["location"]
        assert second != response.headers["location"]
        assert (
            site.session(client, second).owner
            == site.session(client, response.headers["location"]).owner
        )


async def test_a_forged_cookie_gets_a_fresh_identity(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        response = await client.get("/", headers={"Cookie": f"{COOKIE}=not-signed"})
        assert response.status_code == 303
        fresh = response.headers["set-cookie"].split(";")[0].partition("=")[2]
        assert fresh != "not-signed"
        assert site.services.identity.load(fresh) is not None


async def test_the_cookie_is_secure_over_https(serve: Serve) -> None:
    async with serve(echo_app(), base_url="https://testserver") as site:
        response = await site.browser().get("/")
        assert "secure" in [p.strip().lower() for p in response.headers["set-cookie"].split(";")]


async def test_the_chat_page(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        events = await site.idle(site.session(client, url))
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"
        page = response.text
        assert "<title>Echo</title>" in page
        assert 'role="log"' in page
        assert 'aria-live="polite"' in page
        assert f'method="post" action="{url}/messages"' in page
        assert f'hx-post="{url}/messages"' in page
        assert '<textarea name="content"' in page
        assert f'hx-sse:connect="{url}/events?after={len(events)}"' in page
        assert "Welcome to <em>echo</em>" in page
        assert "lc-stop" not in page


async def test_health_and_static_files(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        health = await client.get("/-/health")
        assert (health.status_code, health.text) == (200, "ok")
        script = await client.get("/-/static/lightchat.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert (await client.get("/-/static/nope.js")).status_code == 404


# -- who may see a chat ---------------------------------------------------------------------


async def test_other_browsers_get_the_same_404_as_a_missing_chat(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        owner = site.browser()
        url = await site.new_chat(owner)
        session = site.session(owner, url)
        await site.idle(session)
        missing = "/chat/" + "0" * 32

        other = site.browser()
        await site.new_chat(other)  # a valid cookie of another browser
        anonymous = site.browser()
        forged = site.browser()
        forged.cookies.set(COOKIE, owner.cookies[COOKIE] + "x")

        async def answers(client: httpx.AsyncClient, chat: str) -> list[tuple[int, str]]:
            return [
                (r.status_code, TOKEN_IN_PAGE.sub("", r.text))  # each browser has its own
                for r in [
                    await client.get(chat),
                    await client.get(f"{chat}/events"),
                    await client.post(f"{chat}/messages", data={"content": "hi"}),
                    await client.post(f"{chat}/messages", data={"content": "hi"}, headers=HTMX),
                    await client.post(f"{chat}/stop"),
                ]
            ]

        reference = await answers(owner, missing)
        assert [status for status, _ in reference] == [404] * 5
        assert "does not exist" in reference[0][1]
        for client in (other, anonymous, forged):
            assert await answers(client, url) == reference
        # Nothing those browsers sent reached the chat.
        assert contents(await events_of(session), "user_message") == []
        assert (await owner.get(url)).status_code == 200


async def test_an_ended_chat_is_gone(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.session(client, url).close()
        assert (await client.get(url)).status_code == 404
        assert (await client.post(f"{url}/messages", data={"content": "x"})).status_code == 404


# -- posting messages ---------------------------------------------------------------------


async def test_plain_form_post_redirects_once_the_answer_is_complete(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(f"{url}/messages", data={"content": "hello <b>there</b>"})
        assert response.status_code == 303
        assert response.headers["location"] == url
        assert "HX-Request" in response.headers["vary"]
        # The answer was complete before the redirect: the page shows all of it.
        session = site.session(client, url)
        assert not session.transcript.running
        assert contents(await events_of(session))[-1] == "You said: hello <b>there</b> "
        page = (await client.get(url)).text
        assert "You said: hello &lt;b&gt;there&lt;/b&gt;" in page
        # The user's message is markdown (features.user_message_markdown), raw HTML escaped.
        assert "<p>hello &lt;b&gt;there&lt;/b&gt;</p>" in page
        assert "data-streaming" not in page
        assert 'http-equiv="refresh"' not in page


async def test_htmx_post_answers_204_at_once(serve: Serve) -> None:
    app = LightChat()
    gate = asyncio.Event()

    @app.on_message
    async def main(message: Message) -> None:
        await gate.wait()
        await Message(content=f"done: {message.content}").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(f"{url}/messages", data={"content": "hi"}, headers=HTMX)
        assert response.status_code == 204
        assert "HX-Request" in response.headers["vary"]
        session = site.session(client, url)
        assert contents(await events_of(session), "user_message") == ["hi"]
        assert session.transcript.running
        page = (await client.get(url)).text
        assert "lc-stop" in page  # the page rendered now offers "Stop"
        gate.set()
        events = await site.idle(session)
        assert contents(events) == ["done: hi"]


EMPTY_BODIES: list[dict[str, str]] = [{"content": ""}, {"content": "   \n\t"}, {"other": "x"}, {}]


async def test_an_empty_message_is_refused(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for body in EMPTY_BODIES:
            for htmx in (False, True):
                response = await client.post(
                    f"{url}/messages", data=body, headers=HTMX if htmx else {}
                )
                assert response.status_code == 400, (body, htmx)
                assert "HX-Request" in response.headers["vary"]
                assert "Type a message before sending." in response.text
                if htmx:
                    assert response.text.startswith('<hx-partial hx-target="#lc-notice"')
                    assert 'role="alert"' in response.text
                else:
                    assert response.text.startswith("<!doctype html>")
        session = site.session(client, url)
        assert contents(await events_of(session), "user_message") == []


async def test_a_message_over_the_limit_is_refused_with_413(serve: Serve) -> None:
    async with serve(echo_app(Settings(max_message_chars=20))) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(f"{url}/messages", data={"content": "x" * 21}, headers=HTMX)
        assert response.status_code == 413
        assert "HX-Request" in response.headers["vary"]
        assert "21 characters long; the limit is 20" in response.text
        ok = await client.post(f"{url}/messages", data={"content": "y" * 20}, headers=HTMX)
        assert ok.status_code == 204
        session = site.session(client, url)
        assert contents(await events_of(session), "user_message") == ["y" * 20]


async def test_an_oversized_body_is_refused_with_413(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        big = {"content": "x" * (1024 * 1024 + 1)}
        response = await client.post(f"{url}/messages", data=big)
        assert response.status_code == 413
        assert "larger than 1 MB" in response.text
        session = site.session(client, url)
        assert contents(await events_of(session), "user_message") == []


async def test_an_oversized_body_without_a_length_is_refused_with_413(serve: Serve) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"content="
        for _ in range(40):
            yield b"x" * 32768

    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(
            f"{url}/messages",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert "larger than 1 MB" in response.text


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (b"9" * 5000, 413),  # more digits than int() converts: more than any limit
        (b"1" * 19, 413),
        (b"\xb2", 204),  # "²" in latin-1: a digit to str.isdigit(), not to int()
        (b"\xd9\xa3", 204),  # an Arabic-Indic digit, in UTF-8
    ],
    ids=["5000 digits", "19 digits", "superscript two", "Arabic-Indic three"],
)
async def test_a_content_length_that_is_no_number_is_no_server_error(
    length: bytes, status: int, serve: Serve
) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        # The body itself decides: the app reads what comes, whatever the header said.
        form = {b"HX-Request": b"true", b"Content-Type": b"application/x-www-form-urlencoded"}
        headers = {**form, b"Content-Length": length}  # as the bytes were sent
        request = client.build_request(
            "POST", f"{url}/messages", content=b"content=hi", headers=headers
        )
        response = await client.send(request)
        assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b"--xyz\r\ngarbage without end"),
        ("multipart/form-data", b"no boundary at all"),
        (
            "multipart/form-data; boundary=xyz",
            b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--\r\n",
        ),
    ],
    ids=["truncated", "no-boundary", "no-name"],
)
async def test_a_malformed_multipart_body_is_refused_with_400(
    content_type: str, body: bytes, serve: Serve
) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(
            f"{url}/messages", content=body, headers={"content-type": content_type, **HTMX}
        )
        assert response.status_code == 400
        assert "could not be read" in response.text
        assert 'role="alert"' in response.text


async def test_a_multipart_message_is_accepted(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(
            f"{url}/messages", data={"content": "multi"}, files={"f": ("a.txt", b"x")}
        )
        assert response.status_code == 303
        session = site.session(client, url)
        assert contents(await events_of(session), "user_message") == ["multi"]


async def test_hostile_text_is_inert_in_the_page(serve: Serve) -> None:
    app = LightChat(settings=Settings(edit=False))  # the edit form: test_rich_http.py

    @app.on_message
    async def main(message: Message) -> None:
        text = message.content
        async with Step(name=text, type="tool") as step:
            step.input = {"query": text}
            step.output = text
        await Message(content=text, author=text).send()
        raise ValueError(text)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for payload in PAYLOADS[:20]:
            response = await client.post(f"{url}/messages", data={"content": payload})
            assert response.status_code == 303
        page = (await client.get(url)).text
        log = page.split('<div id="lc-log"', 1)[1].split("</main>", 1)[0]
        assert log.count('class="lc-msg lc-error"') == 20
        assert_inert('<div id="lc-log"' + log)


# -- stop -----------------------------------------------------------------------------------


async def test_stop_endpoint(serve: Serve) -> None:
    app = LightChat()
    reached = asyncio.Event()
    stopped: list[str] = []

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        await reply.stream_token("partial ")
        await reply.stream_token("answer")
        reached.set()
        await asyncio.Event().wait()

    @app.on_stop
    async def on_stop() -> None:
        stopped.append(context.session.id)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        assert (
            await client.post(f"{url}/messages", data={"content": "go"}, headers=HTMX)
        ).status_code == 204
        await reached.wait()
        response = await client.post(f"{url}/stop", headers=HTMX)
        assert response.status_code == 204
        assert "HX-Request" in response.headers["vary"]
        assert stopped == [session.id]
        events = await site.idle(session)
        reply = [i for i in session.transcript.items.values() if isinstance(i, MessageData)][-1]
        assert (reply.content, reply.streaming) == ("partial answer", False)
        assert isinstance(events[-1], RunEvent)

        # Without JavaScript, "Stop" is a form button: it redirects back to the chat.
        plain = await client.post(f"{url}/stop")
        assert plain.status_code == 303
        assert plain.headers["location"] == url
        assert stopped == [session.id]  # nothing was running the second time


# -- cross-site requests and headers -------------------------------------------------------


CROSS_SITE: list[dict[str, str]] = [
    {"Origin": "http://evil.example"},
    {"Origin": "https://testserver.evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
]
SAME_ORIGIN: list[dict[str, str]] = [
    {},
    {"Origin": "http://testserver"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    {"Sec-Fetch-Site": "none"},
]


async def test_cross_site_posts_are_refused(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        for headers in CROSS_SITE:
            for path in ("messages", "stop"):
                response = await client.post(
                    f"{url}/{path}", data={"content": "hi"}, headers=headers
                )
                assert response.status_code == 403, headers
                assert "another site" in response.text
            # Reading is not a write: a cross-site GET is answered (the cookie is SameSite=Lax).
            assert (await client.get(url, headers=headers)).status_code == 200
        assert contents(await events_of(session), "user_message") == []


async def test_same_origin_posts_are_accepted(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for headers in SAME_ORIGIN:
            response = await client.post(
                f"{url}/messages", data={"content": "hi"}, headers={**headers, **HTMX}
            )
            assert response.status_code == 204, headers
        session = site.session(client, url)
        assert len(contents(await events_of(session), "user_message")) == len(SAME_ORIGIN)


async def test_security_headers_on_every_response(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        responses = [
            await client.get("/"),
            await client.get(url),
            await client.get("/chat/" + "0" * 32),
            await client.get("/-/static/lightchat.css"),
            await client.post(f"{url}/messages", data={"content": ""}),
            await client.post(f"{url}/messages", headers={"Origin": "http://evil.example"}),
        ]
        for response in responses:
            csp = response.headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
            assert directives["default-src"] == "'self'"
            assert directives["script-src"] == "'self'"
            assert directives["object-src"] == "'none'"
            assert "frame-ancestors" in directives
            assert "unsafe-inline" not in csp
            assert "unsafe-eval" not in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"


# -- events: what can be tested without an endless stream ----------------------------------


BAD_RESUME_POINTS: list[tuple[dict[str, str] | dict[bytes, bytes], str]] = [
    ({"Last-Event-ID": "abc"}, ""),
    ({"Last-Event-ID": "-1"}, ""),
    ({"Last-Event-ID": "1.5"}, ""),
    ({}, "?after=x"),
    ({}, "?after=%20"),
    # Digits to str.isdigit() that int() refuses, and more digits than int() converts.
    ({}, "?after=%C2%B2"),  # "²"
    ({}, "?after=%D9%A3"),  # "٣", an Arabic-Indic three
    ({}, "?after=" + "9" * 5000),
    ({b"Last-Event-ID": b"\xb2"}, ""),  # "²" as a latin-1 header byte
    ({"Last-Event-ID": "9" * 5000}, ""),
    ({"Last-Event-ID": "1" * 19}, ""),  # past the 64-bit ids of a Redis stream
]


async def test_a_bad_resume_point_is_a_400(serve: Serve) -> None:
    async with serve(echo_app()) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for headers, query in BAD_RESUME_POINTS:
            response = await client.get(f"{url}/events{query}", headers=headers)
            assert response.status_code == 400, (headers, query)
            assert "whole number" in response.text


async def test_the_page_does_not_wait_for_a_history_still_opening(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(echo_app()) as site:
        # A store that has not opened yet (as in the first second after start).
        site.services.history = History("", str(tmp_path))
        client = site.browser()
        page = await client.get(await site.new_chat(client))
        assert page.status_code == 200
        nav = page.text.split('aria-label="Chat history"', 1)[1].split("</nav>", 1)[0]
        assert "Loading your chats" in nav
        assert 'hx-trigger="load"' in nav
        assert 'hx-get="/history?chat=' in nav
