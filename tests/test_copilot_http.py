"""HTTP: the copilot widget's script, framing rules, and window messages both ways.

The widget itself (a button, a panel, postMessage with a host page) runs in a browser:
tests/e2e/test_copilot.py. Here, through the real app over ASGI: what the server answers,
what it refuses, and what reaches ``@on_window_message`` and the chat's stream.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.auth.identity import COOKIE
from lightchat.cli import load_app
from lightchat.domain.events import (
    WINDOW_MESSAGE_MAX_BYTES,
    Entry,
    WindowEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer
from lightchat.ui.sse import Encoder
from lightchat.ui.stream_view import WINDOW_EVENT, StreamView
from tests.helpers import WAIT_S, Serve, contents, messages_in, new_session, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

HOST = "http://localhost:8001"


def window_app(tmp_path: Path, **overrides: Any) -> tuple[LightChat, list[Any]]:
    """An app that answers each window message with one of its own, and says which client
    its chats were opened in."""
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), **overrides))
    heard: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        await cl.Message(content=f"client: {cl.context.session.client_type}").send()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content=f"echo {message.content}").send()

    @app.on_window_message
    async def window_message(message: Any) -> None:
        heard.append(message)
        await cl.send_window_message({"heard": message})

    return app, heard


def windows(events: list[Any]) -> list[Any]:
    return [event.data for event in events if isinstance(event, WindowEvent)]


# -- the script --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/copilot/index.js", "/-/copilot.js"])
async def test_the_widget_script_is_javascript_cached_briefly_with_its_texts(
    tmp_path: Path, path: str, serve: Serve
) -> None:
    app, _ = window_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["cross-origin-resource-policy"] == "cross-origin"
        assert "Accept-Language" in response.headers["vary"]
        body = response.text
        assert "window.mountChainlitWidget = mount" in body
        assert "window.sendChainlitMessage" in body
        # The texts are filled in, in the visitor's language.
        assert '{"open": "Open chat", "close": "Close chat", "title": "Chat"}' in body
        assert "{} /* texts */" not in body
        german = await client.get(path, headers={"Accept-Language": "de"})
        assert '"open": "Chat \\u00f6ffnen"' in german.text
        assert german.headers["etag"] != response.headers["etag"]
        # Unchanged: a 304 without the body.
        again = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""


async def test_the_widget_script_loads_before_anyone_signs_in(tmp_path: Path, serve: Serve) -> None:
    app, _ = window_app(tmp_path, auth_secret="s" * 32)

    @app.password_auth_callback
    def auth(username: str, password: str) -> cl.User | None:
        return None

    async with serve(app) as site:
        client = site.browser()
        assert (await client.get("/copilot/index.js")).status_code == 200
        assert (await client.get("/")).status_code in (302, 303)  # the chat itself: sign in


# -- framing -----------------------------------------------------------------------------


async def test_who_may_frame_the_chat_comes_from_the_settings(tmp_path: Path, serve: Serve) -> None:
    app, _ = window_app(tmp_path, frame_ancestors=f"'self' {HOST}", history=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = await client.get(url)
        assert page.headers["content-security-policy"].endswith(f"frame-ancestors 'self' {HOST}")
        assert f'<meta name="lc-frame-ancestors" content="&#39;self&#39; {HOST}">' in page.text


async def test_by_default_only_the_app_frames_itself(tmp_path: Path, serve: Serve) -> None:
    app, _ = window_app(tmp_path, history=False)
    async with serve(app) as site:
        client = site.browser()
        page = await client.get(await site.new_chat(client))
        assert page.headers["content-security-policy"].endswith("frame-ancestors 'self'")
        assert '<meta name="lc-frame-ancestors" content="&#39;self&#39;">' in page.text


async def test_a_chat_opened_by_the_widget_is_a_compact_copilot_chat(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = window_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        response = await client.get("/?client=copilot")
        url = response.headers["location"]
        session = site.session(client, url)
        assert session.client_type == "copilot"
        page = (await client.get(url)).text
        assert 'class="lc-app lc-copilot"' in page
        assert 'aria-label="Chat history"' not in page  # no history sidebar in the panel
        assert 'href="/?client=copilot"><svg' in page  # the next chat stays compact
        events = await site.idle(session)
        assert "client: copilot" in [m.content for m in messages_in(events)]

        plain = await site.new_chat(client)
        assert site.session(client, plain).client_type == "webapp"
        assert "lc-copilot" not in (await client.get(plain)).text


# -- the widget's chat after its host page reloads ----------------------------------------


async def test_the_widget_goes_back_to_its_chat_or_to_a_new_one(
    tmp_path: Path, serve: Serve
) -> None:
    """``/chat/ID/copilot`` (the id from the host page's storage): the chat again for the
    browser that has it; a new copilot chat for an unknown id, someone else's, or one that
    ended without history."""
    app, _ = window_app(tmp_path, history=False)
    async with serve(app) as site:
        me, other = site.browser(), site.browser()
        url = (await me.get("/?client=copilot")).headers["location"]
        back = await me.get(f"{url}/copilot")
        assert (back.status_code, back.headers["location"]) == (303, url)
        assert "lc-copilot" in (await me.get(url)).text

        for client, chat in [(other, url), (me, "/chat/0123456789abcdef"), (me, "/chat/%3Cx%3E")]:
            fresh = await client.get(f"{chat}/copilot")
            assert (fresh.status_code, fresh.headers["location"]) == (303, "/?client=copilot")
        assert site.session(me, url).client_type == "copilot"  # untouched by the others

        await site.session(me, url).close()
        gone = await me.get(f"{url}/copilot")
        assert gone.headers["location"] == "/?client=copilot"


async def test_the_widget_reopens_its_ended_chat_from_history_in_the_panel(
    tmp_path: Path,
    serve: Serve,
) -> None:
    """With history, a chat that ended on the server reopens as on the app's page (here
    read-only: the app has no ``on_chat_resume``), still compact, in the panel."""
    app, _ = window_app(tmp_path)
    async with serve(app, lifespan=True) as site:
        me = site.browser()
        url = (await me.get("/?client=copilot")).headers["location"]
        assert (await me.post(f"{url}/messages", data={"content": "hi"})).status_code == 303
        await site.services.chats.end(url.rsplit("/", 1)[1], site.owner(me))

        back = await me.get(f"{url}/copilot")
        assert (back.status_code, back.headers["location"]) == (303, url)
        reopened = site.session(me, url)
        assert (reopened.client_type, reopened.read_only) == ("copilot", True)
        page = (await me.get(url)).text
        assert 'class="lc-app lc-copilot"' in page
        assert "echo hi" in page


@pytest.mark.parametrize(
    ("frame_ancestors", "scheme", "cookie"),
    [
        (f"'self' {HOST}", "https", "samesite=none; secure; partitioned"),
        (f"'self' {HOST}", "http", "samesite=lax"),
        ("'self'", "https", "samesite=lax; secure"),
    ],
)
async def test_the_browser_cookie_reaches_frames_on_other_sites_over_https(
    tmp_path: Path, frame_ancestors: str, scheme: str, cookie: str, serve: Serve
) -> None:
    app, _ = window_app(tmp_path, frame_ancestors=frame_ancestors, history=False)
    async with serve(app, base_url=f"{scheme}://testserver") as site:
        response = await site.browser().get("/")
        set_cookie = response.headers["set-cookie"].lower()
        assert set_cookie.startswith(f"{COOKIE}=")
        assert all(part in set_cookie for part in cookie.split("; "))
        if cookie == "samesite=lax":
            assert "secure" not in set_cookie
            assert "partitioned" not in set_cookie


# -- window messages from the host page --------------------------------------------------


async def test_a_window_message_runs_the_callback_whose_answer_goes_on_the_stream(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, heard = window_app(tmp_path, history=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        await site.idle(session)
        payload = {"page": "/pricing", "items": [1, 2]}
        response = await client.post(f"{url}/window-message", data={"data": json.dumps(payload)})
        assert response.status_code == 204
        events = await wait_for_log(session.bus, session.id, lambda e: bool(windows(e)))
        assert heard == [payload]
        assert windows(events) == [{"heard": payload}]

        # A string stays a string (Chainlit's callbacks take the message as it was posted).
        await client.post(f"{url}/window-message", data={"data": '"hello"'})
        events = await wait_for_log(session.bus, session.id, lambda e: len(windows(e)) == 2)
        assert heard[-1] == "hello"
        assert windows(events)[-1] == {"heard": "hello"}


async def test_a_window_message_needs_the_form_token_the_owner_and_the_same_origin(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, heard = window_app(tmp_path, history=False, frame_ancestors=f"'self' {HOST}")
    async with serve(app) as site:
        owner = site.browser()
        url = await site.new_chat(owner)
        body = {"data": '"hi"'}

        bare = site.browser(form_token=False)
        bare.cookies.set(COOKIE, owner.cookies[COOKIE])
        no_token = await bare.post(f"{url}/window-message", data=body)
        assert no_token.status_code == 403

        stranger = site.browser()
        await stranger.get("/")  # a browser of its own, with its own token
        assert (await stranger.post(f"{url}/window-message", data=body)).status_code == 404

        # The host page itself may not post: only the framed chat page (same origin) does.
        host = await owner.post(f"{url}/window-message", data=body, headers={"Origin": HOST})
        assert host.status_code == 403
        assert heard == []


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (None, 400),
        ("", 400),
        ("{not json", 400),
        ("[" * 30_000 + "]" * 30_000, 400),  # too deep for the parser
        (json.dumps("x" * WINDOW_MESSAGE_MAX_BYTES), 413),
    ],
)
async def test_a_bad_window_message_is_refused(
    tmp_path: Path, data: str | None, status: int, serve: Serve
) -> None:
    app, heard = window_app(tmp_path, history=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        form = {} if data is None else {"data": data}
        response = await client.post(f"{url}/window-message", data=form)
        assert response.status_code == status, response.text
        assert heard == []


async def test_an_app_without_the_callback_says_so(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), history=False))

    @app.on_message
    async def main(message: cl.Message) -> None:
        pass

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.post(f"{url}/window-message", data={"data": "1"})
        assert response.status_code == 409
        assert "on_window_message" in response.text


# -- send_window_message and the event ---------------------------------------------------


async def test_send_window_message_takes_json_values_within_the_limit() -> None:
    app = LightChat()
    session = new_session(app)
    refused: list[str] = []

    def nested(depth: int) -> list[Any]:
        value: list[Any] = []
        for _ in range(depth - 1):
            value = [value]
        return value

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.send_window_message(["ok", 1, {"a": None}])
        await cl.send_window_message(nested(64))  # as deep as the page takes
        for bad in (
            {1, 2},
            "x" * WINDOW_MESSAGE_MAX_BYTES,
            nested(65),
            nested(100_000),  # deeper than the encoder goes
            {"n": float("nan")},  # no JSON number: a page's JSON.parse refuses it
        ):
            try:
                await cl.send_window_message(bad)
            except ConfigError as exc:
                refused.append(str(exc))

    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("go")
    events = [entry.event for entry in await session.bus.read(session.id)]
    assert windows(events) == [["ok", 1, {"a": None}], nested(64)]
    assert len(refused) == 5, refused
    assert "JSON" in refused[0]
    assert "limit" in refused[1]
    assert "nested more than 64 deep" in refused[2]
    assert "JSON" in refused[3]
    assert "JSON" in refused[4]


def test_the_window_event_round_trips_and_streams_once_with_its_position() -> None:
    event = WindowEvent({"heard": "<b>hi</b>", "n": [1, 2]})
    assert event_from_json(event_to_json(event)) == event

    view = StreamView(
        Renderer(Settings(), "v"), Transcript(), base="", chat_url="/chat/c1", interval=0.1
    )
    chunks = view.feed([Entry(7, event)], now=0.0)
    assert len(chunks) == 1
    assert chunks[0].event == WINDOW_EVENT
    assert json.loads(chunks[0].data) == {"seq": 7, "data": {"heard": "<b>hi</b>", "n": [1, 2]}}
    wire = Encoder().encode(chunks).decode()
    assert wire.startswith("id:7\nevent:lc-window\ndata:{")
    assert wire.count("\ndata:") == 1  # one line of JSON, whatever the data holds

    # A page opened after it starts its stream past it: nothing to post again.
    later = StreamView(
        Renderer(Settings(), "v"),
        Transcript.from_entries([Entry(7, event)]),
        base="",
        chat_url="/chat/c1",
        interval=0.1,
    )
    assert later.feed([], now=0.0) == []


async def test_the_chat_page_streams_from_its_own_position(tmp_path: Path, serve: Serve) -> None:
    """A reload does not replay old window messages: the page's stream starts after them."""
    app, _ = window_app(tmp_path, history=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        await client.post(f"{url}/window-message", data={"data": "1"})
        await wait_for_log(session.bus, session.id, lambda e: bool(windows(e)))
        await site.idle(session)
        page = (await client.get(url)).text
        seq = session.transcript.seq
        assert f"/events?after={seq}" in page


# -- the example -------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "13_copilot" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_copilot_example_hears_the_host_page_and_answers_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LIGHTCHAT_FRAME_ANCESTORS", "LIGHTCHAT_APP_DIR"):
        monkeypatch.delenv(name, raising=False)
    app = load_app(str(EXAMPLE))
    # Its lightchat.toml lets the example's host page frame it.
    assert app.settings.frame_sources() == "'self' http://localhost:8001"
    session = new_session(app, replace(app.settings, history=False))
    session.client_type = "copilot"
    async with asyncio.timeout(WAIT_S):
        await session.start()
        await session.window_message({"title": "Acme pricing", "path": "/host.html"})
        await session.send_user_message("hi")
    events = [entry.event for entry in await session.bus.read(session.id)]
    assert windows(events) == [
        {"type": "ack", "received": {"title": "Acme pricing", "path": "/host.html"}},
        {"type": "said", "content": "hi"},
    ]
    assert contents(events) == [
        "Hi! I am the copilot of this page. Ask me about it.",
        "You said: hi (you are looking at Acme pricing)",
    ]
