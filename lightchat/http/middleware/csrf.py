"""Cross-site request forgery: every state-changing request must carry the browser's form
token, on top of the Origin check (``lightchat.http.middleware.security.SameOriginWrites``).

``FormTokens`` is plain ASGI middleware in front of every endpoint:

- It finds the browser in its signed cookie (``lightchat.auth.identity``). A page request
  (GET or HEAD, outside ``/-/``) from a browser without a valid cookie gets a new one
  there and then, so the first page a browser sees (the login page too) already holds
  forms that can post. The browser id is put in the ASGI scope (``BROWSER_SCOPE_KEY``),
  where ``lightchat.http.web.browser`` finds it.
- It sets ``lightchat.ui.render.FORM_TOKEN`` to that browser's form token for the request,
  so every form rendered for it, in a page, an htmx answer or a stream event, carries the
  token (``_csrf.html``), and every page has it in ``<meta name="csrf-token">``.
- It lets a POST (any method but GET, HEAD and OPTIONS) through only with the right token:
  in the ``X-CSRF-Token`` header (what ``lightchat.js`` adds to htmx requests), or else in
  the ``csrf_token`` field of a form body, which is how a plain form sends it without
  JavaScript. Anything else gets a 403 that says what to do.

Reading the field means reading the body before the endpoint does. A urlencoded body is
small (``BodyLimit`` caps it) and read whole; a multipart body may carry large files, so
only its first parts are read, up to the token: the token must come before any file part
(``_csrf.html`` goes first in a form), within ``MAX_PEEK_BYTES``. What was read is handed
to the endpoint again, unchanged, followed by the rest of the stream.

The token is an HMAC of the browser id (``BrowserIdentity.form_token``): nothing is stored,
every worker checks it alone, and it stays the same for the life of the cookie, so open
tabs, the back button and several tabs keep working. Signing in or out does not change it;
a sign-in form posted from another site fails twice (token and Origin).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.auth.cookie import put_cookie
from lightchat.auth.identity import COOKIE, BrowserIdentity
from lightchat.http.web import BROWSER_SCOPE_KEY, base, problem, route_path
from lightchat.ui.render import FORM_TOKEN

FIELD = "csrf_token"
"""The form field that carries the token in a plain form."""

HEADER = "X-CSRF-Token"
"""The request header that carries the token in an htmx request."""

MAX_PEEK_BYTES = 1024 * 1024
"""How much of a multipart body is read, at most, to find the token before its files."""

MAX_FIELDS = 1000
"""A urlencoded body with more fields than this is refused (Starlette's own limit)."""

COOKIE_MAX_AGE_S = 60 * 60 * 24 * 365
"""How long the browser keeps its cookie (it names the browser that owns its chats)."""

NO_COOKIE = (
    "Your browser did not send this app's cookie, so the request was refused. Allow "
    "cookies for this site, reload the page and try again."
)
NO_TOKEN = (
    "This request carries no security token (the page's csrf_token), so it was refused. "
    "Send it from the app's own page: reload it and try again."
)
WRONG_TOKEN = (
    "This request's security token is wrong or out of date, so it was refused. Reload the "
    "page and try again."
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCAN_STEP = 4096
_NAME = re.compile(rb';\s*name\s*=\s*(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)
_FILENAME = re.compile(rb";\s*filename\*?\s*=", re.IGNORECASE)
_BOUNDARY = re.compile(r';\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


class FormTokens:
    """Gives each browser its cookie and form token, and refuses writes without the token.

    ``identity`` returns the app's current ``BrowserIdentity`` (the app may replace it
    when it starts, with the secret kept beside it). ``cross_site``: other sites' pages may
    frame the app (``Settings.framed_by_others``), so over HTTPS the cookie must reach it
    inside their frames.
    """

    def __init__(
        self, app: ASGIApp, identity: Callable[[], BrowserIdentity], cross_site: bool = False
    ) -> None:
        self.app = app
        self.identity = identity
        self.cross_site = cross_site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = self.identity()
        request = Request(scope)
        browser = identity.load(request.cookies.get(COOKIE))
        method = scope["method"]
        if (
            browser is None
            and method in ("GET", "HEAD")
            and not route_path(scope).startswith("/-/")
        ):
            browser, value = identity.new()
            send = _with_cookie(send, _cookie_header(request, value, self.cross_site))
        if browser is not None:
            scope[BROWSER_SCOPE_KEY] = browser
        reset = FORM_TOKEN.set(identity.form_token(browser) if browser else "")
        try:
            if method not in _SAFE_METHODS:
                refusal, receive = await _check(request, receive, identity, browser)
                if refusal is not None:
                    await problem(request, 403, refusal)(scope, receive, send)
                    return
            await self.app(scope, receive, send)
        finally:
            FORM_TOKEN.reset(reset)


async def _check(
    request: Request, receive: Receive, identity: BrowserIdentity, browser: str | None
) -> tuple[str | None, Receive]:
    """Why the request is refused (None: it is not), and how the endpoint reads the body."""
    if browser is None:
        return NO_COOKIE, receive
    sent = request.headers.get(HEADER)
    if sent is None:
        sent, receive = await _form_field(request, receive)
    if not sent:
        return NO_TOKEN, receive
    if not identity.check_form_token(browser, sent):
        return WRONG_TOKEN, receive
    return None, receive


async def _form_field(request: Request, receive: Receive) -> tuple[str | None, Receive]:
    """The token in the form body, if any, and a ``receive`` that reads the whole body."""
    content_type = request.headers.get("content-type", "")
    kind = content_type.partition(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, _replay(b"".join(chunks), False, receive)  # gone
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            values = parse_qs(body.decode("latin-1"), max_num_fields=MAX_FIELDS).get(FIELD)
        except ValueError:  # too many fields: the endpoint would refuse them too
            values = None
        return (values[0] if values else None), _replay(body, True, receive)
    if kind == "multipart/form-data":
        match = _BOUNDARY.search(content_type)
        if match is None:
            return None, receive
        boundary = (match.group(1) or match.group(2)).encode("latin-1")
        return await _multipart_field(boundary, receive)
    return None, receive


async def _multipart_field(boundary: bytes, receive: Receive) -> tuple[str | None, Receive]:
    body = bytearray()
    scanned = -1  # the body's length at the last scan
    complete = False
    while True:
        # Scanned again only once the body has doubled (and by at least _SCAN_STEP): a body
        # sent a byte at a time costs a few scans, not one per byte.
        if complete or scanned < 0 or len(body) >= max(2 * scanned, scanned + _SCAN_STEP):
            found = _scan(bytes(body), boundary, complete)
            scanned = len(body)
            if found is not _MORE:
                break
            if complete or len(body) > MAX_PEEK_BYTES:
                found = None
                break
        message = await receive()
        if message["type"] != "http.request":
            return None, _replay(bytes(body), False, receive)  # gone
        body += message.get("body", b"")
        complete = not message.get("more_body", False)
    value = found.decode("latin-1") if isinstance(found, bytes) else None
    return value, _replay(bytes(body), complete, receive)


class _More:
    """More of the body is needed to decide."""


_MORE = _More()


def _scan(body: bytes, boundary: bytes, complete: bool) -> bytes | _More | None:
    """The token field's value among the parts before the first file; None if it is not
    there; ``_MORE`` if the body read so far does not tell."""
    delimiter = b"--" + boundary
    more: bytes | _More | None = None if complete else _MORE
    position = body.find(delimiter)
    if position < 0:
        return more
    while True:
        after = position + len(delimiter)
        if len(body) < after + 2:
            return more
        if body[after : after + 2] == b"--":
            return None  # the closing delimiter
        line_end = body.find(b"\r\n", after)
        if line_end < 0:
            return more
        head_end = body.find(b"\r\n\r\n", line_end)
        if head_end < 0:
            return more
        head = body[line_end + 2 : head_end]
        if _FILENAME.search(head):
            return None  # a file came first: the token must come before the files
        value_end = body.find(b"\r\n" + delimiter, head_end + 4)
        if value_end < 0:
            return more
        name = _NAME.search(head)
        if name is not None and (name.group(1) or name.group(2)) == FIELD.encode():
            return body[head_end + 4 : value_end]
        position = value_end + 2


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` giving the body already read as one message, then the rest of the
    stream (``complete``: there is no more body)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": not complete}]

    async def replaying() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replaying


def _cookie_header(request: Request, value: str, cross_site: bool) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header of a new browser cookie: HttpOnly, SameSite=Lax, Secure
    over HTTPS, for the app's path.

    When other sites may frame the app (the copilot widget), over HTTPS it is
    ``SameSite=None; Partitioned`` instead (``lightchat.auth.cookie``): a Lax cookie is not
    sent in a frame on another site, and a partitioned one is kept per host site, where
    browsers block other third-party cookies. Writes stay guarded by the form token and the
    Origin check, which never relied on SameSite.
    """
    carrier = Response()
    put_cookie(
        carrier,
        COOKIE,
        value,
        max_age=COOKIE_MAX_AGE_S,
        path=base(request) or "/",
        secure=request.url.scheme == "https",
        cross_site=cross_site,
    )
    return next(h for h in carrier.raw_headers if h[0] == b"set-cookie")


def _with_cookie(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def send_with_cookie(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), header]
        await send(message)

    return send_with_cookie
