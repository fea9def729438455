"""Helpers shared by the tests: apps served in-process and real servers, real sessions, log
reading, HTML checks.

Nothing here fakes lightchat: a site is the real app behind httpx's ASGI transport, a server
is the real ``lightchat serve`` (or uvicorn) on a free loopback port, a session is a real
``ChatSession`` on a real ``MemoryBus``, and the HTML checks parse the markup the way a
browser tokenizes it. The fixtures that start them, and stop them when a test ends, are in
tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

import httpx
import uvicorn

from lightchat.api.context import user_session
from lightchat.api.message import Message
from lightchat.api.step import Step
from lightchat.app import LightChat
from lightchat.auth.identity import COOKIE
from lightchat.auth.sessions import Auth
from lightchat.bus import Bus, MemoryBus
from lightchat.chat.history import History
from lightchat.chat.session import ChatSession
from lightchat.config.registry import Registry
from lightchat.config.settings import Settings
from lightchat.domain.events import (
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RunEvent,
    StepData,
    StepEvent,
)
from lightchat.http.middleware.csrf import HEADER as FORM_TOKEN_HEADER
from lightchat.http.web import Services

WAIT_S = 5.0
REDIS_URL = os.environ.get("LIGHTCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
"""The Redis the tests use (``LIGHTCHAT_TEST_REDIS_URL`` names another)."""
"""The longest any test waits for something that should happen at once."""

ROOT = Path(__file__).resolve().parents[1]
LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))
BASE_URL = "http://testserver"
CHAT_URL = re.compile(r"^/chat/[0-9a-f]{32}$")

Client = TypeVar("Client", httpx.Client, httpx.AsyncClient)
T = TypeVar("T")


def form_token(app: LightChat, cookie_value: str | None) -> str | None:
    """The form token of the browser whose cookie (``lightchat_browser``) has this value."""
    identity = app.build().state.services.identity
    browser = identity.load(cookie_value)
    return None if browser is None else str(identity.form_token(browser))


def _add_form_token(app: LightChat, request: httpx.Request, opened: list[str] | None) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or FORM_TOKEN_HEADER in request.headers:
        return
    header = request.headers.get("cookie", "")
    cookies = dict(part.strip().partition("=")[::2] for part in header.split(";"))
    token = form_token(app, cookies.get(COOKIE))
    if token is None and opened is not None:
        if not opened or form_token(app, opened[0]) is None:
            opened[:] = [app.build().state.services.identity.new()[1]]
        cookie = f"{COOKIE}={opened[0]}"
        request.headers["cookie"] = f"{header}; {cookie}" if header else cookie
        token = form_token(app, opened[0])
    if token is not None:
        request.headers[FORM_TOKEN_HEADER] = token


def with_form_token(client: Client, app: LightChat, *, opened_page: bool = False) -> Client:
    """Make ``client`` send its browser's form token with every write, as the page's script
    does (the ``X-CSRF-Token`` header), unless a request sets that header itself.

    The token is the one the app's pages give this browser (its cookie's). A client without
    the app's cookie sends none, and is refused like any other. With ``opened_page=True``, a
    write from a client without the cookie carries the cookie and token a page of the app
    would have given it, as when a browser posts the login form it just opened.
    """
    opened: list[str] | None = [] if opened_page else None  # its cookie, made when needed
    hooks: dict[str, list[Callable[..., Any]]] = client.event_hooks
    if isinstance(client, httpx.AsyncClient):

        async def add(request: httpx.Request) -> None:
            _add_form_token(app, request, opened)

        client.event_hooks = {**hooks, "request": [*hooks["request"], add]}
    else:
        client.event_hooks = {
            **hooks,
            "request": [*hooks["request"], lambda request: _add_form_token(app, request, opened)],
        }
    return client


# -- an app served in-process -------------------------------------------------------------


class Site:
    """One app, served in-process (httpx's ASGI transport), and the browsers that visit it.

    Made by the ``serve`` fixture (tests/conftest.py), which also runs the app's lifespan
    when asked and closes the browsers and the chats at the end. Its browsers send their
    form token with every write as the page's script does (``form_token``), or nothing of
    their own (``form_token=False``), or the cookie and token of a page just opened
    (``opened_page=True``, as a browser posting the login form).
    """

    def __init__(
        self,
        app: LightChat,
        *,
        base_url: str = BASE_URL,
        form_token: bool = True,
        opened_page: bool = False,
    ) -> None:
        self.app = app
        self.base_url = base_url
        self.form_token = form_token
        self.opened_page = opened_page
        self.clients: list[httpx.AsyncClient] = []

    def browser(
        self,
        *,
        base_url: str | None = None,
        address: str = "127.0.0.1",
        headers: Mapping[str, str] | None = None,
        root_path: str = "",
        form_token: bool | None = None,
        network: bool = False,
    ) -> httpx.AsyncClient:
        """A new browser (its own cookies) from ``address``; with ``network=True``, its
        requests to any other site go over the network (an OAuth provider, say)."""
        base_url = base_url or self.base_url
        transport = httpx.ASGITransport(app=self.app, root_path=root_path, client=(address, 123))
        if network:
            client = httpx.AsyncClient(
                mounts={base_url: transport}, base_url=base_url, headers=headers, timeout=WAIT_S
            )
        else:
            client = httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)
        self.clients.append(client)
        if self.form_token if form_token is None else form_token:
            return with_form_token(client, self.app, opened_page=self.opened_page)
        return client

    @property
    def services(self) -> Services:
        services: Services = self.app.build().state.services
        return services

    @property
    def history(self) -> History:
        assert self.app.history is not None
        return self.app.history

    @property
    def auth(self) -> Auth:
        auth = self.services.auth
        assert auth is not None
        return auth

    def owner(self, client: httpx.AsyncClient) -> str:
        """The browser id of ``client`` (the owner of its chats while nobody signs in)."""
        owner = self.services.identity.load(client.cookies.get(COOKIE))
        assert owner is not None
        return owner

    async def new_chat(self, client: httpx.AsyncClient) -> str:
        """A new chat of this browser's; its URL."""
        response = await client.get("/")
        assert response.status_code == 303, response.text
        url = str(response.headers["location"])
        assert CHAT_URL.match(url), url
        return url

    async def chat(self, client: httpx.AsyncClient, *questions: str) -> str:
        """A new chat with these questions asked and answered (plain form posts, which
        return once the answer is complete); its URL."""
        url = await self.new_chat(client)
        for question in questions:
            posted = await client.post(f"{url}/messages", data={"content": question})
            assert posted.status_code == 303, posted.text
        return url

    def session(self, who: httpx.AsyncClient | str, url: str) -> ChatSession:
        """The running chat at ``url`` of a browser (a client) or of an owner (its id)."""
        owner = who if isinstance(who, str) else self.owner(who)
        session = self.services.chats.get(url.rsplit("/", 1)[1], owner)
        assert session is not None, url
        return session

    async def idle(self, session: ChatSession) -> list[Event]:
        """Wait until no callback runs (the last run marker says so); the chat's events."""
        return await wait_for_log(session.bus, session.id, idle)

    def answers(self, client: httpx.AsyncClient, url: str) -> list[MessageData]:
        """The assistant's messages in the browser's chat at ``url``."""
        items = self.session(client, url).transcript.items.values()
        return [i for i in items if isinstance(i, MessageData) and i.type == "assistant_message"]

    async def close(self) -> None:
        """Close the browsers, then end the chats still running."""
        for client in self.clients:
            await client.aclose()
        if self.app.chats is not None:
            await self.app.chats.close_all()


class Serve(Protocol):
    """The ``serve`` fixture: ``async with serve(app) as site:`` serves ``app`` in-process.

    ``lifespan=True`` runs the app's start-up and shut-down around the block (history on:
    it must open, unless ``history_must_open=False``); ``timeout`` bounds the block (None:
    unbounded, for a site that outlives a test); the other arguments are the ``Site``'s.
    """

    def __call__(
        self,
        app: LightChat,
        *,
        lifespan: bool = False,
        history_must_open: bool = True,
        timeout: float | None = WAIT_S * 4,
        base_url: str = BASE_URL,
        form_token: bool = True,
        opened_page: bool = False,
    ) -> AbstractAsyncContextManager[Site]: ...


# -- real servers -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answers(
    process: subprocess.Popen[str], url: str, timeout: float = 15, name: str = "lightchat serve"
) -> None:
    """Wait until the server ``process`` answers 200 at ``url`` (its health check); raises
    with what it printed if it exits first, or if it does not answer in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"{name} exited early:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet; nothing to wait on
    raise RuntimeError(f"{name} did not answer at {url} within {timeout}s")


def stop_process(process: subprocess.Popen[str], timeout: float = 10) -> str:
    """Stop a server process (SIGTERM, then SIGKILL after ``timeout``); what it printed."""
    if process.poll() is None:
        process.terminate()
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


class Server:
    """A ``lightchat serve`` process on a free port; a thread reads what it prints, so a
    test can wait for a line of its log (``wait_printed``).

    Made by the ``lightchat_serve`` fixture (tests/conftest.py), which stops it when the test
    ends if the test has not.
    """

    def __init__(
        self, app: Path, *args: str, env: Mapping[str, str] | None = None, cwd: Path = ROOT
    ) -> None:
        self.app = app
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [LIGHTCHAT, "serve", str(app), "--port", str(self.port), *args],
            cwd=cwd,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._printed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="server output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with stdout:  # closed at the end of the output (when every process holding it exits)
            for line in stdout:
                with self._printed:
                    self._lines.append(line)
                    self._printed.notify_all()

    def printed(self) -> str:
        """What the server printed so far."""
        with self._printed:
            return "".join(self._lines)

    def wait_printed(self, text: str, timeout: float = WAIT_S) -> None:
        """Wait until the server has printed ``text`` (a line of its log, say)."""
        with self._printed:
            if not self._printed.wait_for(lambda: text in "".join(self._lines), timeout):
                raise AssertionError(f"the server did not print {text!r}:\n{self.printed()}")

    def wait_ready(self, path: str = "/-/health", timeout: float = 20) -> None:
        """Wait until the server answers 200 at ``path`` (``/-/ready``: its database and bus
        answer too); raises with what it printed if it exits first or does not answer."""
        url = f"{self.url}{path}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lightchat serve exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)  # polling a port that is not open yet; nothing to wait on
        raise RuntimeError(f"lightchat serve did not answer at {url} within {timeout}s")

    def output(self) -> str:
        """Everything the server printed (it must have exited, or exit within 30 s)."""
        self.process.wait(timeout=30)
        self._reader.join(30)
        return self.printed()

    def stop(self, timeout: float = 10) -> str:
        """SIGTERM, then SIGKILL after ``timeout``; everything the server printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.output()

    def terminate(self) -> float:
        """SIGTERM; how long the server took to exit."""
        started = time.monotonic()
        self.process.terminate()
        self.process.wait(timeout=60)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last write."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class LightchatServe(Protocol):
    """The ``lightchat_serve`` fixture: start ``lightchat serve app *args`` with ``env``
    added to the environment; waits until it answers at ``ready`` unless that is None."""

    def __call__(
        self,
        app: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
        ready: str | None = "/-/health",
    ) -> Server: ...


class LiveServer:
    """An app in uvicorn in a thread of this process, on a socket that listens before the
    server starts: for the endless event streams that httpx's ASGI transport cannot read.

    Connections made before uvicorn is ready wait in the socket's backlog, so the first
    request (to ``health``) is the wait for start-up: no polling. Use it as a context manager
    (``with LiveServer(app) as live:``); the server stops at the end. With ``host``, the
    server serves that app (one the chat is mounted in) instead.
    """

    TIMEOUT = httpx.Timeout(5.0)

    def __init__(self, app: LightChat, *, host: Any = None, health: str = "/-/health") -> None:
        self.app = app
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app if host is None else host, log_level="warning", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="uvicorn", daemon=True)
        self.thread.start()
        assert self._loop_ready.wait(5)
        with httpx.Client(timeout=self.TIMEOUT) as client:
            assert client.get(f"{self.url}{health}").text == "ok"

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self._loop_ready.set()
            await self.server.serve(sockets=[self.socket])

        asyncio.run(main())

    def browser(self) -> httpx.Client:
        """A browser that sends its form token with every write, as the page's script."""
        return with_form_token(httpx.Client(base_url=self.url, timeout=self.TIMEOUT), self.app)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (where the chats live) and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def session(self, client: httpx.Client, chat_url: str) -> ChatSession:
        services: Services = self.app.build().state.services
        browser = services.identity.load(client.cookies.get(COOKIE))
        assert browser is not None
        session = services.chats.get(chat_url.rsplit("/", 1)[1], browser)
        assert session is not None
        return session

    def new_chat(self, client: httpx.Client) -> tuple[str, ChatSession]:
        """A new chat whose on_chat_start has finished: its URL and session."""
        response = client.get("/")
        assert response.status_code == 303
        url = str(response.headers["location"])
        session = self.session(client, url)
        self.call(wait_for_log(session.bus, session.id, lambda ev: RunEvent(running=False) in ev))
        return url, session

    def entries(self, session: ChatSession) -> list[Entry]:
        return self.call(session.bus.read(session.id))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


TOKEN_IN_PAGE = re.compile(r'(?<=<meta name="csrf-token" content=")[^"]*')
"""The form token in a page's ``<meta name="csrf-token">``."""


def start_chat(client: httpx.Client) -> str:
    """A new chat's URL on a real server; the client keeps the browser cookie and sends the
    page's form token from now on."""
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200, page.text
    token = TOKEN_IN_PAGE.search(page.text)
    assert token is not None
    client.headers["X-CSRF-Token"] = token.group(0)
    return page.url.path


def sse_field(line: str) -> tuple[str, str]:
    """A line of a server-sent event as (field, value): one space after the colon, if
    there is one, is not part of the value."""
    name, _, value = line.partition(":")
    return name, value[1:] if value.startswith(" ") else value


def page_seq(client: httpx.Client, chat_url: str) -> int:
    """The point of the chat's log its page shows (where its stream starts)."""
    match = re.search(r"events\?after=(\d+)", client.get(chat_url).text)
    assert match is not None
    return int(match.group(1))


# -- apps the tests share ------------------------------------------------------------------

HTMX = {"HX-Request": "true"}
"""The header of a request htmx makes (answered with a fragment, or 204)."""


def chat_id(url: str) -> str:
    """The id of the chat at ``url`` (its thread's id too)."""
    return url.rsplit("/", 1)[1]


def thread_items(markup: str) -> list[str]:
    """The thread names listed in a history fragment or page, in order."""
    return [
        html.unescape(name)
        for name in re.findall(r'class="lc-thread-link"[^>]*>([^<]*)</a>', markup)
    ]


def echo_app(settings: Settings | None = None) -> LightChat:
    """Welcomes, then streams "You said: ..." back, a word at a time."""
    app = LightChat(settings=settings or Settings(name="Echo"))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Welcome to *echo*").send()

    @app.on_message
    async def main(message: Message) -> None:
        reply = Message(content="")
        for word in f"You said: {message.content}".split(" "):
            await reply.stream_token(word + " ")
            await asyncio.sleep(0)
        await reply.send()

    return app


def history_app(tmp_path: Path, database: str, **settings: Any) -> LightChat:
    """Answers with a tool step and a message; keeps tags and some state in user_session.

    History is on, in ``tmp_path`` (SQLite) or in ``database``; serve it with its lifespan.
    """
    app = LightChat(
        settings=Settings(name="Bot", app_dir=str(tmp_path), database_url=database, **settings)
    )

    @app.on_chat_start
    async def start() -> None:
        user_session.set("tags", ["support", "billing"])
        user_session.set("client", object())  # not JSON: never stored

    @app.on_message
    async def main(message: Message) -> None:
        user_session.set("last", message.content)
        async with Step(name="lookup", type="tool") as step:
            step.input = f"query: {message.content}"
            step.output = f"found {len(message.content)} letters"
        await Message(content=f"Answer to *{message.content}*").send()

    return app


# -- sessions and their logs ----------------------------------------------------------------


def new_session(
    registry: Registry,
    settings: Settings | None = None,
    *,
    bus: Bus | None = None,
    owner: str = "tester",
) -> ChatSession:
    """A real chat session (call it inside a running event loop)."""
    return ChatSession(
        registry,
        bus or MemoryBus(),
        settings or Settings(),
        owner=owner,
        message_factory=Message.from_data,
    )


async def events_of(session: ChatSession) -> list[Event]:
    """Every event in a session's log, in order."""
    return [entry.event for entry in await session.bus.read(session.id)]


async def wait_for_log(
    bus: Bus,
    session_id: str,
    predicate: Callable[[list[Event]], bool],
    timeout: float = WAIT_S,
) -> list[Event]:
    """Wait on the bus until the log satisfies ``predicate``; returns the events."""
    entries: list[Entry] = list(await bus.read(session_id))
    async with asyncio.timeout(timeout):
        while not predicate([entry.event for entry in entries]):
            after = entries[-1].seq if entries else 0
            entries.extend(await bus.wait(session_id, after, timeout))
    return [entry.event for entry in entries]


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Let the loop run until ``condition()`` holds (``what`` it waits for), for the app's
    state that has no event to wait on (a plain attribute): other tasks run between the
    looks, every 10 ms."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 - nothing to await: see the docstring
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"waited {timeout} s for {what}") from None


def idle(events: list[Event]) -> bool:
    """True once no callback runs: the last run marker says so (for ``wait_for_log``)."""
    runs = [event for event in events if isinstance(event, RunEvent)]
    return bool(runs) and not runs[-1].running


def messages_in(events: list[Event]) -> list[MessageData]:
    """The message states published, in log order (one per MessageEvent)."""
    return [event.message for event in events if isinstance(event, MessageEvent)]


def steps_in(events: list[Event]) -> list[StepData]:
    """The step states published, in log order (one per StepEvent)."""
    return [event.step for event in events if isinstance(event, StepEvent)]


def contents(events: list[Event], type_: str = "assistant_message") -> list[str]:
    """The contents of the messages of one type, in the order they were first shown."""
    seen: dict[str, str] = {}
    for message in messages_in(events):
        if message.type == type_:
            seen[message.id] = message.content
    return list(seen.values())


# -- inert HTML ----------------------------------------------------------------------------

DANGEROUS_TAGS = frozenset(
    {
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
        "style", "link", "meta", "base", "form", "input", "textarea", "select", "option",
        "template", "audio", "video", "source", "portal", "noscript",
    }
)  # fmt: skip
# Attributes any element may carry in lightchat's markup.
GLOBAL_ATTRS = frozenset({"id", "class", "role", "title", "lang", "dir", "open", "hidden"})
TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "rel", "target"}),
    "img": frozenset({"src", "alt"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"style"}),
    "td": frozenset({"style"}),
    "hx-partial": frozenset({"hx-target", "hx-swap"}),
    "button": frozenset({"type", "disabled", "formaction", "formnovalidate", "hx-post", "hx-swap"}),
    "time": frozenset({"datetime"}),
}
URL_ATTRS = frozenset({"href", "src", "formaction", "hx-post", "action", "xlink:href", "poster"})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_TEXT_ALIGN = re.compile(r"^text-align:(left|right|center)$")


def _browser_url(value: str) -> str:
    """A URL the way a browser reads its scheme: controls and spaces trimmed, tabs dropped."""
    value = value.strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    return re.sub(r"[\t\n\r]", "", value).lower()


def url_is_safe(value: str) -> bool:
    """True for http(s), mailto and relative URLs."""
    match = _SCHEME.match(_browser_url(value))
    return match is None or match.group(1) in SAFE_SCHEMES


# lightchat's own icons (lightchat.ui.icons: Lucide's shapes, hidden from screen readers):
# an <svg> with exactly these attributes, holding only shapes with only their geometry.
_ICON_ATTRS = frozenset(
    {
        "aria-hidden", "focusable", "fill", "height", "width", "stroke", "stroke-linecap",
        "stroke-linejoin", "stroke-width", "viewbox", "xmlns", "class",
    }
)  # fmt: skip
_ICON_SHAPES = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon"})
_SHAPE_ATTRS = frozenset(
    {
        "d", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "width", "height",
        "points",
    }
)  # fmt: skip
_ICON_CLASS = re.compile(r"^[\w -]*\blucide lucide-[a-z0-9-]+$")


def _is_icon(attrs: list[tuple[str, str | None]]) -> bool:
    given = dict(attrs)
    return (
        len(given) == len(attrs)
        and set(given) <= _ICON_ATTRS
        and given.get("aria-hidden") == "true"
        and given.get("xmlns") == "http://www.w3.org/2000/svg"
        and bool(_ICON_CLASS.match(given.get("class") or ""))
    )


_TRACK_ATTRS = frozenset({"class", "aria-hidden", "focusable", "width", "height"})


def _is_track(attrs: list[tuple[str, str | None]]) -> bool:
    """A bar of a run's timeline (lightchat.ui.timeline): shapes only, like an icon."""
    given = dict(attrs)
    return (
        len(given) == len(attrs)
        and set(given) <= _TRACK_ATTRS
        and given.get("aria-hidden") == "true"
        and given.get("class") == "lc-timeline-track"
    )


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_icon = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_icon = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg" and not self.in_icon and (_is_icon(attrs) or _is_track(attrs)):
            self.in_icon = True
            return
        if self.in_icon:
            if tag not in _ICON_SHAPES or any(name not in _SHAPE_ATTRS for name, _ in attrs):
                self.problems.append(f"<{tag}> in an icon")
            return
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}> element")
        allowed = GLOBAL_ATTRS | TAG_ATTRS.get(tag, frozenset())
        for name, value in attrs:
            text = value or ""
            if name.startswith(("data-", "aria-")):
                continue
            if name not in allowed:
                self.problems.append(f"<{tag} {name}={text!r}>")
            elif name in URL_ATTRS and not url_is_safe(text):
                self.problems.append(f"<{tag} {name}={text!r}> unsafe URL")
            elif name == "style" and not _TEXT_ALIGN.match(text):
                self.problems.append(f"<{tag} style={text!r}>")

    handle_startendtag = handle_starttag


def inert_problems(markup: str) -> list[str]:
    """What in ``markup`` could run script or load something unsafe (empty: inert)."""
    inspector = _Inspector()
    inspector.feed(markup)
    inspector.close()
    return inspector.problems


def assert_inert(markup: str) -> None:
    """Fail unless ``markup`` holds no executable element, attribute or URL."""
    problems = inert_problems(markup)
    assert not problems, f"unsafe HTML: {problems}\n{markup}"


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(name for name, _ in attrs))))

    handle_startendtag = handle_starttag


def tag_structure(markup: str) -> list[tuple[str, tuple[str, ...]]]:
    """The elements of ``markup`` with their attribute names, in order.

    Text from an app or a user must never change it: comparing the markup made with
    hostile text to the markup made with plain text shows that the text stayed text.
    """
    parser = _Structure()
    parser.feed(markup)
    parser.close()
    return parser.tags


def log_of(page: str) -> str:
    """The conversation part of a chat page."""
    start = page.index('<div id="lc-log"')
    return page[start : page.index("</main>", start)]
