"""MCP servers in the chat, over HTTP: the "MCP servers" dialog connects real servers (the
test toolbox, ``tests.mcp_servers``) over stdio, streamable HTTP and SSE through the real
connector; the app sees them as Chainlit shows them (``on_mcp_connect``,
``on_mcp_disconnect``, ``session.mcp_sessions``) and calls their tools in steps; users'
servers are remembered for their next chats; and each guard refuses what it must.

Apps run in-process (``serve``); messages are sent as a browser without JavaScript sends
them (a plain form post that returns once the answer is complete); the dialog is asked for
as htmx asks for it, or as a page.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession

import lightchat as cl
from lightchat import LightChat, Message, Settings, User
from lightchat.auth.sessions import owner_key
from lightchat.chat.mcp import (
    SIGN_IN_FOR_STDIO,
    HttpMcpConnection,
    McpConnection,
    SseMcpConnection,
    StdioMcpConnection,
)
from lightchat.chat.session import ChatSession
from lightchat.domain.events import MessageData, StepData
from lightchat.domain.mcp import McpServerSpec
from lightchat.errors import ConfigError
from tests.helpers import HTMX, Serve, Site, assert_inert, log_of, until
from tests.mcp_servers.serving import (
    ALLOW_LOOPBACK,
    PYTHON,
    TOOLBOX_SCRIPT,
    McpHttpServer,
    with_python_path,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SECRET = "test-secret-" + "m" * 40
PASSWORDS = {"ada": "correct horse", "bob": "battery staple"}
TOOLBOX_COMMAND = f"{PYTHON} {TOOLBOX_SCRIPT}"
"""The toolbox over stdio (a stdio server runs in the app's folder: by its path)."""
TOKEN = "s3cret-T0KEN-value"
"""A header's value: never shown, never stored in clear."""


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python`` (the stdio command's executable) resolves to the test interpreter."""
    monkeypatch.setenv("PATH", with_python_path())


@dataclass
class Seen:
    """What the app's MCP hooks were called with."""

    connected: list[tuple[McpConnection, Any]] = field(default_factory=list)
    disconnected: list[tuple[str, Any]] = field(default_factory=list)


def mcp_app(
    tmp_path: Path,
    *,
    sign_in: bool = True,
    history: bool = False,
    database: str = "",
    failing_hook: bool = False,
    **settings: Any,
) -> tuple[LightChat, Seen]:
    """An app that lists each server's tools in ``on_mcp_connect`` (and says so in the
    chat), and whose ``on_message`` calls a tool as Chainlit's docs do: ``SERVER TOOL
    {json arguments}``, or ``tools`` for the tools it knows."""
    settings.setdefault("mcp", True)
    settings.setdefault("mcp_allowed_executables", PYTHON)
    settings.setdefault("mcp_allowed_hosts", ALLOW_LOOPBACK)
    app = LightChat(
        settings=Settings(
            name="Bot",
            app_dir=str(tmp_path),
            history=history,
            database_url=database,
            auth_secret=SECRET if sign_in else "",
            **settings,
        )
    )
    seen = Seen()
    if sign_in:

        @app.password_auth_callback
        def check(username: str, password: str) -> User | None:
            return User(identifier=username) if PASSWORDS.get(username) == password else None

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        pass

    @app.on_mcp_connect
    async def connected(connection: McpConnection, session: ClientSession) -> None:
        seen.connected.append((connection, session))
        if failing_hook:
            raise RuntimeError("the app's hook failed")
        listed = await session.list_tools()
        known = cl.user_session.get("tools", {})
        known[connection.name] = sorted(tool.name for tool in listed.tools)
        cl.user_session.set("tools", known)
        await Message(content=f"Connected to {connection.name}").send()

    @app.on_mcp_disconnect
    async def disconnected(name: str, session: ClientSession) -> None:
        seen.disconnected.append((name, session))

    @cl.step(type="tool")
    async def call_tool(server: str, tool: str, arguments: dict[str, Any]) -> str:
        mcp_session, _ = cl.context.session.mcp_sessions[server]
        result = await mcp_session.call_tool(tool, arguments)
        return "\n".join(getattr(part, "text", "") for part in result.content)

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "tools":
            await Message(content=json.dumps(cl.user_session.get("tools", {}))).send()
            return
        server, tool, arguments = [*message.content.split(" ", 2), "{}"][:3]
        answer = await call_tool(server, tool, json.loads(arguments))
        await Message(content=f"Result: {answer}").send()

    return app, seen


async def signed_in(site: Site, name: str = "ada") -> httpx.AsyncClient:
    client = site.browser()
    await client.get("/login")
    response = await client.post("/login", data={"username": name, "password": PASSWORDS[name]})
    assert response.status_code == 303, response.text
    return client


def the_session(site: Site, url: str, name: str | None = "ada") -> ChatSession:
    """The running chat at ``url``: of the signed-in ``name``, else of the only browser."""
    if name is not None:
        return site.session(owner_key(User(identifier=name)), url)
    chat = site.services.chats.running(url.rsplit("/", 1)[1])
    assert chat is not None
    return chat


async def connect(client: httpx.AsyncClient, chat: str, /, **form: str) -> httpx.Response:
    """Post the dialog's form (of the chat at ``chat``) as htmx does."""
    return await client.post(f"{chat}/mcp", data=form, headers=HTMX)


async def ask(client: httpx.AsyncClient, url: str, text: str) -> None:
    posted = await client.post(f"{url}/messages", data={"content": text})
    assert posted.status_code == 303, posted.text


def answers(session: ChatSession) -> list[str]:
    return [
        item.content
        for item in session.transcript.items.values()
        if isinstance(item, MessageData) and item.type == "assistant_message"
    ]


def errors(session: ChatSession) -> list[str]:
    return [
        item.content
        for item in session.transcript.items.values()
        if isinstance(item, MessageData) and item.type == "error"
    ]


def tool_steps(session: ChatSession) -> list[StepData]:
    return [
        item
        for item in session.transcript.items.values()
        if isinstance(item, StepData) and item.type == "tool"
    ]


async def hooked(session: ChatSession, name: str) -> None:
    """Wait until the chat's ``on_mcp_connect`` for ``name`` has run."""
    await until(lambda: session.mcp.hooked(name) is not None, f"{name} to connect")
    done = session.mcp.hooked(name)
    assert done is not None
    await asyncio.wait_for(asyncio.shield(done), 10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- connecting, and what the app sees ------------------------------------------------------


async def test_a_user_connects_a_stdio_server_and_the_app_calls_its_tool_in_a_step(
    tmp_path: Path, serve: Serve
) -> None:
    app, seen = mcp_app(tmp_path)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        page = await ada.get(url)
        assert 'class="lc-new lc-mcp-button"' in page.text  # "MCP servers" in the header

        dialog = await ada.get(f"{url}/mcp", headers=HTMX)
        assert dialog.status_code == 200
        assert dialog.text.startswith('<dialog id="lc-mcp"')
        assert "No MCP server is connected to this chat." in dialog.text
        assert 'name="command"' in dialog.text
        assert 'name="url"' in dialog.text

        response = await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)
        assert response.status_code == 200, response.text
        assert '<h3 class="lc-mcp-name">toolbox</h3>' in response.text
        assert '<strong class="lc-mcp-tool">add</strong>' in response.text
        assert "Add two whole numbers." in response.text
        assert '<span class="lc-mcp-status">Connected</span>' in response.text

        session = the_session(site, url)
        await hooked(session, "toolbox")
        connection, client_session = seen.connected[0]
        assert connection == StdioMcpConnection(
            name="toolbox", command=PYTHON, args=[str(TOOLBOX_SCRIPT)]
        )
        assert connection.clientType == "stdio"
        assert isinstance(client_session, ClientSession)
        assert session.mcp_sessions["toolbox"][0] is client_session
        assert "Connected to toolbox" in answers(session)  # the hook ran in the chat

        await ask(ada, url, 'toolbox add {"a": 2, "b": 3}')
        step = tool_steps(session)[-1]
        assert (step.name, step.status) == ("call_tool", "done")
        assert '"tool": "add"' in step.input
        assert '"a": 2' in step.input
        assert step.output == "5"
        assert answers(session)[-1] == "Result: 5"


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_a_server_over_http_lists_its_tools_and_its_headers_stay_secret(
    tmp_path: Path,
    serve: Serve,
    transport: str,
    mcp_http: McpHttpServer,
    mcp_sse: McpHttpServer,
) -> None:
    server = mcp_http if transport == "streamable-http" else mcp_sse
    app, seen = mcp_app(tmp_path)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        response = await connect(
            ada,
            url,
            name="remote",
            url=server.url,
            transport=transport,
            headers=f"Authorization: Bearer {TOKEN}\n\nX-Team: blue",
        )
        assert response.status_code == 200, response.text
        assert '<strong class="lc-mcp-tool">echo</strong>' in response.text
        assert "Sent with the headers Authorization, X-Team" in response.text
        session = the_session(site, url)
        await hooked(session, "remote")
        connection, _ = seen.connected[0]
        shape = HttpMcpConnection if transport == "streamable-http" else SseMcpConnection
        assert connection == shape(
            name="remote",
            url=server.url,
            headers={"Authorization": f"Bearer {TOKEN}", "X-Team": "blue"},
        )
        assert connection.clientType == transport

        await ask(ada, url, 'remote echo {"text": "hello over HTTP"}')
        assert answers(session)[-1] == "Result: hello over HTTP"
        for page in (
            await ada.get(f"{url}/mcp"),
            await ada.get(f"{url}/mcp", headers=HTMX),
            await ada.get(url),
        ):
            assert TOKEN not in page.text


async def test_disconnect_runs_on_mcp_disconnect_then_closes_and_forgets_the_server(
    tmp_path: Path, serve: Serve
) -> None:
    app, seen = mcp_app(tmp_path)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        assert (await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)).status_code == 200
        session = the_session(site, url)
        await hooked(session, "toolbox")
        await ask(ada, url, "toolbox pid")
        pid = int(answers(session)[-1].removeprefix("Result: "))
        client_session = session.mcp_sessions["toolbox"][0]

        # Without JavaScript: a form post, and back to the dialog's page.
        gone = await ada.post(f"{url}/mcp/disconnect", data={"name": "toolbox"})
        assert gone.status_code == 303
        assert gone.headers["location"] == f"{url}/mcp"
        await until(lambda: seen.disconnected != [], "on_mcp_disconnect")
        assert seen.disconnected == [("toolbox", client_session)]
        assert session.mcp_sessions == {}
        await until(lambda: not alive(pid), "the stdio server's process to end")
        page = await ada.get(f"{url}/mcp")
        assert "No MCP server is connected to this chat." in page.text

        again = await ada.post(f"{url}/mcp/disconnect", data={"name": "toolbox"}, headers=HTMX)
        assert again.status_code == 404
        assert "This chat has no MCP server named “toolbox”." in again.text

        # Forgotten: the user's next chat connects nothing.
        other = await site.new_chat(ada)
        assert the_session(site, other).mcp.list() == []


async def test_the_stdio_server_ends_with_the_chat(tmp_path: Path, serve: Serve) -> None:
    app, seen = mcp_app(tmp_path)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)
        session = the_session(site, url)
        await hooked(session, "toolbox")
        await ask(ada, url, "toolbox pid")
        pid = int(answers(session)[-1].removeprefix("Result: "))
        assert alive(pid)

        assert await site.services.chats.end(session.id, session.owner)  # the chat ends
        assert [name for name, _ in seen.disconnected] == ["toolbox"]
        await until(lambda: not alive(pid), "the stdio server's process to end")


async def test_every_connection_closes_when_the_server_stops(
    tmp_path: Path, serve: Serve, mcp_http: McpHttpServer
) -> None:
    app, seen = mcp_app(tmp_path)
    async with serve(app, lifespan=True) as site:
        ada = await signed_in(site)
        first, second = await site.new_chat(ada), await site.new_chat(ada)
        await connect(ada, first, name="toolbox", command=TOOLBOX_COMMAND)
        await connect(ada, second, name="remote", url=mcp_http.url)
        for url, name in ((first, "toolbox"), (second, "remote")):
            await hooked(the_session(site, url), name)
        await ask(ada, first, "toolbox pid")
        pid = int(answers(the_session(site, first))[-1].removeprefix("Result: "))
    # The lifespan ended (Chats.close_all): every chat ended, with its connections.
    assert sorted(name for name, _ in seen.disconnected) == ["remote", "toolbox"]
    await until(lambda: not alive(pid), "the stdio server's process to end")


async def test_a_server_that_dies_is_shown_as_no_longer_connected(
    tmp_path: Path, serve: Serve
) -> None:
    app, seen = mcp_app(tmp_path, mcp_timeout_s=5)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)
        session = the_session(site, url)
        await hooked(session, "toolbox")
        client_session = session.mcp_sessions["toolbox"][0]
        await ask(ada, url, "toolbox exit")  # the server's process ends at once
        await until(lambda: session.mcp.list()[0].status == "failed", "the death to be seen")
        (view,) = session.mcp.list()
        assert view.message
        assert view.tools == ()
        assert session.mcp_sessions == {}
        await until(lambda: seen.disconnected != [], "on_mcp_disconnect")
        assert seen.disconnected == [("toolbox", client_session)]
        assert any(
            text.startswith("The MCP server “toolbox” is no longer connected: ")
            for text in errors(session)
        )
        dialog = await ada.get(f"{url}/mcp")
        assert '<li class="lc-mcp-server" data-status="failed">' in dialog.text
        # The chat goes on.
        await ask(ada, url, "tools")
        assert "toolbox" in json.loads(answers(session)[-1])


async def test_an_error_in_on_mcp_connect_is_shown_and_the_connection_stays(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = mcp_app(tmp_path, failing_hook=True)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        assert (await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)).status_code == 200
        session = the_session(site, url)
        await hooked(session, "toolbox")
        assert errors(session) == ["RuntimeError: the app's hook failed"]
        await ask(ada, url, 'toolbox add {"a": 1, "b": 1}')
        assert answers(session)[-1] == "Result: 2"


# -- remembered, and the app's own ------------------------------------------------------------


async def test_a_users_server_is_remembered_in_their_next_chat_and_when_a_chat_is_reopened(
    tmp_path: Path, serve: Serve, database: str, mcp_http: McpHttpServer
) -> None:
    app, seen = mcp_app(tmp_path, history=True, database=database)
    async with serve(app, lifespan=True) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        headers = f"Authorization: Bearer {TOKEN}"
        await connect(ada, url, name="remote", url=mcp_http.url, headers=headers)
        await connect(ada, url, name="toolbox", command=f"{TOOLBOX_COMMAND} --flag")
        await ask(ada, url, 'toolbox add {"a": 20, "b": 22}')
        assert answers(the_session(site, url))[-1] == "Result: 42"

        # Her next chat connects both in the background; her first message waits for them
        # and sees what on_mcp_connect kept.
        following = await site.new_chat(ada)
        await ask(ada, following, "tools")
        session = the_session(site, following)
        known = json.loads(answers(session)[-1])
        assert set(known) == {"remote", "toolbox"}
        assert "add" in known["toolbox"]
        stdio = next(c for c, _ in seen.connected[2:] if c.name == "toolbox")
        assert stdio == StdioMcpConnection(
            name="toolbox", command=PYTHON, args=[str(TOOLBOX_SCRIPT), "--flag"]
        )
        remote = next(c for c, _ in seen.connected[2:] if c.name == "remote")
        assert isinstance(remote, HttpMcpConnection)
        assert remote.headers == {"Authorization": f"Bearer {TOKEN}"}

        # Bob's chats know nothing of hers.
        bob = await signed_in(site, "bob")
        bobs = await site.new_chat(bob)
        await ask(bob, bobs, "tools")
        assert answers(the_session(site, bobs, "bob"))[-1] == "{}"

        # Her first chat ends, and she reopens it from the history: connected again.
        first = the_session(site, url)
        assert await site.services.chats.end(first.id, first.owner)
        reopened = await ada.get(url)
        assert reopened.status_code == 200
        await ask(ada, url, 'toolbox add {"a": 1, "b": 2}')
        assert answers(the_session(site, url))[-1] == "Result: 3"

        # What the database keeps names no command, URL or header in clear.
        assert site.history.store is not None
        stored = await site.history.store.list_mcp_servers(owner_key(User(identifier="ada")))  # type: ignore[attr-defined]
        assert sorted((s.name, s.kind) for s in stored) == [
            ("remote", "streamable-http"),
            ("toolbox", "stdio"),
        ]
        for secret in (TOKEN, "toolbox.py", mcp_http.url, "Authorization"):
            assert all(secret not in s.sealed for s in stored)
    if not database:
        raw = (tmp_path / ".lightchat" / "chat.db").read_bytes()
        assert TOKEN.encode() not in raw
        assert b"toolbox.py" not in raw
        with sqlite3.connect(tmp_path / ".lightchat" / "chat.db") as db:
            assert db.execute("SELECT count(*) FROM lightchat_mcp_servers").fetchone() == (2,)


async def test_without_history_the_worker_remembers_a_users_servers(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = mcp_app(tmp_path)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)
        following = await site.new_chat(ada)
        await ask(ada, following, 'toolbox add {"a": 3, "b": 4}')
        assert answers(the_session(site, following))[-1] == "Result: 7"


async def test_the_apps_own_servers_connect_in_every_chat(
    tmp_path: Path, serve: Serve, mcp_sse: McpHttpServer
) -> None:
    servers = (
        McpServerSpec(name="tools", kind="stdio", command=TOOLBOX_COMMAND, origin="app"),
        McpServerSpec(name="events", kind="sse", url=mcp_sse.url, origin="app"),
    )
    # The app's servers are trusted as its code is: no allow-list, loopback allowed.
    app, seen = mcp_app(
        tmp_path,
        sign_in=False,
        mcp_servers=servers,
        mcp_allowed_executables="",
        mcp_allowed_hosts="",
    )
    async with serve(app) as site:
        browser = site.browser()
        for _ in range(2):
            url = await site.new_chat(browser)
            await ask(browser, url, 'tools add {"a": 5, "b": 5}')  # waits for the connections
            session = the_session(site, url, None)
            assert answers(session)[-1] == "Result: 10"
            views = {view.name: view for view in session.mcp.list()}
            assert {name: view.status for name, view in views.items()} == {
                "tools": "connected",
                "events": "connected",
            }
            dialog = await browser.get(f"{url}/mcp", headers=HTMX)
            assert dialog.text.count("added by the app") == 2
        assert [c.name for c, _ in seen.connected].count("tools") == 2


async def test_a_remembered_server_that_fails_is_shown_and_the_chat_goes_on(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = mcp_app(tmp_path)
    with McpHttpServer("streamable-http") as server:
        async with serve(app) as site:
            ada = await signed_in(site)
            url = await site.new_chat(ada)
            assert (await connect(ada, url, name="remote", url=server.url)).status_code == 200
            server.stop()  # the server goes away
            following = await site.new_chat(ada)
            await ask(ada, following, "tools")
            session = the_session(site, following)
            assert answers(session)[-1] == "{}"
            (view,) = session.mcp.list()
            assert (view.name, view.status) == ("remote", "failed")
            assert view.message
            (notice,) = errors(session)
            assert notice.startswith("Could not connect the MCP server “remote”: ")
            dialog = await ada.get(f"{following}/mcp")
            assert '<li class="lc-mcp-server" data-status="failed">' in dialog.text
            assert "Not connected" in dialog.text
            # "Disconnect" forgets it.
            await ada.post(f"{following}/mcp/disconnect", data={"name": "remote"})
            assert session.mcp.list() == []
            assert the_session(site, await site.new_chat(ada)).mcp.list() == []


# -- who may connect, and what is refused ---------------------------------------------------


async def test_only_the_chats_signed_in_owner_with_the_form_token_connects(
    tmp_path: Path, serve: Serve
) -> None:
    app, seen = mcp_app(tmp_path)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        form = {"name": "toolbox", "command": TOOLBOX_COMMAND}

        bob = await signed_in(site, "bob")
        assert (await bob.post(f"{url}/mcp", data=form)).status_code == 404
        assert (await bob.get(f"{url}/mcp")).status_code == 404
        assert (await bob.post(f"{url}/mcp/disconnect", data={"name": "x"})).status_code == 404

        stranger = site.browser()
        await stranger.get("/login")  # a browser with its form token, but not signed in
        refused = await stranger.post(f"{url}/mcp", data=form)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/login")

        tokenless = site.browser(form_token=False)
        tokenless.cookies.update(ada.cookies)
        assert (await tokenless.post(f"{url}/mcp", data=form)).status_code == 403

        session = the_session(site, url)
        assert session.mcp.list() == []
        assert seen.connected == []


async def test_stdio_needs_a_signed_in_user_unless_the_app_allows_it(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = mcp_app(tmp_path, sign_in=False)
    async with serve(app) as site:
        browser = site.browser()
        url = await site.new_chat(browser)
        dialog = await browser.get(f"{url}/mcp", headers=HTMX)
        assert 'name="command"' not in dialog.text  # not offered
        assert 'name="url"' in dialog.text
        refused = await connect(browser, url, name="toolbox", command=TOOLBOX_COMMAND)
        assert refused.status_code == 400
        assert f'<p role="alert">{SIGN_IN_FOR_STDIO}</p>' in refused.text
        assert the_session(site, url, None).mcp.list() == []

    app, _ = mcp_app(tmp_path, sign_in=False, mcp_stdio_anonymous=True)
    async with serve(app) as site:
        browser = site.browser()
        url = await site.new_chat(browser)
        assert 'name="command"' in (await browser.get(f"{url}/mcp")).text
        allowed = await connect(browser, url, name="toolbox", command=TOOLBOX_COMMAND)
        assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"command": "sh -c 'touch {marker}'"}, "sh"),
        ({"command": f"{sys.executable} {TOOLBOX_SCRIPT}"}, ""),
        ({"url": "http://127.0.0.1:9/mcp", "allowed_hosts": ""}, "127.0.0.1"),
        ({"url": "file:///etc/passwd"}, "http"),
        ({"command": TOOLBOX_COMMAND, "url": "http://127.0.0.1:9/mcp"}, "not both"),
        ({}, "command, or its URL"),
        ({"url": "http://127.0.0.1:9/mcp", "headers": "no colon here"}, "Name: value"),
        ({"name": "", "command": TOOLBOX_COMMAND}, "Give the server a name."),
        ({"name": "n" * 65, "command": TOOLBOX_COMMAND}, "at most 64 characters"),
        ({"name": "taken", "command": TOOLBOX_COMMAND}, "already has a server named “taken”"),
    ],
)
async def test_a_refused_server_is_a_400_with_why_and_nothing_connects(
    tmp_path: Path, serve: Serve, mcp_http: McpHttpServer, form: dict[str, str], message: str
) -> None:
    marker = tmp_path / "started"
    form = {key: value.replace("{marker}", str(marker)) for key, value in form.items()}
    allowed_hosts = form.pop("allowed_hosts", ALLOW_LOOPBACK)
    app, seen = mcp_app(tmp_path, mcp_allowed_hosts=allowed_hosts)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        session = the_session(site, url)
        before = 0
        if form.get("name") == "taken":
            await connect(ada, url, name="taken", url=mcp_http.url)
            before = 1
        refused = await connect(ada, url, **{"name": "server", **form})
        assert refused.status_code == 400, refused.text
        alert = refused.text.split('<p role="alert">', 1)[1].split("</p>", 1)[0]
        assert message in alert
        assert len(session.mcp.list()) == before
        assert len(seen.connected) <= before
        # Without JavaScript: the page, with the alert and what was typed (never headers).
        page = await ada.post(f"{url}/mcp", data={"name": "server", **form})
        assert page.status_code == 400
        assert '<p role="alert">' in page.text
        assert "<!DOCTYPE html>" in page.text[:100].upper() or "<html" in page.text[:300]
    assert not marker.exists()  # a refused command never ran


async def test_kinds_turned_off_are_neither_offered_nor_connected(
    tmp_path: Path, serve: Serve, mcp_sse: McpHttpServer
) -> None:
    app, _ = mcp_app(tmp_path, mcp_sse=False, mcp_stdio=False)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        dialog = await ada.get(f"{url}/mcp", headers=HTMX)
        assert 'name="command"' not in dialog.text
        assert 'value="sse"' not in dialog.text
        assert '<input type="hidden" name="transport" value="streamable-http">' in dialog.text
        for form in (
            {"url": mcp_sse.url, "transport": "sse"},
            {"command": TOOLBOX_COMMAND},
        ):
            refused = await connect(ada, url, name="server", **form)
            assert refused.status_code == 400, refused.text
        assert the_session(site, url).mcp.list() == []


async def test_with_mcp_off_there_is_no_button_and_no_dialog(tmp_path: Path, serve: Serve) -> None:
    app, _ = mcp_app(tmp_path, mcp=False)
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        assert "lc-mcp-button" not in (await ada.get(url)).text
        assert (await ada.get(f"{url}/mcp")).status_code == 404
        form = {"name": "toolbox", "command": TOOLBOX_COMMAND}
        assert (await ada.post(f"{url}/mcp", data=form)).status_code == 404
        assert the_session(site, url).mcp.list() == []


def test_mcp_on_without_the_sdk_refuses_to_start(tmp_path: Path) -> None:
    def missing(settings: Settings) -> Any:
        raise ImportError("No module named 'mcp'")

    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), mcp=True))
    original = LightChat.mcp_connector_factory
    LightChat.mcp_connector_factory = missing
    try:
        with pytest.raises(ConfigError, match=r'pip install "lightchat\[mcp\]"'):
            app.build()
    finally:
        LightChat.mcp_connector_factory = original


# -- untrusted text -------------------------------------------------------------------------

MARKED_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("marked", log_level="WARNING")


def shout() -> str:
    return "<img src=x onerror=alert(1)> [click](javascript:alert(3))"


server.add_tool(
    shout,
    description='<img src=x onerror=alert(1)><a href="javascript:alert(2)">docs</a>',
)
server.run()
"""


async def test_what_servers_and_users_write_is_shown_as_text(tmp_path: Path, serve: Serve) -> None:
    script = tmp_path / "marked.py"
    script.write_text(MARKED_SERVER)
    app, _ = mcp_app(tmp_path, edit=False)  # no edit forms in the log: it is all inert
    async with serve(app) as site:
        ada = await signed_in(site)
        url = await site.new_chat(ada)
        name = "<b>bold</b>"
        response = await connect(ada, url, name=name, command=f"{PYTHON} {script}")
        assert response.status_code == 200, response.text
        assert "<b>bold</b>" not in response.text
        assert "&lt;b&gt;bold&lt;/b&gt;" in response.text
        assert "&lt;img src=x onerror=alert(1)&gt;&lt;a href=&#34;javascript:alert(2)&#34;&gt;" in (
            response.text
        )
        assert "<img src=x" not in response.text
        assert 'href="javascript:' not in response.text

        await connect(ada, url, name="toolbox", command=TOOLBOX_COMMAND)
        await ask(ada, url, "toolbox untrusted")
        await ask(ada, url, f"{name} shout")
        page = await ada.get(url)
        log = log_of(page.text)
        assert_inert(log)
        assert "&lt;img src=x onerror=alert(1)&gt;" in log
