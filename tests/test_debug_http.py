"""Debug mode over HTTP (``Settings.debug``): a step's timing, a failed callback's
traceback, the "Run details" panel and page, the log as JSON Lines and its replay; nothing
of it with debug mode off, and with sign-in only for admins.

The apps run in-process (httpx's ASGI transport); chats are made with plain form posts,
which return once the answer is complete. The chat's stream, endless, is read from a real
server in a thread (``LiveServer``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

import lightchat.http.endpoints.debug
from lightchat import Action, LightChat, Message, Settings, Step, User
from lightchat.domain.events import RunEvent
from lightchat.http.endpoints.debug import ADMINS_ONLY, DEBUG_OFF, NO_REPLAY_POINT
from lightchat.ui.run_log import EVENTS_LIST
from tests.helpers import (
    HTMX,
    LiveServer,
    Serve,
    Site,
    log_of,
    start_chat,
    tag_structure,
    wait_for_log,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = "debug-secret-" + "x" * 40
HOSTILE = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
TRACEBACK_START = "Traceback (most recent call last)"
TIMING = re.compile(
    r'<span class="lc-step-timing" data-started="[0-9T:.+-]+">'
    r"Started \d\d:\d\d:\d\d\.\d{3}, took [0-9.]+ (?:ms|s)</span>"
)
DEBUG_BITS = ("lc-step-timing", "lc-traceback", TRACEBACK_START, "Run details", "/debug")


def failing_app(tmp_path: Path, *, error: str = "the tool broke", **settings: Any) -> LightChat:
    """A tool step, an answer with an action, then an error out of the callback."""
    # Each token its own event (no batching): they fold into one row of "Run details".
    settings = {"token_batch_ms": 0, **settings}
    app = LightChat(settings=Settings(app_dir=str(tmp_path), history=False, **settings))

    @app.on_message
    async def main(message: Message) -> None:
        async with Step(name="lookup", type="tool") as step:
            step.output = "found it"
        answer = Message(content="", actions=[Action(name="again", payload={}, label="Again")])
        for token in ("Partial ", "ans", "wer"):
            await answer.stream_token(token)
        await answer.send()
        explode(error)

    @app.action_callback("again")
    async def again(action: Action) -> None:
        await Message(content="again").send()

    return app


def explode(error: str) -> None:
    """Where the app fails: its name shows in the traceback."""
    raise ValueError(error)


def signed_in_app(tmp_path: Path, **settings: Any) -> LightChat:
    """``failing_app`` with sign-in by header: ``x-user: root`` is an admin, anyone else
    is not."""
    app = failing_app(tmp_path, auth_secret=SECRET, **settings)

    @app.header_auth_callback
    async def from_proxy(headers: Any) -> User | None:
        name = headers.get("x-user")
        if not name:
            return None
        role = "admin" if name == "root" else "member"
        return User(identifier=name, metadata={"role": role})

    return app


async def failed_chat(site: Site, client: httpx.AsyncClient) -> str:
    """A chat whose first answer failed; its URL."""
    return await site.chat(client, "hi")


def traceback_of(page: str) -> str:
    """The traceback disclosure of the page's error message."""
    start = page.index('<details class="lc-traceback">')
    return page[start : page.index("</details>", start) + len("</details>")]


# -- debug mode off ------------------------------------------------------------------------


async def test_with_debug_mode_off_nothing_of_it_shows(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        page = (await client.get(url)).text
        assert "ValueError: the tool broke" in log_of(page)  # the short error, as always
        for bit in DEBUG_BITS:
            assert bit not in page, bit
        session = site.session(client, url)
        assert session.event_times == {}  # nothing is noted for it either
        errors = [m for m in site.answers(client, url) if m.traceback]
        assert errors == []
        for path in ("/debug", "/debug/log.jsonl", "/debug/replay"):
            response = await client.get(url + path)
            assert response.status_code == 404, path
            assert escape(DEBUG_OFF) in response.text


# -- debug mode on, no sign-in -------------------------------------------------------------


async def test_a_step_shows_when_it_started_and_how_long_it_took(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(failing_app(tmp_path, debug=True)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        page = (await client.get(url)).text
        start = page.index('data-step-type="tool"')
        step = page[start : page.index("</summary>", start)]
        assert TIMING.search(step), step


async def test_a_failed_callback_shows_its_traceback_escaped(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path, debug=True, error=HOSTILE)) as site:
        client = site.browser()
        page = (await client.get(await failed_chat(site, client))).text
        shown = traceback_of(page)
        assert TRACEBACK_START in shown
        assert "in explode" in shown
        assert "raise ValueError(error)" in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img" in shown
        assert "<script>" not in page.replace('<script src="', "")
    async with serve(failing_app(tmp_path, debug=True, error="plain words")) as site:
        client = site.browser()
        plain = traceback_of((await client.get(await failed_chat(site, client))).text)
    # The hostile text stayed text: the markup is the same as with plain words.
    assert tag_structure(shown) == tag_structure(plain)


async def test_run_details_list_the_chats_events(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path, debug=True)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        page = (await client.get(url)).text
        panel = page[page.index('<section id="lc-run-details"') :]
        panel = panel[: panel.index("</section>")]
        assert 'role="region" aria-label="Run details"' in panel
        assert f'href="{url}/debug/replay"' in panel
        assert f'href="{url}/debug/log.jsonl" download' in panel
        assert f'href="{url}/debug"' in panel
        kinds = re.findall(r'data-kind="(\w+)"', panel)
        session = site.session(client, url)
        entries = await session.bus.read(session.id)
        assert len(kinds) < len(entries)  # the streamed tokens fold into one row
        assert kinds[:4] == ["message", "run", "step", "step"]
        assert "tokens" in kinds
        assert kinds[-1] == "run"
        assert kinds.count("message") == 4  # the user's, the answer twice, the error
        assert "type=tool status=done name=&#34;lookup&#34;" in panel
        times = re.findall(r'<time class="lc-run-time" datetime="[^"]+">([^<]+)</time>', panel)
        assert len(times) == len(kinds)
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", t) for t in times)
        # The same rows on a page of their own, which needs no JavaScript.
        own = await client.get(f"{url}/debug")
        assert own.status_code == 200
        assert 'role="region" aria-labelledby="lc-run-title"' in own.text
        assert re.findall(r'data-kind="(\w+)"', own.text) == kinds
        assert f'<a href="{url}">Back to the chat</a>' in own.text


async def test_a_long_chats_panel_starts_with_its_last_rows(
    tmp_path: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lightchat.http.endpoints.debug, "PANEL_ROWS", 3)
    async with serve(failing_app(tmp_path, debug=True)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        every = re.findall(r'data-seq="(\d+)"', (await client.get(f"{url}/debug")).text)
        page = (await client.get(url)).text
        assert re.findall(r'data-seq="(\d+)"', page) == every[-3:]
        assert len(every) > 3


async def test_the_log_downloads_as_json_lines(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path, debug=True, error=HOSTILE)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        response = await client.get(f"{url}/debug/log.jsonl")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/jsonl")
        assert response.headers["content-disposition"].startswith("attachment;")
        assert '.jsonl"' in response.headers["content-disposition"]
        lines = [json.loads(line) for line in response.text.splitlines()]
        session = site.session(client, url)
        entries = await session.bus.read(session.id)
        assert [line["seq"] for line in lines] == [entry.seq for entry in entries]
        assert all(isinstance(line["at"], float) for line in lines)
        assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
        kinds = [line["event"]["kind"] for line in lines]
        assert {"MessageEvent", "StepEvent", "TokenEvent", "RunEvent"} <= set(kinds)
        error = next(
            line["event"]["message"]
            for line in lines
            if line["event"]["kind"] == "MessageEvent"
            and line["event"]["message"]["type"] == "error"
        )
        assert error["traceback"].startswith(TRACEBACK_START)
        assert HOSTILE in error["traceback"]  # JSON, not HTML: as it is


async def test_the_replay_steps_through_the_log(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path, debug=True)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        session = site.session(client, url)
        last = (await session.bus.read(session.id))[-1].seq
        replay = f"{url}/debug/replay"

        start = (await client.get(replay)).text
        assert "After event 0 of" in start
        assert "<article" not in log_of(start)
        assert f'<a href="{replay}?at=1">Next</a>' in start
        assert "<a >First</a>" in start
        assert "<a >Previous</a>" in start
        assert f'<a href="{replay}?at=1&amp;play=1">Play</a>' in start
        assert 'http-equiv="refresh"' not in start

        first = (await client.get(f"{replay}?at=1")).text
        log = log_of(first)
        assert 'data-type="user_message"' in log
        assert "lookup" not in log
        assert 'aria-current="step"' in first
        assert f'href="{replay}?at=2">Next' in first

        middle = (await client.get(f"{replay}?at=4")).text  # the step ended, no answer yet
        assert 'data-status="done"' in log_of(middle)
        assert "Partial" not in log_of(middle)
        assert TIMING.search(middle)  # debug details show in the replay

        end = (await client.get(f"{replay}?at={last + 50}")).text  # past the end: the end
        log = log_of(end)
        assert f"After event {last} of {last}" in end
        assert "Partial answer" in log
        assert "lc-traceback" in log
        assert "data-action-name" not in log
        assert "/actions/" not in log
        assert "<a >Next</a>" in end
        assert "<a >Last</a>" in end
        assert "<textarea" not in end  # no composer


async def test_playing_the_replay_goes_on_by_itself(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path, debug=True)) as site:
        client = site.browser()
        url = await failed_chat(site, client)
        session = site.session(client, url)
        last = (await session.bus.read(session.id))[-1].seq
        replay = f"{url}/debug/replay"
        playing = (await client.get(f"{replay}?at=1&play=1")).text
        assert f'<meta http-equiv="refresh" content="1;url={replay}?at=2&amp;play=1">' in playing
        assert f'<a href="{replay}?at=1">Pause</a>' in playing
        done = (await client.get(f"{replay}?at={last}&play=1")).text
        assert 'http-equiv="refresh"' not in done  # the end: it stops
        assert f'<a href="{replay}?at=0&amp;play=1">Play</a>' in done  # again from the start


@pytest.mark.parametrize("point", ["-1", "x", "1.5", "%C2%B2", "9" * 19])
async def test_a_bad_replay_point_is_a_400(tmp_path: Path, serve: Serve, point: str) -> None:
    async with serve(failing_app(tmp_path, debug=True)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        response = await client.get(f"{url}/debug/replay?at={point}")
        assert response.status_code == 400
        assert escape(NO_REPLAY_POINT) in response.text


async def test_another_browsers_chat_is_a_404(tmp_path: Path, serve: Serve) -> None:
    async with serve(failing_app(tmp_path, debug=True)) as site:
        owner, other = site.browser(), site.browser()
        url = await failed_chat(site, owner)
        for path in ("/debug", "/debug/log.jsonl", "/debug/replay"):
            assert (await other.get(url + path)).status_code == 404, path


# -- with sign-in: admins only ---------------------------------------------------------------


async def test_with_sign_in_an_admin_sees_the_debug_details(tmp_path: Path, serve: Serve) -> None:
    async with serve(signed_in_app(tmp_path, debug=True)) as site:
        admin = site.browser(headers={"x-user": "root"})
        url = await failed_chat(site, admin)
        page = (await admin.get(url)).text
        assert TIMING.search(page)
        assert TRACEBACK_START in traceback_of(page)
        assert 'aria-label="Run details"' in page
        for path in ("/debug", "/debug/log.jsonl", "/debug/replay"):
            assert (await admin.get(url + path)).status_code == 200, path
        # An admin's chats are theirs: another user's are a 404 to them as to anyone.
        member = site.browser(headers={"x-user": "bob"})
        theirs = await failed_chat(site, member)
        assert (await admin.get(f"{theirs}/debug")).status_code == 404


async def test_with_sign_in_anyone_else_sees_none_of_it(tmp_path: Path, serve: Serve) -> None:
    async with serve(signed_in_app(tmp_path, debug=True)) as site:
        member = site.browser(headers={"x-user": "bob"})
        url = await failed_chat(site, member)
        page = (await member.get(url)).text
        assert "ValueError: the tool broke" in log_of(page)
        for bit in DEBUG_BITS:
            assert bit not in page, bit
        for path in ("/debug", "/debug/log.jsonl", "/debug/replay"):
            response = await member.get(url + path)
            assert response.status_code == 403, path
            assert escape(ADMINS_ONLY) in response.text
            assert TRACEBACK_START not in response.text


# -- the stream -------------------------------------------------------------------------------


def read_stream_until(client: httpx.Client, url: str, *texts: str) -> str:
    """What the chat's stream sends from its start until it has sent all of ``texts``."""
    seen = ""
    with client.stream("GET", f"{url}/events?after=0") as stream:
        for chunk in stream.iter_text():
            seen += chunk
            if all(text in seen for text in texts):
                return seen
    raise AssertionError(f"the stream ended before sending {texts}:\n{seen}")


def test_the_stream_adds_rows_and_details_as_the_run_goes(tmp_path: Path) -> None:
    with LiveServer(failing_app(tmp_path, debug=True)) as live, live.browser() as client:
        url = start_chat(client)
        session = live.session(client, url)
        posted = client.post(f"{url}/messages", data={"content": "hi"}, headers=HTMX)
        assert posted.status_code == 204
        live.call(wait_for_log(session.bus, session.id, lambda ev: ev[-1] == RunEvent(False)))
        last = live.entries(session)[-1].seq
        sent = read_stream_until(client, url, f"id:{last}\n", "lc-traceback", EVENTS_LIST)
        assert f'hx-target="#{EVENTS_LIST}" hx-swap="beforeend"' in sent
        assert 'data-kind="tokens"' in sent
        assert 'data-kind="step"' in sent
        assert TRACEBACK_START in sent
        assert "lc-step-timing" in sent


def test_the_stream_of_someone_not_an_admin_has_none_of_it(tmp_path: Path) -> None:
    app = signed_in_app(tmp_path, debug=True)
    with LiveServer(app) as live, live.browser() as client:
        client.headers["x-user"] = "bob"
        url = start_chat(client)
        assert app.chats is not None
        session = app.chats.running(url.rsplit("/", 1)[1])
        assert session is not None
        response = client.post(f"{url}/messages", data={"content": "hi"}, headers=HTMX)
        assert response.status_code == 204
        live.call(wait_for_log(session.bus, session.id, lambda ev: ev[-1] == RunEvent(False)))
        sent, posted = "", False
        with client.stream("GET", f"{url}/events?after=0") as stream:
            for chunk in stream.iter_text():
                sent += chunk
                if "marker" in sent:
                    break
                if not posted and "ValueError: the tool broke" in sent:
                    posted = True
                    # A later run's events come in a later write: once they are here, all
                    # of the first run's (and anything sent with them) have come too.
                    client.post(f"{url}/messages", data={"content": "marker"}, headers=HTMX)
        assert "ValueError: the tool broke" in sent
        assert "marker" in sent
        for bit in ("lc-step-timing", "lc-traceback", TRACEBACK_START, EVENTS_LIST):
            assert bit not in sent, bit
