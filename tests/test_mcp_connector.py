"""lightchat.integrations.mcp: MCP connections through the official SDK, to the test
server (``tests.mcp_servers.toolbox``) over stdio, streamable HTTP and SSE, and each
guard: what a user's stdio command may run (the allow-list, no shell, arguments kept as
they are, a limited environment), which addresses a URL may reach (also on the
connections the SDK makes later), and the time and size limits."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import MCPError
from mcp import types as mcp_types

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.domain.events import StepData
from lightchat.domain.mcp import McpConnector as ConnectorProtocol
from lightchat.domain.mcp import McpLink as LinkProtocol
from lightchat.domain.mcp import McpRefused, McpServerSpec
from lightchat.integrations.mcp import (
    AddressRule,
    McpConnector,
    McpLink,
    McpRefusedTransport,
    _client_factory,
    _Guard,
    call_tool,
    result_text,
)
from tests.helpers import Serve
from tests.mcp_servers.serving import (
    ALLOW_LOOPBACK,
    PYTHON,
    ROOT,
    TOOLBOX_COMMAND,
    TOOLBOX_SCRIPT,
    McpHttpServer,
    with_python_path,
)
from tests.mcp_servers.toolbox import UNTRUSTED

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python`` (the name the commands use) is the test interpreter."""
    monkeypatch.setenv("PATH", with_python_path())


def allowing(**values: Any) -> Settings:
    """MCP on, the test interpreter allowed, loopback reachable, short limits."""
    base: dict[str, Any] = {
        "mcp": True,
        "mcp_allowed_executables": PYTHON,
        "mcp_allowed_hosts": ALLOW_LOOPBACK,
        "mcp_timeout_s": 10,
        "app_dir": str(ROOT),
    }
    return Settings(**(base | values))


def stdio(command: str = TOOLBOX_COMMAND, *, origin: str = "user") -> McpServerSpec:
    return McpServerSpec("toolbox", "stdio", command=command, origin=origin)  # type: ignore[arg-type]


def web(url: str, kind: str = "streamable-http", **headers: str) -> McpServerSpec:
    return McpServerSpec("web", kind, url=url, headers=headers)  # type: ignore[arg-type]


@asynccontextmanager
async def opened(spec: McpServerSpec, settings: Settings | None = None) -> AsyncIterator[McpLink]:
    link = await McpConnector(settings or allowing()).open(spec)
    try:
        yield link
    finally:
        await link.close()


def reaped(pid: int) -> bool:
    """Whether the process ``pid`` (a child of this one) has ended and been collected."""
    return gone(pid) and not Path(f"/proc/{pid}").exists()


def gone(pid: int) -> bool:
    """Whether the process ``pid`` has ended (a zombie counts: it runs no more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except OSError:
        return True


async def until_gone(pid: int, timeout: float = 10) -> bool:
    async with asyncio.timeout(timeout):
        while not gone(pid):  # noqa: ASYNC110 - no event says another process ended
            await asyncio.sleep(0.02)
    return True


async def text_of(link: McpLink, tool: str, **arguments: Any) -> str:
    return result_text(await link.session.call_tool(tool, arguments))


# -- stdio --------------------------------------------------------------------------------


async def test_stdio_connects_lists_and_calls_and_close_ends_the_process() -> None:
    connector: ConnectorProtocol = McpConnector(allowing())
    link: LinkProtocol = await connector.open(stdio())
    assert isinstance(link, McpLink)
    names = [tool.name for tool in link.tools]
    assert {"add", "echo", "fail", "big", "slow"} <= set(names)
    add = next(tool for tool in link.tools if tool.name == "add")
    assert add.description == "Add two whole numbers."
    assert set(add.input_schema["properties"]) == {"a", "b"}
    assert await text_of(link, "add", a=2, b=3) == "5"
    pid = int(await text_of(link, "pid"))
    assert not gone(pid)
    started = time.monotonic()
    await link.close()
    assert time.monotonic() - started < 3  # it exits once its input closes
    assert reaped(pid)
    assert link.closed
    assert await link.wait_closed() == ""
    await link.close()  # idempotent


async def test_a_script_path_runs_from_any_folder(tmp_path: Path) -> None:
    async with opened(stdio(f"{PYTHON} {TOOLBOX_SCRIPT}"), allowing(app_dir=str(tmp_path))) as link:
        assert await text_of(link, "echo", text="hi") == "hi"


async def test_arguments_reach_the_server_as_typed_never_through_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    words = ["a;b", f"$(touch {marker})", f"`touch {marker}`", f"&& touch {marker}", "*", "~"]
    command = " ".join([TOOLBOX_COMMAND, *(json.dumps(word) for word in words)])
    async with opened(stdio(command)) as link:
        assert json.loads(await text_of(link, "argv")) == words
    assert not marker.exists()


async def test_the_environment_is_the_safe_one_and_the_allowed_assignments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIGHTCHAT_SECRET", "server-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    settings = allowing(mcp_allowed_env="API_KEY,REGION")
    async with opened(stdio(f"API_KEY=k1 REGION='eu west' {TOOLBOX_COMMAND}"), settings) as link:
        assert await text_of(link, "env", name="API_KEY") == "k1"
        assert await text_of(link, "env", name="REGION") == "eu west"
        assert await text_of(link, "env", name="LIGHTCHAT_SECRET") == ""
        assert await text_of(link, "env", name="OPENAI_API_KEY") == ""
        assert await text_of(link, "env", name="PATH") == os.environ["PATH"]


@pytest.mark.parametrize(
    ("command", "settings", "message"),
    [
        ("touch {marker}", {}, "'touch' may not be started: this app allows python"),
        ("/usr/bin/touch {marker}", {"mcp_allowed_executables": "touch"}, "is a path"),
        ("./touch {marker}", {"mcp_allowed_executables": "touch"}, "is a path"),
        ("sh -c 'touch {marker}'", {}, "'sh' may not be started"),
        ("bash -c 'touch {marker}'", {"mcp_allowed_executables": ""}, "allows no executable"),
        (
            "LD_PRELOAD=/tmp/x.so {python} -c \"open('{marker}', 'w')\"",
            {},
            "may not set LD_PRELOAD: this app lets a command set no variable",
        ),
        (
            "API_KEY=1 PATH=/tmp {python} -c \"open('{marker}', 'w')\"",
            {"mcp_allowed_env": "API_KEY"},
            "may not set PATH: this app lets a command set API_KEY",
        ),
        (
            "no-such-mcp-server {marker}",
            {"mcp_allowed_executables": "no-such-mcp-server"},
            "'no-such-mcp-server' is not found on this server",
        ),
        ("{python} -c \"open('{marker}', 'w')\"", {"mcp_stdio": False}, "does not start stdio"),
        ("{python} -c \"open('{marker}', 'w')\"", {"mcp": False}, "does not connect MCP"),
        ("'unclosed {marker}", {}, "cannot be read"),
        ("", {}, "Give the command to run"),
    ],
)
async def test_a_command_that_is_not_allowed_is_refused_before_anything_starts(
    tmp_path: Path, command: str, settings: dict[str, Any], message: str
) -> None:
    marker = tmp_path / "marker"
    spec = stdio(command.format(marker=marker, python=PYTHON))
    connector = McpConnector(allowing(**settings))
    with pytest.raises(McpRefused, match=message):
        connector.check(spec)
    with pytest.raises(McpRefused, match=message):
        await connector.open(spec)
    assert not marker.exists()


async def test_a_relative_folder_on_path_is_not_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "mcp-fake"
    fake.write_text("#!/bin/sh\ntouch marker\n")
    fake.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", os.pathsep.join([".", "", with_python_path()]))
    settings = allowing(mcp_allowed_executables="mcp-fake", app_dir=str(tmp_path))
    with pytest.raises(McpRefused, match="'mcp-fake' is not found on this server"):
        McpConnector(settings).check(stdio("mcp-fake"))


async def test_the_apps_own_command_skips_the_allow_list_but_not_the_rules_of_words(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "marker"
    settings = allowing(mcp_allowed_executables="", mcp_allowed_env="", app_dir=str(tmp_path))
    command = f"SETTING=on {PYTHON} {TOOLBOX_SCRIPT} ';touch {marker}'"
    async with opened(stdio(command, origin="app"), settings) as link:
        assert await text_of(link, "env", name="SETTING") == "on"
        assert json.loads(await text_of(link, "argv")) == [f";touch {marker}"]
    assert not marker.exists()
    # A path, for the app's server, is the app folder's (made executable here).
    script = tmp_path / "server.sh"
    script.write_text(f"#!/bin/sh\nexec {PYTHON} {TOOLBOX_SCRIPT}\n")
    script.chmod(0o755)
    async with opened(stdio("./server.sh", origin="app"), settings) as link:
        assert await text_of(link, "add", a=1, b=1) == "2"


async def test_a_server_that_dies_is_noticed() -> None:
    async with opened(stdio()) as link:
        with pytest.raises(MCPError):
            await link.session.call_tool("exit", {})
        async with asyncio.timeout(10):
            reason = await link.wait_closed()
        assert reason == "toolbox: the server closed the connection."
        assert link.closed


async def test_close_is_prompt_and_leaves_nothing_behind_even_when_the_server_hangs() -> None:
    link = await McpConnector(allowing()).open(stdio(f"{TOOLBOX_COMMAND} --stubborn"))
    pid = int(await text_of(link, "pid"))
    child = int(await text_of(link, "child"))
    slow = asyncio.create_task(link.session.call_tool("slow", {"seconds": 60}))
    started = time.monotonic()
    await link.close()
    assert time.monotonic() - started < 5  # stdin closed, SIGTERM ignored: SIGKILL
    assert reaped(pid)
    assert await until_gone(child)  # its process group went with it: no orphan
    with pytest.raises(MCPError):
        await slow


async def test_a_server_that_never_answers_initialize_is_given_up_on_time(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    spec = stdio(f"{PYTHON} -c {json.dumps(script)}")
    started = time.monotonic()
    with pytest.raises(McpRefused, match=r"did not answer within 1 s \(features\.mcp\.timeout\)"):
        await McpConnector(allowing(mcp_timeout_s=1)).open(spec)
    assert time.monotonic() - started < 6
    assert await until_gone(int(pid_file.read_text()))


async def test_each_request_has_the_time_limit(mcp_http: McpHttpServer) -> None:
    async with opened(web(mcp_http.url), allowing(mcp_timeout_s=1)) as link:
        started = time.monotonic()
        with pytest.raises(MCPError):
            await link.session.call_tool("slow", {"seconds": 30})
        assert time.monotonic() - started < 5
        assert await text_of(link, "add", a=1, b=2) == "3"  # the connection goes on


async def test_a_line_larger_than_the_limit_ends_the_connection() -> None:
    async with opened(stdio(), allowing(mcp_max_bytes=100_000)) as link:
        assert len(await text_of(link, "big", size=20_000)) == 20_000
        with pytest.raises(MCPError):
            await link.session.call_tool("big", {"size": 300_000})
        async with asyncio.timeout(10):
            reason = await link.wait_closed()
        assert "larger than 100,000 bytes" in reason
        assert "max_message_bytes" in reason


async def test_results_are_untrusted_text_and_other_content_is_summarised() -> None:
    async with opened(stdio()) as link:
        assert await text_of(link, "echo", text=UNTRUSTED) == UNTRUSTED
        picture = await link.session.call_tool("picture", {})
        assert result_text(picture).startswith("[image: image/png, about ")
        failed = await link.session.call_tool("fail", {})
        assert failed.is_error
        assert "the tool failed on purpose" in result_text(failed)
    structured = mcp_types.CallToolResult(content=[], structured_content={"a": 1})
    assert json.loads(result_text(structured)) == {"a": 1}


# -- over HTTP ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["streamable-http", "sse"])
async def test_http_servers_connect_list_and_call(
    kind: str, mcp_http: McpHttpServer, mcp_sse: McpHttpServer
) -> None:
    server = mcp_sse if kind == "sse" else mcp_http
    async with opened(web(server.url, kind, Authorization="Bearer t")) as link:
        assert "add" in [tool.name for tool in link.tools]
        assert await text_of(link, "add", a=20, b=22) == "42"
        failed = await link.session.call_tool("fail", {})
        assert failed.is_error


async def test_a_json_answering_server_too() -> None:
    with McpHttpServer(json_response=True) as server:
        async with opened(web(server.url)) as link:
            assert await text_of(link, "echo", text="json") == "json"
        settings = allowing(mcp_max_bytes=100_000)
        async with opened(web(server.url), settings) as link:
            with pytest.raises(MCPError):
                await link.session.call_tool("big", {"size": 300_000})
            async with asyncio.timeout(10):
                assert "larger than 100,000 bytes" in await link.wait_closed()


@pytest.mark.parametrize("kind", ["streamable-http", "sse"])
async def test_an_event_larger_than_the_limit_ends_the_connection(
    kind: str, mcp_http: McpHttpServer, mcp_sse: McpHttpServer
) -> None:
    server = mcp_sse if kind == "sse" else mcp_http
    async with opened(web(server.url, kind), allowing(mcp_max_bytes=100_000)) as link:
        assert len(await text_of(link, "big", size=20_000)) == 20_000
        with pytest.raises(MCPError):
            await link.session.call_tool("big", {"size": 300_000})
        async with asyncio.timeout(10):
            assert "larger than 100,000 bytes" in await link.wait_closed()


async def test_a_server_that_never_answers_over_http_is_given_up_on_time(
    mcp_http: McpHttpServer,
) -> None:
    started = time.monotonic()
    with pytest.raises(McpRefused, match="did not answer within 1 s"):
        await McpConnector(allowing(mcp_timeout_s=1)).open(web(mcp_http.url_for("/hang")))
    assert time.monotonic() - started < 6


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/mcp", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("http://user:secret@127.0.0.1/mcp", "may not carry a user name or password"),
        ("http:///mcp", "names no host"),
        ("http://127.0.0.1:99999/mcp", "port is not a number"),
        ("http://127.0.0.1/m cp", "spaces or control characters"),
        ("http://127.0.0.1:9/mcp", "127.0.0.1 is 127.0.0.1, a loopback address"),
        ("http://127.8.9.10/mcp", "a loopback address"),
        ("http://10.0.0.1/mcp", "a private address"),
        ("http://192.168.1.10/mcp", "a private address"),
        ("http://172.16.0.1/mcp", "a private address"),
        ("http://169.254.169.254/latest/meta-data", "a link-local address"),
        ("http://0.0.0.0:9/mcp", "an unspecified address"),
        ("http://224.0.0.1/mcp", "a multicast address"),
        ("http://240.0.0.1/mcp", "a (private|reserved) address"),
        ("http://100.64.0.1/mcp", "a (private|non-public) address"),
        ("http://[::1]:9/mcp", "::1 is ::1, a loopback address"),
        ("http://[::]:9/mcp", "unspecified address"),
        ("http://[fe80::1]/mcp", "a link-local address"),
        ("http://[fc00::1]/mcp", "a private address"),
        ("http://[::ffff:127.0.0.1]:9/mcp", "is 127.0.0.1, a loopback address"),
        ("http://[::ffff:10.0.0.1]/mcp", "is 10.0.0.1, a private address"),
        ("http://[64:ff9b::7f00:1]/mcp", "is 127.0.0.1, a loopback address"),
        ("http://[2002:7f00:1::]/mcp", "a loopback address"),
        ("http://localhost:9/mcp", "localhost is .*, a loopback address"),
    ],
)
def test_a_url_that_is_not_allowed_is_refused(url: str, message: str) -> None:
    connector = McpConnector(allowing(mcp_allowed_hosts=""))
    with pytest.raises(McpRefused, match=message):
        connector.check(web(url))


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://10.0.0.1/mcp", "10.0.0.0/8"),
        ("http://10.0.0.1/mcp", "10.0.0.1"),
        ("http://[::1]:9/mcp", "::1"),
        ("http://[::ffff:127.0.0.1]:9/mcp", "127.0.0.1"),
        ("http://localhost:9/mcp", "LOCALHOST"),
        ("http://169.254.169.254/x", "169.254.0.0/16"),
    ],
)
def test_the_app_may_allow_a_private_host(url: str, allowed: str) -> None:
    McpConnector(allowing(mcp_allowed_hosts=allowed)).check(web(url))
    with pytest.raises(McpRefused):
        McpConnector(allowing(mcp_allowed_hosts="192.0.2.0/24")).check(web(url))


def test_the_apps_own_url_skips_the_address_rule() -> None:
    spec = replace(web("http://127.0.0.1:9/mcp"), origin="app")
    McpConnector(allowing(mcp_allowed_hosts="")).check(spec)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Token": "a\r\nX-Admin: 1"}, "holds a line break or a control character"),
        ({"X-Token": "a\nb"}, "holds a line break"),
        ({"Bad Name": "1"}, "is not a header name"),
        ({"X-Big": "x" * 9000}, "longer than 8192 characters"),
        ({"Host": "internal.example"}, "Host is set by the connection itself"),
        ({"Transfer-Encoding": "chunked"}, "is set by the connection itself"),
        ({f"X-{n}": "1" for n in range(40)}, "at most 32 headers"),
    ],
)
def test_bad_headers_are_refused(headers: dict[str, str], message: str) -> None:
    spec = replace(web("http://127.0.0.1:9/mcp"), headers=headers)
    with pytest.raises(McpRefused, match=message):
        McpConnector(allowing()).check(spec)


def test_a_kind_turned_off_is_refused() -> None:
    with pytest.raises(McpRefused, match="does not connect sse servers"):
        McpConnector(allowing(mcp_sse=False)).check(web("http://127.0.0.1:9/sse", "sse"))
    with pytest.raises(McpRefused, match="does not connect streamable-http servers"):
        McpConnector(allowing(mcp_streamable_http=False)).check(web("http://127.0.0.1:9/mcp"))


async def test_a_redirect_to_a_refused_address_is_not_followed(mcp_http: McpHttpServer) -> None:
    elsewhere = f"http://127.0.0.2:{mcp_http.port}/mcp"
    spec = web(mcp_http.url_for(f"/redirect?to={elsewhere}"))
    settings = allowing(mcp_allowed_hosts="127.0.0.1", mcp_timeout_s=5)
    with pytest.raises(McpRefused):
        await McpConnector(settings).open(spec)


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``rebind.test`` resolves to 127.0.0.1 the first time, then to 127.0.0.2, as a DNS
    rebinding attack answers; the names asked for are listed."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("rebind.test", b"rebind.test"):  # anyio asks in bytes
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "127.0.0.2"
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


async def test_every_connection_checks_the_address_it_connects_to(
    mcp_http: McpHttpServer, rebinding: list[str]
) -> None:
    spec = web(f"http://rebind.test:{mcp_http.port}/mcp")
    settings = allowing(mcp_allowed_hosts="127.0.0.1", mcp_timeout_s=5)
    with pytest.raises(McpRefused, match=r"rebind\.test is 127\.0\.0\.2, a loopback address"):
        await McpConnector(settings).open(spec)
    assert len(rebinding) >= 2  # checked, then resolved again to connect


async def test_the_client_the_sdk_gets_goes_only_to_http_and_allowed_addresses(
    mcp_http: McpHttpServer,
) -> None:
    refused: list[str] = []
    guard = _Guard(AddressRule(["127.0.0.2"]), 1000, refused.append)
    async with _client_factory(guard, trust_env=False)() as client:
        with pytest.raises(McpRefusedTransport, match="ftp: was refused"):
            await client.get("ftp://127.0.0.2/x")
        with pytest.raises(McpRefusedTransport, match=r"127\.0\.0\.1, a loopback address"):
            await client.get(mcp_http.url_for("/redirect?to=/mcp"))
    assert len(refused) == 2
    # The app's own: no address rule, but the size limit.
    guard = _Guard(None, 10, refused.append)
    async with _client_factory(guard, trust_env=True)() as client:
        response = await client.get(mcp_http.url_for("/redirect?to=/mcp"))
        assert response.status_code == 307
        with pytest.raises(McpRefusedTransport, match="larger than 10 bytes"):
            await client.get(mcp_http.url_for("/mcp"))


# -- a tool call as a step ----------------------------------------------------------------


async def test_call_tool_shows_each_call_as_a_tool_step(
    tmp_path: Path, serve: Serve, mcp_http: McpHttpServer
) -> None:
    server = McpServerSpec("calc", "streamable-http", url=mcp_http.url, origin="app")
    settings = allowing(app_dir=str(tmp_path), mcp_servers=(server,), mcp_timeout_s=2)
    app = LightChat(settings=settings)

    @app.on_message
    async def main(message: cl.Message) -> None:
        result = await call_tool("calc", "add", {"a": 2, "b": 3})
        failed = await call_tool("calc", "fail")
        client_session, _ = cl.context.session.mcp_sessions["calc"]
        await call_tool(client_session, "untrusted")
        try:
            await call_tool("missing", "add")
        except McpRefused as refused:
            await cl.Message(content=str(refused)).send()
        await client_session.call_tool("slow", {"seconds": 0})  # Chainlit's way, no step
        try:
            await call_tool("calc", "slow", {"seconds": 30})
        except MCPError as error:
            await cl.Message(content=f"raised: {error}").send()
        await cl.Message(content=f"{result_text(result)} {failed.is_error}").send()

    async with serve(app) as site:
        browser = site.browser()
        url = await site.chat(browser, "go")
        session = site.session(browser, url)
        items = session.transcript.items.values()
        steps = [item for item in items if isinstance(item, StepData)]
        assert [(s.name, s.type, s.status) for s in steps] == [
            ("add", "tool", "done"),
            ("fail", "tool", "failed"),
            ("untrusted", "tool", "done"),
            ("slow", "tool", "failed"),
        ]
        assert json.loads(steps[0].input) == {"a": 2, "b": 3}
        assert steps[0].output == "5"
        assert "the tool failed on purpose" in steps[1].output
        assert steps[2].output == UNTRUSTED  # text: the chat escapes it as any other
        assert "timed out" in steps[3].output
        said = [answer.content for answer in site.answers(browser, url)]
        assert said == [
            "This chat has no MCP server named 'missing' (connected: calc).",
            "raised: Request 'tools/call' timed out",
            "5 True",
        ]
