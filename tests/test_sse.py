"""Event streams against a real server: ids, replay, resume, live tokens, the end of a chat.

httpx's ASGI transport buffers a whole response, and a chat's stream never ends on its
own, so these tests run the app in uvicorn on a loopback port in a background thread and
read the stream with httpx, closing it once they have what they need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from lightchat import LightChat, Message, Settings
from lightchat.domain.events import Entry, MessageEvent, StepEvent
from lightchat.ui.sse import CLOSING, Encoder
from lightchat.ui.stream_view import Chunk
from tests.helpers import HTMX, LiveServer, page_seq, sse_field

pytestmark = pytest.mark.timeout(20)


def make_app() -> LightChat:
    app = LightChat(settings=Settings(token_batch_ms=10, render_interval_ms=20, history=False))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Welcome").send()

    @app.on_message
    async def main(message: Message) -> None:
        command, _, argument = message.content.partition(":")
        if command == "count":
            for i in range(int(argument)):
                await Message(content=f"number {i}").send()
        elif command == "stream":
            reply = Message(content="")
            for word in argument.split(" "):
                await reply.stream_token(word + " ")
                await asyncio.sleep(0.002)  # the pace of a model
            await reply.send()
        elif command == "wait":
            await Message(content="waiting").send()
            await asyncio.Event().wait()

    return app


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer(make_app()) as server:
        yield server


@pytest.fixture
def browser(live: LiveServer) -> Iterator[httpx.Client]:
    with live.browser() as client:
        yield client


@dataclass
class SSE:
    id: int | None
    event: str | None
    data: str


class Stream:
    """Reads server-sent events off an open streaming response."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines

    def until(self, stop: Callable[[SSE], bool]) -> list[SSE]:
        """Events up to the first that matches ``stop`` (the read times out otherwise)."""
        found: list[SSE] = []
        fields: dict[str, list[str]] = {}
        for line in self._lines:
            if line.startswith(":"):
                continue  # a ping
            if line == "":
                if fields:
                    ids = fields.get("id")
                    event = SSE(
                        int(ids[-1]) if ids else None,
                        fields.get("event", [None])[-1],
                        "\n".join(fields.get("data", [])),
                    )
                    found.append(event)
                    if stop(event):
                        return found
                fields = {}
                continue
            name, value = sse_field(line)
            fields.setdefault(name, []).append(value)
        raise AssertionError(f"the stream ended before the expected event; got {found}")

    def rest(self) -> list[str]:
        """What is left of the response (it must end)."""
        return list(self._lines)


@contextmanager
def stream(
    client: httpx.Client, url: str, headers: dict[str, str] | None = None
) -> Iterator[Stream]:
    with client.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200
        yield Stream(response.iter_lines())


def created(entries: list[Entry]) -> dict[str, int]:
    """Each message or step id, with the position of the event that first showed it."""
    first: dict[str, int] = {}
    for entry in entries:
        event = entry.event
        if isinstance(event, MessageEvent):
            first.setdefault(event.message.id, entry.seq)
        elif isinstance(event, StepEvent):
            first.setdefault(event.step.id, entry.seq)
    return first


def run_over(event: SSE) -> bool:
    """True for the event that shows the controls without "Stop" (a run has ended)."""
    if 'hx-target="#lc-controls"' not in event.data:
        return False
    return "lc-stop" not in event.data.rsplit('hx-target="#lc-controls"', 1)[1]


def ids_of(found: list[SSE]) -> list[int]:
    ids = [e.id for e in found]
    assert all(i is not None for i in ids), "every event carries an id"
    return [i for i in ids if i is not None]


# -- the tests ----------------------------------------------------------------------------


def test_encode_frames_chunks_as_server_sent_events() -> None:
    encoder = Encoder()
    body = encoder.encode(
        [
            Chunk("<p>a</p>\n <p>b</p>", None, 3),
            Chunk("msg-x-raw\nhi\r\nthere\r", "tok", 4, marked=False),
        ]
    )
    # No optional space after a colon, but a line's own first space is kept behind one.
    assert body.decode() == (
        "id:3\ndata:<p>a</p>\ndata:  <p>b</p>\n\n"
        "event:tok\ndata:msg-x-raw\ndata:hi\ndata:there\ndata:\n\n"
    )
    assert CLOSING == b"event: lc-closed\ndata: \n\n"
    # What a reader makes of it (the test's own, as the spec says).
    events = Stream(iter(body.decode().split("\n"))).until(lambda e: e.event == "tok")
    assert [(e.id, e.event, e.data) for e in events] == [
        (3, None, "<p>a</p>\n <p>b</p>"),
        (None, "tok", "msg-x-raw\nhi\nthere\n"),
    ]


def test_text_events_name_their_target_only_when_it_changes() -> None:
    encoder = Encoder()
    first = encoder.encode([Chunk("msg-x-raw\n one", "tok", 5)])
    again = encoder.encode([Chunk("msg-x-raw\ntwo", "tok", 6), Chunk("step-y-output\nz", "tok", 7)])
    assert first.decode() == "id:5\nevent:tok\ndata:msg-x-raw\ndata:  one\n\n"
    assert again.decode() == (
        "id:6\nevent:t\ndata:two\n\nid:7\nevent:tok\ndata:step-y-output\ndata:z\n\n"
    )
    # A new stream (a reconnect) names the target again.
    assert (
        Encoder()
        .encode([Chunk("msg-x-raw\nthree", "tok", 8)])
        .startswith(b"id:8\nevent:tok\ndata:msg-x-raw\n")
    )


def test_replay_from_the_start_and_resume_from_any_id(
    live: LiveServer, browser: httpx.Client
) -> None:
    url, session = live.new_chat(browser)
    # A plain form post answers once the run is over, so the log is complete here.
    assert browser.post(f"{url}/messages", data={"content": "count:5"}).status_code == 303
    entries = live.entries(session)
    last = entries[-1].seq
    assert page_seq(browser, url) == last
    shown_at = created(entries)
    assert len(shown_at) == 7  # the welcome, the question, five answers

    with browser.stream("GET", f"{url}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        replay = Stream(response.iter_lines()).until(lambda e: e.id == last)
    ids = ids_of(replay)
    assert ids == sorted(ids)
    everything = "".join(e.data for e in replay)
    for item_id in shown_at:
        assert everything.count(f'<article id="msg-{item_id}"') == 1

    for seen in range(last):
        by_header = resume(browser, url, last, headers={"Last-Event-ID": str(seen)})
        by_query = resume(browser, url, last, query=f"?after={seen}")
        assert by_header == by_query
        for item_id, seq in shown_at.items():
            assert (f'<article id="msg-{item_id}"' in by_header) == (seq > seen), (seen, seq)

    # On reconnect the browser sends Last-Event-ID while the page's ?after= is still in the
    # URL: the header is the newer of the two and wins.
    assert resume(browser, url, last, {"Last-Event-ID": "4"}, "?after=1") == resume(
        browser, url, last, {"Last-Event-ID": "4"}
    )


def resume(
    client: httpx.Client,
    url: str,
    last: int,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> str:
    with stream(client, f"{url}/events{query}", headers) as events:
        found = events.until(lambda e: e.id == last)
    assert all(i <= last for i in ids_of(found))
    return "".join(e.data for e in found)


def test_a_stream_follows_a_live_answer(live: LiveServer, browser: httpx.Client) -> None:
    url, session = live.new_chat(browser)
    start = page_seq(browser, url)
    words = " ".join(f"word{i}" for i in range(40))
    with stream(browser, f"{url}/events?after={start}") as events:
        post = browser.post(f"{url}/messages", data={"content": f"stream:{words}"}, headers=HTMX)
        assert post.status_code == 204
        received = events.until(run_over)
    entries = live.entries(session)
    # Every event but the reply's streamed text names its log position (a page that
    # reconnects after some of that text has the reply drawn again).
    text = [e for e in received if e.event in ("tok", "t")]
    ids = ids_of([e for e in received if e not in text])
    assert ids == sorted(ids)
    assert ids[0] > start
    assert ids[-1] == entries[-1].seq
    assert all(e.id is None for e in text)
    assert f"stream:{words}" in "".join(e.data for e in received)  # the user's message
    reply_id = [
        e.event.message.id
        for e in entries
        if isinstance(e.event, MessageEvent) and e.event.message.type == "assistant_message"
    ][-1]
    # Streamed text came as text events for the reply: the first names it, the next ones
    # ("t") go to the same place...
    assert len(text) > 1
    assert text[0].event == "tok"
    assert text[0].data.startswith(f"msg-{reply_id}-raw\n")
    assert [e.event for e in text[1:]] == ["t"] * (len(text) - 1)
    streamed = text[0].data.partition("\n")[2] + "".join(e.data for e in text[1:])
    assert len(streamed) > len(words) / 2
    assert streamed.strip() in words
    # ...and the last render of the reply holds all of it.
    final = [e.data for e in received if f'hx-target="#msg-{reply_id}"' in e.data][-1]
    assert f"<p>{words} </p>" in final or f"<p>{words}</p>" in final
    assert "data-streaming" not in final.split(f'hx-target="#msg-{reply_id}"', 1)[1]


def test_a_stream_resumed_at_the_end_sends_only_what_is_new(
    live: LiveServer, browser: httpx.Client
) -> None:
    url, _ = live.new_chat(browser)
    assert browser.post(f"{url}/messages", data={"content": "count:2"}).status_code == 303
    last = page_seq(browser, url)
    with stream(browser, f"{url}/events", {"Last-Event-ID": str(last)}) as events:
        browser.post(f"{url}/messages", data={"content": "count:1"}, headers=HTMX)
        received = events.until(run_over)
    assert all(i > last for i in ids_of(received))
    data = "".join(e.data for e in received)
    assert "count:1" in data
    assert "number 0" in data
    for old in ("count:2", "number 1", "Welcome"):
        assert old not in data


def test_a_second_tab_sees_the_same_events(live: LiveServer, browser: httpx.Client) -> None:
    url, _ = live.new_chat(browser)
    start = page_seq(browser, url)
    with (
        stream(browser, f"{url}/events?after={start}") as first,
        stream(browser, f"{url}/events?after={start}") as second,
    ):
        browser.post(f"{url}/messages", data={"content": "count:3"}, headers=HTMX)
        one = first.until(run_over)
        two = second.until(run_over)
    assert [e.data for e in one] == [e.data for e in two]
    for text in ("count:3", "number 0", "number 1", "number 2"):
        assert text in "".join(e.data for e in one)


def test_stop_over_a_live_stream(live: LiveServer, browser: httpx.Client) -> None:
    url, session = live.new_chat(browser)
    start = page_seq(browser, url)
    with stream(browser, f"{url}/events?after={start}") as events:
        browser.post(f"{url}/messages", data={"content": "wait:"}, headers=HTMX)
        shown = events.until(lambda e: "waiting" in e.data)
        assert "lc-stop" in "".join(e.data for e in shown)
        assert browser.post(f"{url}/stop", headers=HTMX).status_code == 204
        # The run is over: the controls lose "Stop" (without it the read would time out).
        events.until(run_over)
    assert not session.transcript.running


def test_a_stream_ends_when_its_chat_ends(live: LiveServer, browser: httpx.Client) -> None:
    url, session = live.new_chat(browser)
    start = page_seq(browser, url)
    with stream(browser, f"{url}/events?after={start}") as events:
        # A message proves the stream's generator is running before the chat ends.
        browser.post(f"{url}/messages", data={"content": "count:1"}, headers=HTMX)
        events.until(run_over)
        assert session.connections == 1
        live.call(session.close())
        closing = events.until(lambda e: e.event == "lc-closed")
        assert closing[-1].data == ""
        # ...and the response is over (else reading the rest would time out).
        assert all(line == "" or line.startswith(":") for line in events.rest())
    assert browser.get(url).status_code == 404
