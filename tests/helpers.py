"""Helpers shared by the unit and HTTP tests: real sessions, log reading, HTML checks.

Nothing here fakes lightchat: a session is a real ``ChatSession`` on a real ``MemoryBus``,
and the HTML checks parse the markup the way a browser tokenizes it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import TypeVar

import httpx

from lightchat.api.message import Message
from lightchat.app import LightChat
from lightchat.auth.identity import COOKIE
from lightchat.bus import Bus, MemoryBus
from lightchat.chat.session import ChatSession
from lightchat.config.registry import Registry
from lightchat.config.settings import Settings
from lightchat.domain.events import Entry, Event, MessageData, MessageEvent, StepData, StepEvent
from lightchat.http.middleware.csrf import HEADER as FORM_TOKEN_HEADER

WAIT_S = 5.0
"""The longest any test waits for something that should happen at once."""

Client = TypeVar("Client", httpx.Client, httpx.AsyncClient)


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
    hooks = client.event_hooks
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
GLOBAL_ATTRS = frozenset({"id", "class", "role", "title", "lang", "dir", "open"})
TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "rel", "target"}),
    "img": frozenset({"src", "alt"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"style"}),
    "td": frozenset({"style"}),
    "hx-partial": frozenset({"hx-target", "hx-swap"}),
    "button": frozenset({"type", "disabled", "formaction", "formnovalidate", "hx-post", "hx-swap"}),
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


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
