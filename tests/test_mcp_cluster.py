"""MCP connections with several workers, against a real Redis and PostgreSQL: a chat's
connections live on the worker that owns it (a request to another worker is forwarded
there), and a worker taking the chat over from a dead one connects them again (the
user's servers are remembered in the shared database, or, without history, in Redis,
sealed), or tells the user which it could not.

Two ``LightChat`` apps in one process that share a Redis and a database stand for two
workers, as in tests/test_cluster.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.chat.mcp_memory import McpMemory, Unreadable
from lightchat.cluster import Cluster
from lightchat.domain.events import MessageData
from lightchat.domain.mcp import McpServerSpec
from lightchat.store.memory import MemoryStore
from tests.helpers import HTMX, REDIS_URL, WAIT_S, contents, wait_for_log, with_form_token
from tests.mcp_servers.serving import (
    ALLOW_LOOPBACK,
    PYTHON,
    TOOLBOX_SCRIPT,
    McpHttpServer,
    with_python_path,
)
from tests.pg import postgres_database
from tests.test_cluster import running

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60), pytest.mark.services]

SECRET = "mcp-cluster-secret-" + "y" * 24
TOOLBOX_COMMAND = f"{PYTHON} {TOOLBOX_SCRIPT}"


def worker(
    prefix: str, database_url: str | None, app_dir: Path, layer: MemoryStore | None = None
) -> LightChat:
    """A worker (its own folder: stdio servers run there), with history in the database
    at ``database_url``, or in the app's data layer ``layer``, or without (neither):
    "SERVER TOOL" calls a tool of the chat's server and answers with what it said, as
    Chainlit's docs call one."""
    app_dir.mkdir()
    app = LightChat(
        Settings(
            name="Cluster",
            app_dir=str(app_dir),
            secret=SECRET,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            worker_ttl_s=1,
            history=database_url is not None or layer is not None,
            database_url=database_url or "",
            shutdown_grace_s=0,
            mcp=True,
            mcp_allowed_executables=PYTHON,
            mcp_allowed_hosts=ALLOW_LOOPBACK,
            mcp_stdio_anonymous=True,
            mcp_timeout_s=5,
        )
    )

    if layer is not None:
        app.data_layer(lambda: layer)

    @app.on_message
    async def call(message: Message) -> None:
        server, tool = message.content.split(" ", 1)
        mcp_session, _ = cl.context.session.mcp_sessions[server]
        result = await mcp_session.call_tool(tool, {})
        await Message(content=f"{tool}: {result.content[0].text}").send()

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        pass

    return app


def cluster_of(app: LightChat) -> Cluster:
    cluster = app.build().state.services.cluster
    assert isinstance(cluster, Cluster)
    return cluster


def client_for(app: LightChat, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies=cookies
    )
    return with_form_token(client, app)


async def answer_to(app: LightChat, client: httpx.AsyncClient, chat: str, text: str) -> str:
    """Ask through ``client`` (as htmx does); the new answer, read from ``app``'s bus."""
    tool = text.split(" ", 1)[1]
    bus = app.build().state.services.bus

    def answers(events: list[Any]) -> list[str]:
        return [c for c in contents(events) if c.startswith(f"{tool}: ")]

    before = len(answers([entry.event for entry in await bus.read(chat)]))
    posted = await client.post(f"/chat/{chat}/messages", data={"content": text}, headers=HTMX)
    assert posted.status_code == 204, posted.text
    events = await wait_for_log(
        bus, chat, lambda events: len(answers(events)) > before, timeout=WAIT_S * 3
    )
    return answers(events)[-1]


async def test_a_chats_servers_live_on_its_owner_and_a_takeover_connects_them_again(
    prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", with_python_path())
    with postgres_database() as database_url, McpHttpServer() as remote:
        a, b = (worker(prefix, database_url, tmp_path / name) for name in "ab")
        async with running(a, b), client_for(a) as on_a:
            response = await on_a.get("/")
            chat = response.headers["location"].rsplit("/", 1)[1]
            async with client_for(b, on_a.cookies) as on_b:
                # Connected through B: the request is forwarded to A, which owns the chat.
                for form in (
                    {"name": "toolbox", "command": TOOLBOX_COMMAND},
                    {"name": "remote", "url": remote.url},
                ):
                    connected = await on_b.post(f"/chat/{chat}/mcp", data=form, headers=HTMX)
                    assert connected.status_code == 200, connected.text
                assert a.chats is not None
                assert b.chats is not None
                assert len(b.chats) == 0
                on_owner = a.chats.running(chat)
                assert on_owner is not None
                assert sorted(on_owner.mcp_sessions) == ["remote", "toolbox"]
                dialog = await on_b.get(f"/chat/{chat}/mcp", headers=HTMX)
                assert dialog.text.count('data-status="connected"') == 2
                first_pid = await answer_to(a, on_b, chat, "toolbox pid")

                services = a.build().state.services
                await services.bus.flush()
                assert services.history is not None
                await services.history.flush()
                remote.stop()  # this one cannot be reached any more
                await cluster_of(a).aclose()  # A dies: its heartbeat stops

                # B takes the chat over with the next message: it connects the chat's
                # servers again, the message waiting for them, and says which failed.
                second_pid = await answer_to(b, on_b, chat, "toolbox pid")
                assert second_pid != first_pid
                assert len(b.chats) == 1
                taken = b.chats.running(chat)
                assert taken is not None
                assert list(taken.mcp_sessions) == ["toolbox"]
                views = {view.name: view.status for view in taken.mcp.list()}
                assert views == {"toolbox": "connected", "remote": "failed"}
                notices = [
                    item.content
                    for item in taken.transcript.items.values()
                    if isinstance(item, MessageData) and item.type == "error"
                ]
                assert any(
                    text.startswith("Could not connect the MCP server “remote”: ")
                    for text in notices
                )
                page = await on_b.get(f"/chat/{chat}/mcp")
                assert 'data-status="failed"' in page.text
                assert '<h3 class="lc-mcp-name">remote</h3>' in page.text


class KeepsNoMcpServers(MemoryStore):
    """A data layer, shared by the workers, that keeps no MCP servers (as Chainlit's own
    data layers keep none): the history cannot remember them."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("list_mcp_servers", "save_mcp_server", "delete_mcp_server"):
            raise AttributeError(name)
        return super().__getattribute__(name)


TOKEN = "Bearer mcp-cluster-token-" + "z" * 16


async def servers_added_through_b(
    prefix: str, a: LightChat, on_b: httpx.AsyncClient, chat: str, remote: McpHttpServer
) -> str:
    """Connect the toolbox (stdio) and ``remote`` (with a secret header) to the chat
    through B, which forwards to A, its owner, and check that Redis keeps them sealed.
    Returns the key of the chat's owner."""
    import redis.asyncio as aioredis

    for form in (
        {"name": "toolbox", "command": TOOLBOX_COMMAND},
        {"name": "remote", "url": remote.url, "headers": f"Authorization: {TOKEN}"},
    ):
        connected = await on_b.post(f"/chat/{chat}/mcp", data=form, headers=HTMX)
        assert connected.status_code == 200, connected.text
    assert a.chats is not None
    on_owner = a.chats.running(chat)
    assert on_owner is not None
    assert sorted(on_owner.mcp_sessions) == ["remote", "toolbox"]
    owner = on_owner.owner

    # In Redis, under the cluster's prefix, sealed: no command, URL or header in clear.
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        key = f"{prefix}mcp:{owner}"
        kept = await client.hgetall(key)
        ttl_ms = await client.pttl(key)
    finally:
        await client.aclose()
    assert sorted(kept) == ["remote", "toolbox"]
    assert 0 < ttl_ms <= cluster_of(a).keep_ms
    for value in kept.values():
        for clear in (TOOLBOX_SCRIPT.name, PYTHON, "127.0.0.1", "Authorization", TOKEN):
            assert clear not in value
    return owner


async def recalled_by(app: LightChat, owner: str) -> list[tuple[str, str | None]]:
    """The servers ``app``'s worker recalls for ``owner``: (name, command)."""
    assert app.chats is not None
    assert app.chats.mcp is not None
    found = await app.chats.mcp.memory.recall(owner)
    return [(server.name, getattr(server, "command", None)) for server in found]


def error_notices(session: Any) -> list[str]:
    return [
        item.content
        for item in session.transcript.items.values()
        if isinstance(item, MessageData) and item.type == "error"
    ]


async def test_a_takeover_connects_again_the_servers_redis_remembers_for_a_data_layer_without(
    prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", with_python_path())
    layer = KeepsNoMcpServers()
    with McpHttpServer() as remote:
        a, b = (worker(prefix, None, tmp_path / name, layer) for name in "ab")
        async with running(a, b), client_for(a) as on_a:
            response = await on_a.get("/")
            chat = response.headers["location"].rsplit("/", 1)[1]
            async with client_for(b, on_a.cookies) as on_b:
                owner = await servers_added_through_b(prefix, a, on_b, chat, remote)
                # Every worker finds them (B's memory of its own holds none).
                assert await recalled_by(b, owner) == [
                    ("toolbox", TOOLBOX_COMMAND),
                    ("remote", None),
                ]
                first_pid = await answer_to(a, on_b, chat, "toolbox pid")

                services = a.build().state.services
                await services.bus.flush()
                assert a.history is not None
                await a.history.flush()
                remote.stop()  # this one cannot be reached any more
                await cluster_of(a).aclose()  # A dies: its heartbeat stops

                # B takes the chat over with the next message: it connects the servers
                # Redis remembers again, and says which it could not.
                second_pid = await answer_to(b, on_b, chat, "toolbox pid")
                assert second_pid != first_pid
                assert b.chats is not None
                taken = b.chats.running(chat)
                assert taken is not None
                assert list(taken.mcp_sessions) == ["toolbox"]
                views = {view.name: view.status for view in taken.mcp.list()}
                assert views == {"toolbox": "connected", "remote": "failed"}
                assert any(
                    text.startswith("Could not connect the MCP server “remote”: ")
                    for text in error_notices(taken)
                )

                # "Disconnect" on B forgets it in Redis too.
                gone = await on_b.post(f"/chat/{chat}/mcp/disconnect", data={"name": "remote"})
                assert gone.status_code == 303, gone.text
                assert await recalled_by(a, owner) == [("toolbox", TOOLBOX_COMMAND)]


async def test_without_history_the_servers_redis_remembers_connect_on_another_worker(
    prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", with_python_path())
    with McpHttpServer() as remote:
        a, b = (worker(prefix, None, tmp_path / name) for name in "ab")
        async with running(a, b), client_for(a) as on_a:
            response = await on_a.get("/")
            chat = response.headers["location"].rsplit("/", 1)[1]
            async with client_for(b, on_a.cookies) as on_b:
                owner = await servers_added_through_b(prefix, a, on_b, chat, remote)
                assert await recalled_by(b, owner) == [
                    ("toolbox", TOOLBOX_COMMAND),
                    ("remote", None),
                ]
                first_pid = await answer_to(a, on_b, chat, "toolbox pid")
                await a.build().state.services.bus.flush()
                remote.stop()
                await cluster_of(a).aclose()  # A dies: its heartbeat stops

                # Without history the chat B takes over is read-only (no thread to resume
                # it from); the user's next chat, on B, connects their servers again.
                read_only = await on_b.post(
                    f"/chat/{chat}/messages", data={"content": "toolbox pid"}, headers=HTMX
                )
                assert read_only.status_code == 409
                assert b.chats is not None
                response = await on_b.get("/")
                fresh = response.headers["location"].rsplit("/", 1)[1]
                session = b.chats.running(fresh)
                assert session is not None
                second_pid = await answer_to(b, on_b, fresh, "toolbox pid")
                assert second_pid.startswith("pid: ")
                assert second_pid != first_pid
                assert list(session.mcp_sessions) == ["toolbox"]
                views = {view.name: view.status for view in session.mcp.list()}
                assert views == {"toolbox": "connected", "remote": "failed"}
                assert any(
                    text.startswith("Could not connect the MCP server “remote”: ")
                    for text in error_notices(session)
                )


async def test_servers_in_redis_keep_their_order_and_one_changed_by_hand_does_not_open(
    prefix: str,
) -> None:
    import redis.asyncio as aioredis

    cluster = Cluster(Settings(name="Cluster", redis_url=REDIS_URL), REDIS_URL, prefix=prefix)
    memory = McpMemory(None, lambda: SECRET, cluster)
    try:
        first = McpServerSpec(name="first", kind="stdio", command=TOOLBOX_COMMAND)
        second = McpServerSpec(name="second", kind="sse", url="https://example.org/sse")
        await memory.remember("alice", first)
        await memory.remember("alice", second)
        # Replaced, the first keeps its place; another owner's are not alice's.
        await memory.remember("alice", replace(first, command=f"{TOOLBOX_COMMAND} --again"))
        await memory.remember("bob", second)
        assert [(s.name, getattr(s, "command", None)) for s in await memory.recall("alice")] == [
            ("first", f"{TOOLBOX_COMMAND} --again"),
            ("second", None),
        ]

        client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            key = f"{prefix}mcp:alice"
            raw = await client.hget(key, "second")
            assert isinstance(raw, str)
            blob = json.loads(raw)
            blob["sealed"] = blob["sealed"][:-4] + "AAAA"
            await client.hset(key, "second", json.dumps(blob))
        finally:
            await client.aclose()
        recalled = await memory.recall("alice")
        assert isinstance(recalled[0], McpServerSpec)
        assert isinstance(recalled[1], Unreadable)
        assert (recalled[1].name, recalled[1].kind) == ("second", "sse")
        # Under another secret, none opens.
        stranger = McpMemory(None, lambda: "another-secret-" + "x" * 24, cluster)
        assert all(isinstance(found, Unreadable) for found in await stranger.recall("alice"))

        await memory.forget("alice", "second")
        assert [found.name for found in await memory.recall("alice")] == ["first"]
        assert [found.name for found in await memory.recall("bob")] == ["second"]
    finally:
        await cluster.aclose()
