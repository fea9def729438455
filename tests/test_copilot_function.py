"""HTTP: ``CopilotFunction``, a chat calling a function of the page that hosts the copilot.

The call goes out on the chat's stream (a ``FunctionCallEvent``); the page's answer comes
back as a post of the chat page under the call's id. The widget and the host page's
``chainlit-call-fn`` listener run in a browser: tests/e2e/test_copilot.py.
"""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.auth.identity import COOKIE
from lightchat.chat.session import CallClosedError
from lightchat.cli import load_app
from lightchat.domain.events import (
    WINDOW_MESSAGE_MAX_BYTES,
    Entry,
    Event,
    FunctionCallEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.http.endpoints.copilot import (
    CALL_CLOSED,
    RESULT_MISSING,
    RESULT_NOT_JSON,
    RESULT_TOO_LARGE,
)
from lightchat.ui.i18n import ACCEPT_LANGUAGE, Translations
from lightchat.ui.render import Renderer
from lightchat.ui.sse import Encoder
from lightchat.ui.stream_view import CALL_EVENT, StreamView
from tests.helpers import HTMX, WAIT_S, Serve, Site, contents, new_session, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

HOST = "http://localhost:8001"


def function_app(tmp_path: Path, timeout: float = WAIT_S) -> LightChat:
    """An app that asks the host page for a plan's price when told "price <plan>", and
    echoes anything else."""
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), history=False))

    @app.on_message
    async def main(message: cl.Message) -> None:
        words = message.content.split()
        if words[0] != "price":
            await cl.Message(content=f"echo {message.content}").send()
            return
        function = cl.CopilotFunction(name="get_price", args={"plan": words[1]})
        answer = await function.acall(timeout=timeout)
        await cl.Message(content=f"page said {json.dumps(answer)}").send()

    return app


def calls(events: list[Event]) -> list[FunctionCallEvent]:
    return [event for event in events if isinstance(event, FunctionCallEvent)]


async def copilot_chat(site: Site, client: httpx.AsyncClient) -> str:
    """A chat opened by the widget (client_type "copilot"); its URL."""
    response = await client.get("/?client=copilot")
    assert response.status_code == 303
    url: str = response.headers["location"]
    assert site.session(client, url).client_type == "copilot"
    return url


async def call_made(site: Site, client: httpx.AsyncClient, url: str, text: str) -> str:
    """Send ``text`` and wait for the function call it makes; the call's id."""
    session = site.session(client, url)
    before = len(calls([entry.event for entry in await session.bus.read(session.id)]))
    sent = await client.post(f"{url}/messages", data={"content": text}, headers=HTMX)
    assert sent.status_code < 400, sent.text
    events = await wait_for_log(session.bus, session.id, lambda e: len(calls(e)) > before)
    return calls(events)[-1].call_id


async def said(site: Site, client: httpx.AsyncClient, url: str, text: str) -> None:
    """Wait until the chat shows an assistant message ``text``."""
    session = site.session(client, url)
    await wait_for_log(session.bus, session.id, lambda e: text in contents(e))


# -- a call and its answer ----------------------------------------------------------------


async def test_acall_sends_the_call_and_returns_what_the_page_posted(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(function_app(tmp_path)) as site:
        client = site.browser()
        url = await copilot_chat(site, client)
        call_id = await call_made(site, client, url, "price pro")
        session = site.session(client, url)
        event = calls([entry.event for entry in await session.bus.read(session.id)])[-1]
        assert (event.name, event.args) == ("get_price", {"plan": "pro"})
        assert len(call_id) >= 32  # random, not a counter

        result = {"plan": "Pro", "price": 20, "features": ["a", None], "ok": True}
        answer = await client.post(
            f"{url}/functions/{call_id}", data={"result": json.dumps(result)}
        )
        assert answer.status_code == 204, answer.text
        await said(site, client, url, f"page said {json.dumps(result)}")

        # Only the first answer counts.
        again = await client.post(f"{url}/functions/{call_id}", data={"result": "1"})
        assert again.status_code == 404


async def test_a_result_is_data_parsed_from_json_whatever_it_holds(
    tmp_path: Path, serve: Serve
) -> None:
    """A string that looks like code stays a string: nothing is run or rendered from it."""
    async with serve(function_app(tmp_path)) as site:
        client = site.browser()
        url = await copilot_chat(site, client)
        call_id = await call_made(site, client, url, "price x")
        code = "__import__('os').system('true') <script>alert(1)</script>"
        await client.post(f"{url}/functions/{call_id}", data={"result": json.dumps(code)})
        await said(site, client, url, f"page said {json.dumps(code)}")


async def test_an_unknown_call_is_a_404(tmp_path: Path, serve: Serve) -> None:
    async with serve(function_app(tmp_path)) as site:
        client = site.browser()
        url = await copilot_chat(site, client)
        response = await client.post(f"{url}/functions/nosuchcall", data={"result": "1"})
        assert response.status_code == 404
        assert CALL_CLOSED in response.text


async def test_only_the_chats_owner_answers_from_the_chat_page(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(function_app(tmp_path)) as site:
        owner = site.browser()
        url = await copilot_chat(site, owner)
        call_id = await call_made(site, owner, url, "price pro")
        path = f"{url}/functions/{call_id}"
        body = {"result": '"stolen"'}

        stranger = site.browser()
        await stranger.get("/")  # a browser of its own, with its own token
        assert (await stranger.post(path, data=body)).status_code == 404

        bare = site.browser(form_token=False)
        bare.cookies.set(COOKIE, owner.cookies[COOKIE])
        assert (await bare.post(path, data=body)).status_code == 403  # no form token

        # The host page itself may not post: only the framed chat page (same origin) does.
        host = await owner.post(path, data=body, headers={"Origin": HOST})
        assert host.status_code == 403

        # None of them answered the call: the owner's chat page still can.
        assert (await owner.post(path, data={"result": '"mine"'})).status_code == 204
        await said(site, owner, url, 'page said "mine"')


@pytest.mark.parametrize(
    ("result", "status", "notice"),
    [
        (None, 400, RESULT_MISSING),
        ("", 400, RESULT_MISSING),
        ("{not json", 400, RESULT_NOT_JSON),
        ("[" * 100_000 + "]" * 100_000, 413, RESULT_TOO_LARGE),
        ("[" * 20_000 + "]" * 20_000, 400, RESULT_NOT_JSON),  # JSON, but too deep to parse
        (json.dumps("x" * WINDOW_MESSAGE_MAX_BYTES), 413, RESULT_TOO_LARGE),
    ],
)
async def test_a_bad_result_is_refused_and_the_call_still_waits(
    tmp_path: Path, result: str | None, status: int, notice: str, serve: Serve
) -> None:
    async with serve(function_app(tmp_path)) as site:
        client = site.browser()
        url = await copilot_chat(site, client)
        call_id = await call_made(site, client, url, "price pro")
        form = {} if result is None else {"result": result}
        response = await client.post(f"{url}/functions/{call_id}", data=form)
        assert response.status_code == status, response.text
        assert notice in html.unescape(response.text)
        assert (
            await client.post(f"{url}/functions/{call_id}", data={"result": "7"})
        ).status_code == 204
        await said(site, client, url, "page said 7")


def test_the_routes_notices_are_translated() -> None:
    translations = Translations()
    for text in (CALL_CLOSED, RESULT_MISSING, RESULT_NOT_JSON, RESULT_TOO_LARGE):
        assert text in translations.english.values(), text
    language = ACCEPT_LANGUAGE.set("fr")
    try:
        assert translations.notice(CALL_CLOSED).startswith("Cet appel de fonction")
    finally:
        ACCEPT_LANGUAGE.reset(language)


# -- when nobody answers, or nobody can ------------------------------------------------------


async def test_a_call_nobody_answers_times_out_and_the_chat_goes_on(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(function_app(tmp_path, timeout=0.2)) as site:
        client = site.browser()
        url = await copilot_chat(site, client)
        call_id = await call_made(site, client, url, "price pro")
        session = site.session(client, url)
        events = await wait_for_log(session.bus, session.id, lambda e: bool(contents(e, "error")))
        [error] = contents(events, "error")
        assert error.startswith("TimeoutError: The page hosting the copilot did not answer")
        assert "'get_price' within 0.2 s" in error
        assert "chainlit-call-fn" in error

        late = await client.post(f"{url}/functions/{call_id}", data={"result": "1"})
        assert late.status_code == 404
        await client.post(f"{url}/messages", data={"content": "still there?"}, headers=HTMX)
        await said(site, client, url, "echo still there?")


async def test_a_chat_that_is_not_a_copilots_gets_an_error_at_once(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(function_app(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)  # the app's own page: client_type "webapp"
        session = site.session(client, url)
        await client.post(f"{url}/messages", data={"content": "price pro"}, headers=HTMX)
        async with asyncio.timeout(1):  # no wait for a page: the error comes at once
            events = await wait_for_log(
                session.bus, session.id, lambda e: bool(contents(e, "error"))
            )
        [error] = contents(events, "error")
        assert error.startswith("ConfigError: CopilotFunction 'get_price' needs a chat opened")
        assert "client_type is 'webapp'" in error
        assert calls(events) == []


async def test_arguments_must_be_json_within_the_limit() -> None:
    app = LightChat()
    session = new_session(app)
    session.client_type = "copilot"
    refused: list[str] = []

    @app.on_message
    async def main(message: cl.Message) -> None:
        for function in (
            cl.CopilotFunction(name="f", args={"when": {1, 2}}),
            cl.CopilotFunction(name="f", args={"big": "x" * WINDOW_MESSAGE_MAX_BYTES}),
            cl.CopilotFunction(name="", args={}),
            cl.CopilotFunction(name="f", args=["not", "a", "dict"]),  # type: ignore[arg-type]
        ):
            try:
                await function.acall(timeout=0.1)
            except ConfigError as exc:
                refused.append(str(exc))

    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("go")
    assert calls([entry.event for entry in await session.bus.read(session.id)]) == []
    assert len(refused) == 4
    assert "JSON" in refused[0]
    assert "limit" in refused[1]
    assert "name" in refused[2]
    assert "dict" in refused[3]


async def test_the_call_waits_in_the_session_which_takes_one_answer() -> None:
    """The waiting call lives in the chat's session, the one object a forwarded post for
    the chat reaches on the worker that owns it."""
    session = new_session(LightChat())
    waiting = asyncio.ensure_future(session.call_page("f", {"a": [1]}, timeout=WAIT_S))
    events = await wait_for_log(session.bus, session.id, lambda e: bool(calls(e)))
    call_id = calls(events)[0].call_id
    with pytest.raises(CallClosedError):
        session.answer_call("other", 1)
    session.answer_call(call_id, {"b": 2})
    assert await waiting == {"b": 2}
    with pytest.raises(CallClosedError):
        session.answer_call(call_id, 3)


# -- the event -------------------------------------------------------------------------------


def test_the_call_event_round_trips_and_streams_once_with_its_position() -> None:
    event = FunctionCallEvent("c4ll", "get_price", {"plan": "<b>pro</b>", "n": [1, None]})
    assert event_from_json(event_to_json(event)) == event

    view = StreamView(
        Renderer(Settings(), "v"), Transcript(), base="", chat_url="/chat/c1", interval=0.1
    )
    chunks = view.feed([Entry(9, event)], now=0.0)
    assert len(chunks) == 1
    assert chunks[0].event == CALL_EVENT
    assert json.loads(chunks[0].data) == {
        "seq": 9,
        "id": "c4ll",
        "name": "get_price",
        "args": {"plan": "<b>pro</b>", "n": [1, None]},
    }
    wire = Encoder().encode(chunks).decode()
    assert wire.startswith("id:9\nevent:lc-call-fn\ndata:{")
    assert wire.count("\ndata:") == 1

    # Never replayed: a page opened later, or a compacted log, has no call in it.
    transcript = Transcript.from_entries([Entry(9, event)])
    later = StreamView(
        Renderer(Settings(), "v"), transcript, base="", chat_url="/chat/c1", interval=0.1
    )
    assert later.feed([], now=0.0) == []
    assert calls(transcript.snapshot_events()) == []


# -- the example -----------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "13_copilot" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_copilot_example_asks_its_page_for_a_price(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LIGHTCHAT_FRAME_ANCESTORS", "LIGHTCHAT_APP_DIR"):
        monkeypatch.delenv(name, raising=False)
    app = load_app(str(EXAMPLE))
    session = new_session(app, replace(app.settings, history=False))
    session.client_type = "copilot"
    async with asyncio.timeout(WAIT_S):
        run = session.send_user_message("price pro")
        events = await wait_for_log(session.bus, session.id, lambda e: bool(calls(e)))
        [call] = calls(events)
        assert (call.name, call.args) == ("get_price", {"plan": "pro"})
        session.answer_call(call.call_id, {"plan": "Pro", "price": "$20 a month"})
        await run
        run = session.send_user_message("price gold")
        events = await wait_for_log(session.bus, session.id, lambda e: len(calls(e)) == 2)
        session.answer_call(calls(events)[1].call_id, None)
        await run
    events = [entry.event for entry in await session.bus.read(session.id)]
    assert contents(events) == [
        "The page says Pro costs $20 a month.",
        "The page has no plan called gold.",
    ]
