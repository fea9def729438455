"""The cluster, forwarding and takeover (several workers), against a real Redis.

Two ``LightChat`` apps in one process that share a Redis (and, for takeover, a
PostgreSQL database) stand for two workers: each has its own chats, bus mirror, heartbeat
and inbox, exactly as two ``lightchat serve`` processes would (those run in
tests/test_scale.py). Each test uses keys under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from lightchat import AskElementMessage, CustomElement, File, LightChat, Message, Settings
from lightchat.auth.identity import COOKIE
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.cluster import Cluster, OwnerGone
from lightchat.domain.events import (
    MessageData,
    MessageEvent,
    RunEvent,
    StepData,
    StepEvent,
    TokenEvent,
    event_from_json,
    event_to_json,
)
from lightchat.http.endpoints.custom import JSX_CSP
from lightchat.http.middleware.csrf import HEADER as FORM_TOKEN_HEADER
from lightchat.http.middleware.forwarding import chat_of
from lightchat.store.convert import item_from_record, record_from_item
from tests.helpers import (
    REDIS_URL,
    WAIT_S,
    contents,
    form_token,
    free_port,
    until,
    wait_for_log,
    with_form_token,
)
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30), pytest.mark.services]

SECRET = "cluster-test-secret-" + "x" * 24


def settings(prefix: str, **more: Any) -> Settings:
    return Settings(
        name="Cluster",
        secret=SECRET,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        **{"history": False, "shutdown_grace_s": 0, "worker_ttl_s": 1, **more},
    )


def cluster_of(app: LightChat) -> Cluster:
    cluster = app.build().state.services.cluster
    assert isinstance(cluster, Cluster)
    return cluster


async def new_chat(client: httpx.AsyncClient) -> str:
    response = await client.get("/")
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def client_for(app: LightChat, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies=cookies
    )
    return with_form_token(client, app)


# -- the cluster's own rules -------------------------------------------------------------


async def test_of_two_workers_claiming_a_dead_owners_chat_one_wins(prefix: str) -> None:
    config = settings(prefix)
    owner, first, second = (Cluster(config, REDIS_URL, prefix=prefix) for _ in range(3))
    await owner.start(_no_app)
    await first.start(_no_app)
    await second.start(_no_app)
    try:
        await owner.register("s1", owner="alice", client_type="webapp")
        assert await first.route("s1") == (owner.wid, True)
        assert not await first.claim("s1")  # its owner is alive
        await owner.aclose()  # its heartbeat goes: it died
        assert await first.route("s1") == (owner.wid, False)
        for _ in range(5):  # the race, several times over: exactly one wins each time
            won = await asyncio.gather(first.claim("s1"), second.claim("s1"))
            assert sorted(won) == [False, True]
            winner = first if won[0] else second
            assert await winner.claim("s1")  # claiming one's own chat again is fine
            assert (await first.route("s1"))[0] == winner.wid
            loser = second if winner is first else first
            assert await loser.release(["s1"]) == 0  # only the owner gives it up
            assert await winner.release(["s1", "other"]) == 1
            assert await first.route("s1") == (None, False)
        assert await first.metadata("s1") == {"owner": "alice", "client_type": "webapp"}
        assert await first.metadata("nothing") is None
        # A worker shutting down keeps what it owns but claims nothing more.
        assert await first.claim("s1")
        first.draining = True
        assert await first.claim("s1")
        await first.release(["s1"])
        assert not await first.claim("s1")
        assert await second.claim("s1")
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_chat_is_handed_only_to_a_live_worker_that_stays(prefix: str) -> None:
    config = settings(prefix)
    leaving, staying, also_leaving = (Cluster(config, REDIS_URL, prefix=prefix) for _ in "abc")
    for cluster in (leaving, staying, also_leaving):
        await cluster.start(_no_app)
    try:
        await leaving.begin_draining()
        await also_leaving.begin_draining()
        assert await leaving.successor() == staying.wid
        assert await also_leaving.successor() == staying.wid
        assert await staying.successor() is None  # the others shut down
        await staying.aclose()
        assert await leaving.successor() is None
    finally:
        await leaving.aclose()
        await also_leaving.aclose()


async def test_a_burst_of_chats_waits_for_connections_instead_of_failing(prefix: str) -> None:
    # More commands at once than the pool has connections: they queue, none fails.
    cluster = Cluster(settings(prefix), REDIS_URL, prefix=prefix)
    await cluster.start(_no_app)
    try:
        await asyncio.gather(
            *(cluster.register(f"s{n}", owner="o", client_type="webapp") for n in range(600))
        )
        assert await cluster.metadata("s599") == {"owner": "o", "client_type": "webapp"}
    finally:
        await cluster.aclose()


async def test_requests_waiting_for_their_answers_hold_one_connection(prefix: str) -> None:
    # 300 forwarded requests wait at once; their answers come back on one list, which
    # one task reads: not a blocking pop (and a connection) per request.
    count = 300
    arrived: list[str] = []
    all_in = asyncio.Event()
    answer = asyncio.Event()

    async def owner_app(scope: Any, receive: Any, send: Any) -> None:
        arrived.append(scope["path"])
        if len(arrived) == count:
            all_in.set()
        await answer.wait()
        await _plain(send, scope["path"])

    # Both workers share this test's event loop, busy with 300 requests: a heartbeat that
    # lapses after 1 s (the other tests' setting) could let the owner look gone.
    config = settings(prefix, worker_ttl_s=10)
    name = f"{prefix}sender"
    sender = Cluster(config, f"{REDIS_URL}?client_name={name}", prefix=prefix)
    owner = Cluster(config, REDIS_URL, prefix=prefix)
    await sender.start(_no_app)
    await owner.start(owner_app)
    try:
        requests = [
            asyncio.create_task(sender.forward(owner.wid, _get(f"/r{n}"), WAIT_S * 2))
            for n in range(count)
        ]
        async with asyncio.timeout(WAIT_S):
            await all_in.wait()
        clients = await _clients(name)
        assert clients  # the sender's connections are the ones named so
        blocked = [c for c in clients if "b" in c["flags"]]
        assert len(blocked) <= 2  # the reply listener and the inbox, not 300
        answer.set()
        async with asyncio.timeout(WAIT_S):
            replies = await asyncio.gather(*requests)
        assert [reply.body for reply in replies] == [f"/r{n}".encode() for n in range(count)]
    finally:
        await sender.aclose()
        await owner.aclose()


async def test_an_answer_after_its_request_gave_up_does_not_reach_the_next(prefix: str) -> None:
    late = asyncio.Event()

    async def owner_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/late":
            await late.wait()
        await _plain(send, scope["path"])

    sender = Cluster(settings(prefix), REDIS_URL, prefix=prefix)
    owner = Cluster(settings(prefix), REDIS_URL, prefix=prefix)
    await sender.start(_no_app)
    await owner.start(owner_app)
    try:
        with pytest.raises(OwnerGone):
            await sender.forward(owner.wid, _get("/late"), 0.1)
        late.set()  # its answer comes now, and finds nobody waiting
        async with asyncio.timeout(WAIT_S):
            reply = await sender.forward(owner.wid, _get("/next"), WAIT_S)
        assert reply.status == 200
        assert reply.body == b"/next"
        assert not sender._inbox.waiting
    finally:
        await sender.aclose()
        await owner.aclose()


def _get(path: str) -> dict[str, Any]:
    """A request as ``lightchat.http.middleware.forwarding`` sends it."""
    return {
        "method": "GET",
        "scheme": "http",
        "path": path,
        "root_path": "",
        "query": "",
        "headers": [],
        "client": None,
        "server": None,
        "body": "",
    }


async def _plain(send: Any, text: str) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": text.encode()})


async def _clients(name: str) -> list[dict[str, Any]]:
    """The connections to Redis named ``name`` (CLIENT LIST)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return [c for c in await client.client_list() if c.get("name") == name]
    finally:
        await client.aclose()


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("nothing is forwarded here")


def test_only_chat_requests_other_than_the_stream_are_forwarded() -> None:
    def scope(path: str, root: str = "", method: str = "GET") -> dict[str, Any]:
        return {"path": path, "root_path": root, "method": method}

    assert chat_of(scope("/chat/abc")) == "abc"
    assert chat_of(scope("/chat/abc/messages")) == "abc"
    assert chat_of(scope("/chat/a%20b/stop")) == "a b"
    assert chat_of(scope("/embed/abc")) == "abc"
    assert chat_of(scope("/app/chat/abc/stop", "/app")) == "abc"
    assert chat_of(scope("/chat/abc/events")) is None
    assert chat_of(scope("/chat/abc/elements/e1")) is None  # any worker serves the file
    assert chat_of(scope("/chat/abc/elements/e1", method="POST")) == "abc"
    assert chat_of(scope("/chat/abc/elements/e1/view")) == "abc"
    assert chat_of(scope("/chat/abc/elements/e1/actions", method="POST")) == "abc"
    assert chat_of(scope("/")) is None
    assert chat_of(scope("/history")) is None


# -- two workers in one process ----------------------------------------------------------


@asynccontextmanager
async def running(*apps: LightChat) -> AsyncIterator[None]:
    """The apps started as a server starts them; stopped at the end, last first."""
    started: list[LightChat] = []
    try:
        for app in apps:
            await app.start()
            started.append(app)
        yield
    finally:
        for app in reversed(started):
            await app.stop()


@pytest.fixture
def workers(prefix: str) -> tuple[LightChat, LightChat]:
    apps = (LightChat(settings(prefix)), LightChat(settings(prefix)))
    for app in apps:

        @app.on_message
        async def echo(message: Message) -> None:
            await Message(content=f"echo: {message.content}").send()

    return apps


async def test_a_post_to_another_worker_runs_on_the_chats_owner(
    workers: tuple[LightChat, LightChat],
) -> None:
    a, b = workers
    async with running(a, b), client_for(a) as on_a:
        chat = await new_chat(on_a)
        assert (await cluster_of(b).route(chat)) == (cluster_of(a).wid, True)
        async with client_for(b, on_a.cookies) as on_b:
            posted = await on_b.post(
                f"/chat/{chat}/messages", data={"content": "hi"}, headers={"HX-Request": "true"}
            )
            assert posted.status_code == 204, posted.text
            # It ran on A (the owner), not on B: B never made a session.
            assert a.chats is not None
            assert b.chats is not None
            assert len(b.chats) == 0
            owner_bus = a.build().state.services.bus
            events = await wait_for_log(owner_bus, chat, lambda ev: RunEvent(False) in ev[1:])
            assert contents(events) == ["echo: hi"]
            # The page, asked of B, is A's answer relayed (its security headers too).
            page = await on_b.get(f"/chat/{chat}")
            assert page.status_code == 200
            assert "echo: hi" in page.text
            assert "content-security-policy" in page.headers
            assert len(b.chats) == 0


async def test_any_worker_serves_an_element_file_from_the_shared_storage(
    prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's bytes come from the storage the workers share, found through the chat's
    # log: B answers without passing the request to A, the chat's owner.
    apps = [LightChat(settings(prefix, app_dir=str(tmp_path))) for _ in range(2)]
    for app in apps:

        @app.on_message
        async def attach(message: Message) -> None:
            notes = File(name="notes.txt", content=b"hello, file", display="inline")
            await Message(content="here", elements=[notes]).send()

    a, b = apps
    async with running(a, b), client_for(a) as on_a:
        chat = await new_chat(on_a)
        await on_a.post(f"/chat/{chat}/messages", data={"content": "hi"})
        owner_bus = a.build().state.services.bus
        events = await wait_for_log(owner_bus, chat, lambda ev: RunEvent(False) in ev[1:])
        (element_id,) = [
            element.id
            for event in events
            if isinstance(event, MessageEvent)
            for element in event.message.elements
        ]
        passed_on: list[Any] = []
        serve = cluster_of(a)._serve

        async def serving(*args: Any) -> None:
            passed_on.append(args)
            await serve(*args)

        monkeypatch.setattr(cluster_of(a), "_serve", serving)
        url = f"/chat/{chat}/elements/{element_id}"
        async with client_for(b, on_a.cookies) as on_b:
            got = await on_b.get(url)
            assert got.status_code == 200, got.text
            assert got.content == b"hello, file"
            assert got.headers["content-disposition"].startswith("attachment;")
            assert "sandbox" in got.headers["content-security-policy"]
            assert (await on_b.get(f"/chat/{chat}/elements/nope")).status_code == 404
        async with client_for(b) as stranger:  # another browser: not its chat
            assert (await stranger.get(url)).status_code == 404
        assert passed_on == []
        assert b.chats is not None
        assert len(b.chats) == 0  # served from the log, without taking the chat


async def test_someone_elses_chat_is_not_found_on_any_worker(
    workers: tuple[LightChat, LightChat],
) -> None:
    a, b = workers
    async with running(a, b), client_for(a) as alice, client_for(b) as mallory:
        chat = await new_chat(alice)
        await new_chat(mallory)  # a browser of its own, with its cookie
        # The stream (any worker serves it) is authorised from the chat's metadata.
        stream = await mallory.get(f"/chat/{chat}/events")
        assert stream.status_code == 404
        assert (await mallory.get("/chat/no-such-chat/events")).status_code == 404
        # Forwarded to the owner, which refuses it as it would its own request.
        posted = await mallory.post(
            f"/chat/{chat}/messages", data={"content": "x"}, headers={"HX-Request": "true"}
        )
        assert posted.status_code == 404
        assert (await mallory.get(f"/chat/{chat}")).status_code == 404


async def test_a_dead_owners_chat_is_taken_over_with_the_answer_marked_interrupted(
    prefix: str,
) -> None:
    started = asyncio.Event()
    resumed: list[dict[str, Any]] = []
    with postgres_database() as database_url:
        apps = [LightChat(settings(prefix, history=True, database_url=database_url)) for _ in "ab"]
        for app in apps:

            @app.on_message
            async def answer(message: Message) -> None:
                if message.content == "slow":
                    reply = Message(content="")
                    await reply.stream_token("partial ")
                    await reply.stream_token("answer")
                    started.set()
                    await asyncio.Event().wait()  # until its worker dies
                await Message(content=f"echo: {message.content}").send()

            @app.on_chat_resume
            async def resume(thread: dict[str, Any]) -> None:
                resumed.append(thread)

        a, b = apps
        async with running(a, b), client_for(a) as on_a:
            chat = await new_chat(on_a)
            await on_a.post(
                f"/chat/{chat}/messages",
                data={"content": "slow"},
                headers={"HX-Request": "true"},
            )
            async with asyncio.timeout(WAIT_S):
                await started.wait()
            services = a.build().state.services
            await services.bus.flush()
            assert services.history is not None
            await services.history.flush()
            # A dies: its heartbeat stops (its process would be gone).
            await cluster_of(a).aclose()
            async with client_for(b, on_a.cookies) as on_b:
                posted = await on_b.post(
                    f"/chat/{chat}/messages",
                    data={"content": "next"},
                    headers={"HX-Request": "true"},
                )
                assert posted.status_code == 204, posted.text
                assert b.chats is not None
                assert len(b.chats) == 1
                assert (await cluster_of(b).route(chat)) == (cluster_of(b).wid, True)
                bus = b.build().state.services.bus
                events = await wait_for_log(bus, chat, lambda ev: "echo: next" in contents(ev))
                cut = [m for m in _messages(events) if m.interrupted]
                assert [m.content for m in cut] == ["partial answer"]
                assert not cut[-1].streaming
                # on_chat_resume got the thread from the database, interrupted answer in it.
                assert len(resumed) == 1
                outputs = [s["output"] for s in resumed[0]["steps"]]
                assert "partial answer" in outputs
                # The sequence went on: one log, in order, no repeat (the gaps are the
                # tokens of finished answers, folded into their final states).
                seqs = [e.seq for e in await bus.read(chat)]
                assert seqs == sorted(set(seqs))
                assert seqs[-1] == bus.last_seq(chat)
                page = await on_b.get(f"/chat/{chat}")
                assert "Interrupted" in page.text
                assert "echo: next" in page.text


# -- a worker shutting down hands a chat over ---------------------------------------------


@dataclass
class Pair:
    """Two workers with a history (a chat handed over is rebuilt from it): "slow" streams
    an answer that waits for ``gate``; anything else is echoed. ``resumed``: the chats
    each worker rebuilt through ``on_chat_resume``."""

    a: LightChat
    b: LightChat
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    resumed: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})


def handing_over(prefix: str, database_url: str, **more: Any) -> Pair:
    config = settings(prefix, history=True, database_url=database_url, **more)
    pair = Pair(LightChat(config), LightChat(config))
    _callbacks(pair.a, pair.gate, pair.resumed["a"])
    _callbacks(pair.b, pair.gate, pair.resumed["b"])
    return pair


def _callbacks(app: LightChat, gate: asyncio.Event, resumed: list[str]) -> None:
    @app.on_message
    async def answer(message: Message) -> None:
        if message.content == "slow":
            reply = Message(content="")
            await reply.stream_token("partial ")
            await gate.wait()
            await reply.stream_token("answer")
            await reply.send()
            return
        await Message(content=f"echo: {message.content}").send()

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        resumed.append(thread["id"])


async def start_draining(app: LightChat) -> None:
    """What the start of a shutdown does, without the rest of it."""
    assert app.chats is not None
    await cluster_of(app).begin_draining()
    app.chats.begin_draining()


async def post(client: httpx.AsyncClient, chat: str, content: str) -> httpx.Response:
    return await client.post(
        f"/chat/{chat}/messages", data={"content": content}, headers={"HX-Request": "true"}
    )


async def test_a_post_to_a_worker_shutting_down_is_answered_by_another(prefix: str) -> None:
    with postgres_database() as database_url:
        pair = handing_over(prefix, database_url)
        a, b = pair.a, pair.b
        async with running(a, b), client_for(a) as on_a:
            chat = await new_chat(on_a)
            assert (await post(on_a, chat, "hello")).status_code == 204
            owner_bus = a.build().state.services.bus
            await wait_for_log(owner_bus, chat, lambda ev: "echo: hello" in contents(ev))
            await start_draining(a)
            posted = await post(on_a, chat, "hi")
            assert posted.status_code == 204, posted.text
            # B claimed the chat, rebuilt it through on_chat_resume and answered there.
            assert (await cluster_of(a).route(chat)) == (cluster_of(b).wid, True)
            assert a.chats is not None
            assert b.chats is not None
            assert len(a.chats) == 0
            assert len(b.chats) == 1
            assert pair.resumed == {"a": [], "b": [chat]}
            # Either worker streams the answer (A reads the log from Redis now).
            for app in (a, b):
                bus = app.build().state.services.bus
                events = await wait_for_log(bus, chat, lambda ev: "echo: hi" in contents(ev))
                assert contents(events, "user_message") == ["hello", "hi"]
                assert contents(events) == ["echo: hello", "echo: hi"]
            async with client_for(b, on_a.cookies) as on_b:
                for client in (on_a, on_b):
                    page = await client.get(f"/chat/{chat}")
                    assert page.status_code == 200
                    assert "echo: hi" in page.text


async def test_a_post_to_a_worker_shutting_down_waits_for_the_running_answer(
    prefix: str,
) -> None:
    with postgres_database() as database_url:
        pair = handing_over(prefix, database_url, shutdown_grace_s=20)
        a, b = pair.a, pair.b
        async with running(a, b), client_for(a) as on_a:
            chat = await new_chat(on_a)
            assert (await post(on_a, chat, "slow")).status_code == 204
            owner_bus = a.build().state.services.bus
            await wait_for_log(owner_bus, chat, lambda ev: "partial " in contents(ev))
            stopping = asyncio.create_task(a.stop())  # SIGTERM, mid-answer
            chats = a.chats
            assert chats is not None
            await until(lambda: chats.draining, "A to drain")
            posting = asyncio.create_task(post(on_a, chat, "next"))
            await until(lambda: chats._handing_off > 0, "the post to wait for the answer")
            assert not posting.done()  # it waits for the answer to end
            pair.gate.set()
            async with asyncio.timeout(WAIT_S):
                posted = await posting
                await stopping
            assert posted.status_code == 204, posted.text
            assert (await cluster_of(b).route(chat)) == (cluster_of(b).wid, True)
            bus = b.build().state.services.bus
            events = await wait_for_log(bus, chat, lambda ev: "echo: next" in contents(ev))
            assert contents(events) == ["partial answer", "echo: next"]
            assert not any(m.interrupted for m in _messages(events))
            async with client_for(b, on_a.cookies) as on_b:
                page = (await on_b.get(f"/chat/{chat}")).text
            assert "partial answer" in page
            assert "Interrupted" not in page


async def test_a_post_to_the_last_worker_shutting_down_is_refused_with_retry_after(
    prefix: str,
) -> None:
    with postgres_database() as database_url:
        a = handing_over(prefix, database_url).a
        async with running(a), client_for(a) as on_a:
            chat = await new_chat(on_a)
            assert (await post(on_a, chat, "hello")).status_code == 204
            await start_draining(a)
            refused = await post(on_a, chat, "hi")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert "shutting down" in refused.text
            # The chat stays here, for the end of the shutdown to hand it over.
            assert (await cluster_of(a).route(chat)) == (cluster_of(a).wid, True)
            assert a.chats is not None
            assert len(a.chats) == 1


def _messages(events: list[Any]) -> list[MessageData]:
    latest: dict[str, MessageData] = {}
    for event in events:
        if isinstance(event, MessageEvent):
            latest[event.message.id] = event.message
    return list(latest.values())


# -- takeover without Redis: the session's side ------------------------------------------


async def test_take_over_finishes_what_was_open_and_resumes_from_the_thread() -> None:
    app = LightChat()
    resumed: list[dict[str, Any]] = []

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        resumed.append(thread)

    bus = MemoryBus()
    streaming = MessageData(id="m1", author="Bot", type="assistant_message", streaming=True)
    step = StepData(id="s1", name="search")
    written = [
        bus.publish("chat", event)
        for event in (
            RunEvent(running=True),
            MessageEvent(streaming),
            TokenEvent("m1", "half an ans"),
            StepEvent(step),
        )
    ]
    chats = Chats(app, bus, Settings(), message_factory=Message.from_data)
    loads = 0

    async def load_thread() -> dict[str, Any]:
        nonlocal loads
        loads += 1
        return {"id": "chat", "metadata": {"chat_profile": "Pro"}, "steps": []}

    session = await chats.take_over("chat", "alice", written, load_thread)
    assert loads == 2  # its metadata first, then again with the interrupted answer saved
    assert session.data["chat_profile"] == "Pro"
    # Its interrupted run ends, then on_chat_resume's run.
    events = await wait_for_log(bus, "chat", lambda ev: ev.count(RunEvent(False)) == 2)
    after = events[len(written) :]
    assert after[0] == MessageEvent(
        MessageData(
            id="m1",
            author="Bot",
            type="assistant_message",
            content="half an ans",
            created_at=streaming.created_at,
            interrupted=True,
        )
    )
    assert isinstance(after[1], StepEvent)
    assert after[1].step.interrupted
    assert after[1].step.status == "failed"
    assert after[2] == RunEvent(running=False)
    assert resumed == [{"id": "chat", "metadata": {"chat_profile": "Pro"}, "steps": []}]
    assert not session.read_only
    assert chats.get("chat", "alice") is session
    await chats.close_all()


async def test_without_on_chat_resume_a_taken_over_chat_is_read_only() -> None:
    app = LightChat()
    bus = MemoryBus()
    written = [bus.publish("chat", RunEvent(running=True))]
    chats = Chats(app, bus, Settings())

    async def load_thread() -> None:
        return None

    session = await chats.take_over("chat", "alice", written, load_thread)
    assert session.read_only
    assert (await bus.read("chat"))[-1].event == RunEvent(running=False)
    await chats.close_all()


def test_the_interrupted_mark_goes_through_json_and_the_store() -> None:
    message = MessageData(id="m", author="Bot", type="assistant_message", interrupted=True)
    step = StepData(id="s", name="tool", status="failed", interrupted=True)
    for event in (MessageEvent(message), StepEvent(step)):
        assert event_from_json(event_to_json(event)) == event
    for item in (message, step):
        record = record_from_item(item, "thread")
        assert record.meta == {"interrupted": True}
        assert item_from_record(record).interrupted
    plain = record_from_item(MessageData(id="p", author="Bot", type="assistant_message"), "t")
    assert plain.meta == {}
    assert not item_from_record(plain).interrupted


async def test_an_owner_dying_mid_request_is_a_503_that_says_to_send_again(
    prefix: str,
) -> None:
    apps = (LightChat(settings(prefix)), LightChat(settings(prefix)))
    for app in apps:

        @app.on_message
        async def hang(message: Message) -> None:
            await asyncio.Event().wait()

    a, b = apps
    async with running(a, b), client_for(a) as on_a:
        chat = await new_chat(on_a)
        on_b = client_for(b, on_a.cookies)
        # A plain form post waits for the answer (form_wait_s): A dies meanwhile.
        posting = asyncio.create_task(on_b.post(f"/chat/{chat}/messages", data={"content": "hi"}))
        owner_bus = a.build().state.services.bus
        await wait_for_log(owner_bus, chat, lambda ev: len(_messages(ev)) == 1)
        await cluster_of(a).aclose()
        async with asyncio.timeout(WAIT_S):
            answer = await posting
        assert answer.status_code == 503
        assert "stopped before it answered" in answer.text
        await on_b.aclose()


async def test_without_redis_chat_requests_get_a_503_that_says_so(prefix: str) -> None:
    config = settings(prefix)
    app = LightChat(replace(config, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    await app.start()
    try:
        async with client_for(app) as client:
            made = await client.get("/")
            assert made.status_code == 503
            assert "Redis" in made.text
            posted = await client.post("/chat/abc/messages", data={"content": "x"})
            assert posted.status_code == 503
            assert "Redis" in posted.text
            assert (await client.get("/chat/abc/events")).status_code == 503
    finally:
        await app.stop()


async def test_a_chat_shown_by_a_stream_on_another_worker_is_not_reaped(prefix: str) -> None:
    cluster = Cluster(settings(prefix), REDIS_URL, prefix=prefix)
    chats = Chats(LightChat(), MemoryBus(), Settings(session_idle_timeout_s=60))
    chats.seen_elsewhere = cluster.seen
    watched, idle = chats.create("alice"), chats.create("bob")
    watched.last_active = idle.last_active = time.monotonic() - 3600
    try:
        await cluster.mark_seen(watched.id, 60)  # what RemoteChat.check does
        assert await chats.reap() == 1
        assert chats.get(watched.id, "alice") is watched
        assert chats.get(idle.id, "bob") is None
    finally:
        await chats.close_all()
        await cluster.aclose()


async def test_a_worker_refuses_what_the_owner_would_before_forwarding_anything(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oversized, anonymous, token-less, cross-site and foreign requests for a chat that
    another worker owns get the owner's status from the first worker, and nothing of them
    goes to Redis."""
    apps = [LightChat(settings(prefix, upload_max_size_mb=1, upload_max_files=1)) for _ in "ab"]
    for app in apps:

        @app.on_message
        async def echo(message: Message) -> None:
            await Message(content=f"echo: {message.content}").send()

    a, b = apps
    redis = aioredis.Redis.from_url(REDIS_URL)
    async with running(a, b), client_for(a) as alice, client_for(b) as mallory:
        chat = await new_chat(alice)
        await new_chat(mallory)  # a browser of its own, with its cookie and token
        forwarded: list[str] = []
        forward = cluster_of(b).forward

        async def forwarding(worker: str, request: dict[str, Any], timeout: float) -> Any:
            forwarded.append(request["path"])
            return await forward(worker, request, timeout)

        monkeypatch.setattr(cluster_of(b), "forward", forwarding)
        big = b"x" * (5 * 1024 * 1024)

        async def chunks(body: bytes) -> AsyncIterator[bytes]:  # sent without a length
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        url = f"http://testserver/chat/{chat}/messages"
        anonymous = {"HX-Request": "true"}

        def requests() -> dict[str, tuple[httpx.Request, httpx.AsyncClient | None]]:
            upload = {"files": ("big.bin", big, "application/octet-stream")}
            return {
                "a large form, anonymous": (
                    httpx.Request("POST", url, content=big, headers=anonymous),
                    None,
                ),
                "a large upload, anonymous": (
                    httpx.Request("POST", url, files=upload, headers=anonymous),
                    None,
                ),
                "a large body, no length said": (
                    httpx.Request("POST", url, content=chunks(big), headers=anonymous),
                    None,
                ),
                "no form token": (
                    httpx.Request("POST", url, data={"content": "x"}, headers=anonymous),
                    None,
                ),
                "another site": (
                    httpx.Request(
                        "POST",
                        url,
                        data={"content": "x"},
                        headers={**anonymous, "Origin": "https://evil.example"},
                    ),
                    alice,
                ),
                "someone else's chat": (
                    httpx.Request("POST", url, data={"content": "x"}, headers=anonymous),
                    mallory,
                ),
                "someone else's chat, a large upload": (
                    httpx.Request("POST", url, files=upload, headers=anonymous),
                    mallory,
                ),
            }

        async def status(app: LightChat, name: str) -> tuple[int, str]:
            request, client = requests()[name]
            if client is not None:  # a browser of the app's: its cookie and its form token
                cookie = client.cookies[COOKIE]
                request.headers["cookie"] = f"{COOKIE}={cookie}"
                request.headers[FORM_TOKEN_HEADER] = form_token(app, cookie) or ""
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as raw:
                response = await raw.send(request)
                return response.status_code, response.text

        before = int((await redis.info("memory"))["used_memory"])
        for name in requests():
            on_owner = await status(a, name)
            on_other = await status(b, name)
            assert on_other[0] == on_owner[0], (name, on_owner, on_other)
            assert on_other[0] in (403, 404, 413), (name, on_other)
        after = int((await redis.info("memory"))["used_memory"])
        assert forwarded == []
        assert after - before < 1024 * 1024, (before, after)
        assert b.chats is not None
        assert len(b.chats) == 1  # mallory's own chat only

        # What the owner takes is forwarded as before.
        posted = await client_for(b, alice.cookies).post(
            f"/chat/{chat}/messages", data={"content": "hi"}, headers=anonymous
        )
        assert posted.status_code == 204, posted.text
        assert forwarded == [f"/chat/{chat}/messages"]
    await redis.aclose()


def _element_asked(events: list[Any]) -> str | None:
    """The element an open ``AskElementMessage`` shows, in a log's events."""
    for event in events:
        if isinstance(event, MessageEvent) and event.message.ask is not None:
            return event.message.ask.element_id
    return None


async def test_a_jsx_elements_frame_and_answer_reach_the_chats_owner(
    prefix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "public" / "elements"
    folder.mkdir(parents=True)
    (folder / "Form.jsx").write_text("export default function Form() { return <p>form</p>; }")
    apps = tuple(LightChat(settings(prefix, app_dir=str(tmp_path))) for _ in range(2))
    answers: list[Any] = []
    for app in apps:

        @app.on_message
        async def ask(message: Message) -> None:
            form = CustomElement(name="Form", props={"title": "T"})
            answers.append(await AskElementMessage(content="Fill it in", element=form).send())

    a, b = apps
    async with running(a, b), client_for(a) as on_a:
        chat = await new_chat(on_a)
        htmx = {"HX-Request": "true"}
        await on_a.post(f"/chat/{chat}/messages", data={"content": "go"}, headers=htmx)
        owner_bus = a.build().state.services.bus
        events = await wait_for_log(owner_bus, chat, lambda ev: _element_asked(ev) is not None)
        element = _element_asked(events)
        async with client_for(b, on_a.cookies) as on_b:
            # B relays A's frame (with its policy) and A's answer to the submission.
            frame = await on_b.get(f"/chat/{chat}/elements/{element}/jsx")
            assert frame.status_code == 200, frame.text
            assert frame.headers["content-security-policy"].startswith(JSX_CSP)
            posted = await on_b.post(
                f"/chat/{chat}/elements/{element}/submit",
                data={"values": '{"title": "Done"}'},
                headers=htmx,
            )
            assert posted.status_code == 204, posted.text
            await wait_for_log(owner_bus, chat, lambda ev: RunEvent(False) in ev[1:])
            assert answers == [{"title": "Done", "submitted": True}]
            assert b.chats is not None
            assert len(b.chats) == 0
