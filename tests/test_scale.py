"""Two real ``lightchat serve`` processes on different ports, one Redis and one PostgreSQL:
any worker takes any request, streams any chat, and takes a chat over when its worker
dies (SIGKILL). The app is tests/e2e/apps/cluster_app.py; the streams are read with httpx
and parsed as server-sent events, as the page's script reads them.
"""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis
import redis.asyncio

from tests.helpers import REDIS_URL, ROOT, LightchatServe, Server, sse_field
from tests.pg import postgres_database

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(90),
    pytest.mark.services,
    pytest.mark.processes,
]

APP = ROOT / "tests" / "e2e" / "apps" / "cluster_app.py"
WAIT_S = 20.0


def _redis_answers() -> bool:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as client:
            client.ping()
    except redis.exceptions.RedisError:
        return False
    return True


def redis_client() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(REDIS_URL)


async def until_draining(worker: Server) -> None:
    """Wait until ``worker`` has begun to shut down: its draining mark is in Redis."""
    match = f"{worker.env['LIGHTCHAT_REDIS_PREFIX']}draining:*"
    async with asyncio.timeout(WAIT_S), redis_client() as redis:
        # A key appearing is nothing a Redis client can wait on (keyspace notifications are
        # off by default, and the server is shared): look every 20 ms.
        while not [key async for key in redis.scan_iter(match=match)]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@contextmanager
def _pair(
    lightchat_serve: LightchatServe, tmp_path: Path, **settings: str
) -> Iterator[tuple[Server, Server]]:
    """Two workers of the app: one Redis (keys under a prefix of this test's), one
    PostgreSQL database (made for this test), one secret; ``settings`` as variables."""
    if not _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    prefix = f"lcscale{uuid.uuid4().hex[:8]}:"
    with postgres_database() as database_url:
        env = {
            "LIGHTCHAT_APP_DIR": str(tmp_path),
            "LIGHTCHAT_REDIS_URL": REDIS_URL,
            "LIGHTCHAT_REDIS_PREFIX": prefix,
            "LIGHTCHAT_DATABASE_URL": database_url,
            "LIGHTCHAT_SECRET": "scale-test-secret-" + "x" * 24,
            "LIGHTCHAT_WORKER_TTL_S": "2",
            "LIGHTCHAT_SHUTDOWN_GRACE_S": "0",
            **settings,
        }
        pair = (
            lightchat_serve(APP, env=env, ready=None),
            lightchat_serve(APP, env=env, ready=None),
        )  # both start at once
        try:
            for worker in pair:
                worker.wait_ready()
            yield pair
        finally:
            for worker in pair:
                worker.stop(timeout=15)
        with redis.Redis.from_url(REDIS_URL) as client:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)


@pytest.fixture
def workers(tmp_path: Path, lightchat_serve: LightchatServe) -> Iterator[tuple[Server, Server]]:
    """Two workers that notice a dead one within 2 s."""
    with _pair(lightchat_serve, tmp_path) as pair:
        yield pair


@dataclass
class Event:
    id: int | None
    name: str
    data: str


TAKEOVER_S = WAIT_S * 3
"""How long a takeover may take to show: the owner's heartbeat must lapse first (2 s here),
then the stream's worker notices it, claims the chat and adopts its log; under a loaded
machine (browser tests and coverage alongside) that can outlast WAIT_S."""


@dataclass
class Stream:
    """A chat's stream read in the background, its events kept in order."""

    events: list[Event] = field(default_factory=list)
    status: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def until(self, found: Callable[[list[Event]], bool], timeout: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: found(self.events))

    async def until_text(self, text: str, timeout: float = WAIT_S) -> None:
        """Wait until the events so far hold ``text``."""
        await self.until(lambda events: text in "".join(event.data for event in events), timeout)

    def text(self) -> str:
        return "\n".join(event.data for event in self.events)

    def tokens(self) -> list[int]:
        """The numbers of the streamed words, in the order their token events came."""
        words: list[int] = []
        for event in self.events:
            # "tok" names where its text goes, "t" goes on where the last one went.
            if event.name in ("tok", "t"):
                delta = event.data.partition("\n")[2] if event.name == "tok" else event.data
                words += [int(n) for n in re.findall(r"w(\d+) ", delta)]
        return words


@asynccontextmanager
async def streaming(client: httpx.AsyncClient, url: str) -> AsyncIterator[Stream]:
    stream = Stream()

    async def read() -> None:
        async with client.stream("GET", url, timeout=None) as response:
            stream.status = response.status_code
            fields: dict[str, str] = {}
            data: list[str] = []
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue
                if line:
                    name, value = sse_field(line)
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
                    continue
                if data or fields:
                    seq = fields.get("id")
                    event = Event(
                        int(seq) if seq else None, fields.get("event", ""), "\n".join(data)
                    )
                    async with stream.changed:
                        stream.events.append(event)
                        stream.changed.notify_all()
                fields, data = {}, []

    task = asyncio.create_task(read())
    try:
        yield stream
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def answering(
    client: httpx.AsyncClient, a: Server, b: Server, words: int
) -> AsyncIterator[tuple[str, str, Stream]]:
    """A chat opened on A, answering "long" there, streamed from B once ``words`` of the
    answer arrived: its id, the form token and the stream."""
    chat, token = await open_chat(client, a)
    async with streaming(client, f"{b.url}/chat/{chat}/events") as stream:
        await post(client, f"{a.url}/chat/{chat}/messages", token, content="long")
        await stream.until(lambda events: len(Stream(events).tokens()) >= words)
        yield chat, token, stream


async def open_chat(client: httpx.AsyncClient, worker: Server) -> tuple[str, str]:
    """A new chat on ``worker``: its id and the browser's form token."""
    made = await client.get(f"{worker.url}/")
    assert made.status_code == 303, made.text
    chat = made.headers["location"].rsplit("/", 1)[1]
    page = await client.get(f"{worker.url}/chat/{chat}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return chat, token.group(1)


async def post(client: httpx.AsyncClient, url: str, token: str, **form: str) -> httpx.Response:
    return await client.post(
        url, data={"csrf_token": token, **form}, headers={"HX-Request": "true"}
    )


async def test_a_post_on_one_worker_streams_from_the_other_in_order(
    workers: tuple[Server, Server],
) -> None:
    a, b = workers
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        chat, token = await open_chat(client, a)
        async with streaming(client, f"{b.url}/chat/{chat}/events") as stream:
            posted = await post(client, f"{a.url}/chat/{chat}/messages", token, content="slow")
            assert posted.status_code == 204
            await stream.until_text("finished")
        assert stream.status == 200
        # Every token, in order, once: the first came with the message itself (its
        # first state), the rest as token events.
        words = stream.tokens()
        assert words == list(range(words[0], 40))
        first = next(i for i, e in enumerate(stream.events) if re.search(r"\bw0\b", e.data))
        assert first < next(i for i, e in enumerate(stream.events) if e.name == "tok")
        shown = re.sub(r"<[^>]*>", " ", stream.events[first].data)  # its text, not its markup
        assert words[0] == len(re.findall(r"\bw\d+\b", shown)), stream.events[first].data
        ids = [event.id for event in stream.events if event.id is not None]
        # Ids only go forward (one log entry may become two events with its id). The
        # answer's streamed text names none: a page that reconnects has it drawn again.
        assert ids == sorted(ids)
        assert len(set(ids)) >= 2
        assert all(e.id is None for e in stream.events if e.name in ("tok", "t"))
        # The other way round: post on B (forwarded to A), the page asked of B.
        posted = await post(client, f"{b.url}/chat/{chat}/messages", token, content="hi")
        assert posted.status_code == 204
        async with streaming(client, f"{b.url}/chat/{chat}/events") as again:
            await again.until_text("echo: hi")


async def test_an_ask_waiting_on_one_worker_is_answered_on_the_other(
    workers: tuple[Server, Server],
) -> None:
    a, b = workers
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        chat, token = await open_chat(client, a)
        async with streaming(client, f"{b.url}/chat/{chat}/events") as stream:
            await post(client, f"{a.url}/chat/{chat}/messages", token, content="ask")
            await stream.until_text("Your name?")
            answered = await post(client, f"{b.url}/chat/{chat}/messages", token, content="Zed")
            assert answered.status_code == 204
            await stream.until_text("Hello, Zed!")


async def test_stop_posted_to_one_worker_stops_the_run_on_the_other(
    workers: tuple[Server, Server],
) -> None:
    a, b = workers
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        async with answering(client, a, b, words=5) as (chat, token, _):
            stopped = await post(client, f"{b.url}/chat/{chat}/stop", token)
            assert stopped.status_code == 204
        page = (await client.get(f"{b.url}/chat/{chat}")).text
        assert "w4 " in page
        assert "w1999" not in page
        assert "finished" not in page
        assert "data-streaming" not in page


async def test_when_the_owner_is_killed_the_other_worker_takes_the_chat_over(
    workers: tuple[Server, Server],
) -> None:
    a, b = workers
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        async with answering(client, a, b, words=20) as (chat, token, stream):
            a.kill()
            # The stream on B sees its owner's heartbeat lapse and takes the chat over: the
            # answer so far comes back finished, marked interrupted.
            await stream.until_text("lc-interrupted", timeout=TAKEOVER_S)
            shown = stream.tokens()
            assert shown == list(range(shown[0], shown[0] + len(shown)))
            assert "Interrupted" in stream.text()
            # The next message is answered here, by a chat rebuilt through on_chat_resume.
            posted = await post(client, f"{b.url}/chat/{chat}/messages", token, content="hello")
            assert posted.status_code == 204, posted.text
            await stream.until_text("resumed: hello")
        page = (await client.get(f"{b.url}/chat/{chat}")).text
        assert "Interrupted" in page
        assert "resumed: hello" in page


async def test_a_worker_stopped_with_sigterm_finishes_the_answer_and_hands_the_chat_over(
    tmp_path: Path,
    lightchat_serve: LightchatServe,
) -> None:
    # A dead worker's chats wait 60 s for its heartbeat to lapse: only the hand-over at
    # the end of a graceful shutdown (its chats released, its heartbeat gone) lets the
    # other worker take the next message at once.
    with _pair(
        lightchat_serve, tmp_path, LIGHTCHAT_WORKER_TTL_S="60", LIGHTCHAT_SHUTDOWN_GRACE_S="20"
    ) as (a, b):
        async with httpx.AsyncClient(timeout=WAIT_S) as client:
            chat, token = await open_chat(client, a)
            async with streaming(client, f"{b.url}/chat/{chat}/events") as stream:
                await post(client, f"{a.url}/chat/{chat}/messages", token, content="slow")
                await stream.until(lambda events: len(Stream(events).tokens()) >= 5)
                a.process.terminate()  # SIGTERM, mid-answer
                await stream.until_text("finished", timeout=15)
                words = stream.tokens()
                assert words == list(range(words[0], 40))  # the whole answer, in order
                assert await asyncio.to_thread(a.process.wait, 15) in (0, -signal.SIGTERM)
                posted = await post(client, f"{b.url}/chat/{chat}/messages", token, content="hi")
                assert posted.status_code == 204, posted.text
                await stream.until_text("resumed: hi", timeout=10)
            page = (await client.get(f"{b.url}/chat/{chat}")).text
            assert re.search(r"\bw39\b", page)
            assert "Interrupted" not in page


async def test_a_post_reaching_a_worker_shutting_down_is_answered_by_the_other(
    tmp_path: Path,
    lightchat_serve: LightchatServe,
) -> None:
    # The post goes to B, which passes it to A (the chat's owner), which is shutting down:
    # A lets its answer end, hands the chat over and passes the post on to B, which takes
    # the chat over and answers it. The user gets no error and sends nothing again.
    with _pair(
        lightchat_serve, tmp_path, LIGHTCHAT_WORKER_TTL_S="60", LIGHTCHAT_SHUTDOWN_GRACE_S="20"
    ) as (a, b):
        async with httpx.AsyncClient(timeout=WAIT_S * 3) as client:
            chat, token = await open_chat(client, a)
            async with streaming(client, f"{b.url}/chat/{chat}/events") as stream:
                await post(client, f"{a.url}/chat/{chat}/messages", token, content="slow")
                await stream.until(lambda events: len(Stream(events).tokens()) >= 5)
                a.process.terminate()  # SIGTERM, mid-answer
                await until_draining(a)  # A is shutting down: it listens no more
                assert a.process.poll() is None  # and still runs its answer
                posted = await post(client, f"{b.url}/chat/{chat}/messages", token, content="hi")
                assert posted.status_code == 204, posted.text
                await stream.until_text("resumed: hi", timeout=15)
                words = stream.tokens()
                assert words == list(range(words[0], 40))  # the whole answer, in order
            assert await asyncio.to_thread(a.process.wait, 15) in (0, -signal.SIGTERM)
            page = (await client.get(f"{b.url}/chat/{chat}")).text
            assert re.search(r"\bw39\b", page)
            assert "resumed: hi" in page
            assert "Interrupted" not in page


async def test_a_frozen_owner_that_wakes_after_a_takeover_cannot_write_the_chat(
    workers: tuple[Server, Server],
) -> None:
    # A's loop stops (SIGSTOP) for longer than its heartbeat lives: B takes the chat over.
    # When A wakes, its answer goes on streaming there, but its writes are refused (the
    # log is B's now), so the page never shows A's late tokens, and A ends the chat.
    a, b = workers
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        async with answering(client, a, b, words=20) as (chat, token, stream):
            a.process.send_signal(signal.SIGSTOP)
            try:
                await stream.until_text("lc-interrupted", timeout=TAKEOVER_S)
                shown = stream.tokens()
                posted = await post(client, f"{b.url}/chat/{chat}/messages", token, content="hi")
                assert posted.status_code == 204, posted.text
                await stream.until_text("resumed: hi")
            finally:
                a.process.send_signal(signal.SIGCONT)
            # A streams on, into nothing: its first write is refused, and it ends the chat.
            await asyncio.to_thread(a.wait_printed, f"Chat {chat} was taken over", WAIT_S)
            assert stream.tokens() == shown
        # Nor does Redis get any of it: no word past those shown is in the chat's log.
        log = f"{a.env['LIGHTCHAT_REDIS_PREFIX']}log:{chat}"
        async with redis_client() as redis:
            entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(log))
        logged = [int(n) for _, fields in entries for n in re.findall(rb"\bw(\d+) ", fields[b"e"])]
        assert logged
        assert max(logged) <= max(shown)
        page = (await client.get(f"{a.url}/chat/{chat}")).text  # goes to B, the owner
        assert "resumed: hi" in page
        assert f"w{shown[-1] + 30} " not in page
    assert "was taken over by another worker" in a.stop()
