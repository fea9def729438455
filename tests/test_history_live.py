"""The history sidebar kept live: a chat page's own event stream sends the list of chats
again when it changes (a chat's first message, a name the app gives, a rename, a delete),
only to the streams of the chats' owner, and never per token.

The bus's part (who hears an announcement) is tested on its own; the rest against a real
server (uvicorn in a thread, history on SQLite in a temp folder), whose streams are read
with httpx as the page's script reads them. Two workers with Redis: tests/test_scale.py.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.bus import MemoryBus
from lightchat.bus.redis_bus import RedisBus
from lightchat.domain.events import RunEvent
from tests.helpers import REDIS_URL, LiveServer, until, with_form_token
from tests.test_chainlit_data_layer import DictLayer, chainlit_app
from tests.test_scale import Event, Stream, streaming

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

WAIT_S = 10.0
THREADS = 'hx-target="#lc-threads"'


# -- the bus: who hears that a list changed -------------------------------------------------


async def test_an_announcement_wakes_only_the_owners_streams() -> None:
    bus = MemoryBus()
    mine = bus.watch_lists("alice", "chat-a")
    theirs = bus.watch_lists("bob", "chat-b")
    waiting = asyncio.create_task(bus.wait("chat-a", 0, 30))
    other = asyncio.create_task(bus.wait("chat-b", 0, 30))
    await asyncio.sleep(0)
    bus.announce("alice")
    async with asyncio.timeout(WAIT_S):
        assert await waiting == []  # woken, with nothing new in the log
    assert mine.changed
    assert not theirs.changed
    assert not other.done()
    other.cancel()
    bus.unwatch_lists(mine)
    mine.changed = False
    bus.announce("alice")
    assert not mine.changed  # no longer listening


async def test_a_page_made_before_the_last_change_is_sent_the_list_at_once() -> None:
    bus = MemoryBus()
    bus.announce("alice")
    now = time.time()
    assert bus.watch_lists("alice", "c", since=now - 5).changed  # made before the change
    assert not bus.watch_lists("alice", "c", since=now + 60).changed  # made after it
    assert not bus.watch_lists("bob", "c", since=now - 5).changed  # another owner's
    assert not bus.watch_lists("alice", "c").changed  # no time given: nothing to compare


@pytest.mark.services
async def test_with_redis_an_announcement_reaches_the_other_workers_streams(prefix: str) -> None:
    one, two = (RedisBus(REDIS_URL, prefix=prefix) for _ in range(2))
    await one.start()
    await two.start()
    try:
        # A chat of the second worker's own, whose stream waits on it; and one it only
        # follows from Redis (the first worker writes it).
        two.publish("mine", RunEvent(running=False))
        one.publish("followed", RunEvent(running=False))
        await one.flush()
        own = two.watch_lists("alice", "mine")
        followed = two.watch_lists("alice", "followed")
        theirs = two.watch_lists("bob", "other")
        assert await two.wait("followed", 0, WAIT_S)  # following it now
        waiting = [
            asyncio.create_task(two.wait("mine", 1, 30)),
            asyncio.create_task(two.wait("followed", 1, 30)),
        ]
        await until(
            lambda: bool(two._mirror._logs["mine"].waiters and two._tails["followed"].waiters),
            "both streams to wait",
        )
        one.announce("alice")
        async with asyncio.timeout(WAIT_S):
            assert await asyncio.gather(*waiting) == [[], []]  # woken, nothing new
        assert own.changed
        assert followed.changed
        assert not theirs.changed
        # A worker's own streams hear its announcements at once, before Redis carries them.
        mine = one.watch_lists("carol", "x")
        one.announce("carol")
        assert mine.changed
    finally:
        await one.aclose()
        await two.aclose()


# -- over HTTP ------------------------------------------------------------------------------


def live_app(tmp_path: Path) -> LightChat:
    """Streams its answers word by word; "name:<text>" has the app name the chat."""
    app = LightChat(
        settings=Settings(
            name="Bot", app_dir=str(tmp_path), token_batch_ms=5, render_interval_ms=20
        )
    )

    @app.on_message
    async def main(message: Message) -> None:
        if message.content.startswith("name:"):
            await cl.context.emitter.init_thread(message.content[5:])
        reply = Message(content="")
        for word in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta"):
            await reply.stream_token(word + " ")
            await asyncio.sleep(0.01)
        await reply.send()

    return app


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(live_app(tmp_path)) as server:
        yield server


@asynccontextmanager
async def browser(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    client = httpx.AsyncClient(base_url=live.url, timeout=WAIT_S)
    async with with_form_token(client, live.app) as client:
        yield client


async def open_page(client: httpx.AsyncClient) -> tuple[str, str]:
    """A new chat's page: the chat's URL and its stream's URL, as the page names it."""
    made = await client.get("/")
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    page = await client.get(url)
    found = re.search(r'hx-sse:connect="([^"]+)"', page.text)
    assert found is not None
    stream_url = html.unescape(found.group(1))
    assert "&threads=" in stream_url  # the page shows the sidebar: it asks for it live
    return url, stream_url


def lists(stream: Stream) -> list[str]:
    """The lists of chats the stream sent, as HTML."""
    return [event.data for event in stream.events if THREADS in event.data]


def names(sent: str) -> list[str]:
    """The chats' names in a list the stream sent."""
    return re.findall(
        r'class="lc-thread-link" href="[^"]+"(?: aria-current="page")?>([^<]*)<', sent
    )


def runs_over(events: list[Event]) -> int:
    """How many runs ended (the controls sent again without "Stop")."""
    return sum(
        'hx-target="#lc-controls"' in e.data
        and "lc-stop" not in e.data.rsplit('hx-target="#lc-controls"', 1)[1]
        for e in events
    )


def run_over(events: list[Event]) -> bool:
    return runs_over(events) >= 1


async def ask(client: httpx.AsyncClient, url: str, content: str) -> None:
    response = await client.post(
        f"{url}/messages", data={"content": content}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204, response.text


async def test_the_stream_sends_the_list_on_first_message_rename_and_delete(
    live: LiveServer,
) -> None:
    async with browser(live) as me, browser(live) as someone:
        first, first_stream = await open_page(me)
        second, second_stream = await open_page(me)
        theirs, their_stream = await open_page(someone)
        async with (
            streaming(me, first_stream) as one,
            streaming(me, second_stream) as two,
            streaming(someone, their_stream) as other,
        ):
            # The first message: both of my pages list the chat, the chat's own page marks
            # it as the current one; once, however many tokens the answer streamed.
            await ask(me, first, "Trip to Lisbon")
            for stream in (one, two):
                await stream.until(lambda events: any(THREADS in e.data for e in events))
            await one.until(run_over)
            assert [names(sent) for sent in lists(one)] == [["Trip to Lisbon"]]
            assert 'aria-current="page">Trip to Lisbon<' in lists(one)[0]
            assert [names(sent) for sent in lists(two)] == [["Trip to Lisbon"]]
            assert "aria-current" not in lists(two)[0]
            assert len([e for e in one.events if e.name in ("tok", "t")]) >= 3  # it did stream
            # A second message in the same chat changes nothing in the list.
            await ask(me, first, "And Porto?")
            await one.until(lambda events: runs_over(events) >= 2)
            assert len(lists(one)) == 1
            # The other chat's first message, with a name the app gives it.
            await ask(me, second, "name:Work notes")
            await two.until(lambda events: len(lists(Stream(events))) >= 2)
            await one.until(lambda events: len(lists(Stream(events))) >= 2)
            await two.until(
                lambda events: ["Work notes", "Trip to Lisbon"] in map(names, lists(Stream(events)))
            )
            await one.until(
                lambda events: ["Work notes", "Trip to Lisbon"] in map(names, lists(Stream(events)))
            )
            assert 'aria-current="page">Work notes<' in lists(two)[-1]

            # A rename (from either page) shows in both.
            renamed = await me.post(
                f"{first}/rename", data={"name": "Lisbon & Porto"}, headers={"HX-Request": "true"}
            )
            assert renamed.status_code == 200
            for stream in (one, two):
                await stream.until(
                    lambda events: any(
                        "Lisbon &amp; Porto" in sent for sent in lists(Stream(events))
                    )
                )
            # A delete: gone from the other page's list.
            deleted = await me.post(
                f"{first}/delete",
                data={"chat": second.rsplit("/", 1)[1]},
                headers={"HX-Request": "true"},
            )
            assert deleted.status_code == 200
            await two.until(lambda events: names(lists(Stream(events))[-1]) == ["Work notes"])

            # Someone else heard none of it, and is sent only their own list.
            await ask(someone, theirs, "My secret plan")
            await other.until(lambda events: any(THREADS in e.data for e in events))
            await other.until(run_over)
            assert [names(sent) for sent in lists(other)] == [["My secret plan"]]
            everything = "\n".join(e.data for e in other.events)
            assert "Lisbon" not in everything
            assert "Work notes" not in everything
            assert all("My secret plan" not in sent for sent in lists(one) + lists(two))


async def test_a_page_without_the_sidebar_is_sent_no_list(live: LiveServer) -> None:
    async with browser(live) as me:
        url, stream_url = await open_page(me)
        plain = stream_url.split("&threads=")[0]  # as a page without the sidebar asks
        async with streaming(me, plain) as stream:
            await ask(me, url, "hello")
            await stream.until(run_over)
        assert lists(stream) == []


async def test_a_stream_that_resumes_is_sent_the_list_once(live: LiveServer) -> None:
    async with browser(live) as me:
        url, stream_url = await open_page(me)
        await me.post(f"{url}/messages", data={"content": "while away"})  # no JavaScript
        # As the page's script reconnects: the same URL, with the last event's id.
        headers = {"Last-Event-ID": "1"}
        sent = ""
        async with me.stream("GET", stream_url, headers=headers, timeout=WAIT_S) as response:
            async for line in response.aiter_lines():
                if THREADS in line or (sent and line):
                    sent += line
                elif sent:
                    break  # the end of that event
        assert "while away" in sent


async def test_with_a_chainlit_data_layer_the_list_is_the_layers(tmp_path: Path) -> None:
    layer = DictLayer()
    with LiveServer(chainlit_app(tmp_path, layer)) as server:
        async with browser(server) as me:
            first, stream_url = await open_page(me)
            async with streaming(me, stream_url) as stream:
                await ask(me, first, "Kept by Chainlit")
                await stream.until(
                    lambda events: any(
                        ">Kept by Chainlit<" in sent for sent in lists(Stream(events))
                    )
                )
                renamed = await me.post(
                    f"{first}/rename", data={"name": "Renamed"}, headers={"HX-Request": "true"}
                )
                assert renamed.status_code == 200
                await stream.until(
                    lambda events: any(">Renamed<" in sent for sent in lists(Stream(events)))
                )
    assert [thread["name"] for thread in layer.threads.values()] == ["Renamed"]
