"""Plain ASGI middleware (not BaseHTTPMiddleware, which breaks streaming disconnects).

- ``SecurityHeaders``: a strict Content-Security-Policy and the usual hardening headers on
  every response.
- ``SameOriginWrites``: refuses state-changing requests that another site started (the
  browser's ``Sec-Fetch-Site`` and ``Origin`` headers), unless that site is one the app
  allows (``Settings.allow_origins``). The form token (``lightchat.http.middleware.csrf``)
  is the other half of the CSRF defence: a request must pass both.
- ``BodyLimit``: refuses request bodies over a size, before anything reads them.
- ``ClientGone``: a client that goes away while its body is read costs one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.ui.i18n import say

logger = logging.getLogger("lightchat")


def content_security_policy(
    frame_ancestors: str = "'self'", extra: Mapping[str, tuple[str, ...]] | None = None
) -> str:
    """The Content-Security-Policy of every answer: no inline script, no eval, nothing
    loaded from elsewhere but https images; ``frame_ancestors`` names who may frame it.

    ``extra`` adds sources to ``script-src``, ``style-src`` or ``font-src``: the https
    stylesheets and scripts an app names in its settings (``Brand.csp_sources``), checked
    there so that none can add a directive.
    """
    more = {name: " ".join(sources) for name, sources in (extra or {}).items()}

    def src(name: str) -> str:
        return f"{name} 'self' {more[name]}" if more.get(name) else f"{name} 'self'"

    return (
        f"default-src 'self'; {src('script-src')}; {src('style-src')}; "
        "img-src 'self' data: https:; "
        f"connect-src 'self'; {src('font-src')}; object-src 'none'; base-uri 'self'; "
        f"form-action 'self'; frame-ancestors {frame_ancestors}"
    )


CSP = content_security_policy()
"""The policy with the default ``frame-ancestors 'self'``."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ClientGone:
    """Ends quietly a request whose client went away while its body was read (a closed
    tab, a dropped connection in the middle of an upload): one line in the log instead of
    a traceback, and no answer, since nobody is there to read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            logger.info(
                "The client went away while its request was read: %s %s (dropped)",
                scope.get("method", ""),
                scope.get("path", ""),
            )


class SecurityHeaders:
    """Adds the security headers to every HTTP response (an endpoint may set its own)."""

    def __init__(self, app: ASGIApp, csp: str = CSP) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_key(origin: str) -> tuple[str, str, int] | None:
    """An origin's scheme, host and port, the port made explicit; None if it is not one.

    >>> origin_key("HTTPS://Example.com") == origin_key("https://example.com:443")
    True
    >>> origin_key("https://example.com") == origin_key("http://example.com")
    False
    """
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS[scheme]


class SameOriginWrites:
    """Refuses POST/PUT/PATCH/DELETE requests made from another site (403), except from
    the ``allowed`` origins (``https://host[:port]``, lower case).

    A request's ``Origin`` must match the app's own scheme, host and port (the request's
    scheme and ``Host``): ``https://host`` is another origin than ``http://host``."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            headers = Headers(scope=scope)
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            cross = site not in (None, "same-origin", "none")
            if origin is not None and origin.lower() in self.allowed:
                cross = False
            elif origin is not None and origin != "null":
                own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
                theirs = origin_key(origin)
                cross = cross or theirs is None or theirs != origin_key(own)
            elif origin == "null":
                cross = True
            if cross:
                response = PlainTextResponse(say("notice.cross_site"), status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Answers 413 to request bodies larger than ``max_bytes``.

    Multipart bodies sent to paths ending in one of ``upload_suffixes`` carry files, and
    may be as large as ``upload_bytes``; the endpoint checks each file against its own
    limits.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_bytes: int = 0,
        upload_suffixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = max(upload_bytes, max_bytes)
        self.upload_suffixes = upload_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        headers = Headers(scope=scope)
        if (
            self.upload_suffixes
            and str(scope.get("path", "")).endswith(self.upload_suffixes)
            and headers.get("content-type", "").startswith("multipart/form-data")
        ):
            limit = self.upload_bytes
        length = headers.get("content-length")
        # ASCII digits only ("²" is a digit to isdigit(), not to int()); more of them than
        # any limit has is too large, whatever int() would make of them.
        if (
            length is not None
            and length.isascii()
            and length.isdigit()
            and (len(length) > 18 or int(length) > limit)
        ):
            await _too_large(limit)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await _too_large(limit)(scope, receive, send)


def _too_large(limit: int) -> PlainTextResponse:
    """The 413 answer to a body over ``limit`` bytes, in the reader's language."""
    return PlainTextResponse(say("notice.body_too_large", size=_size(limit)), status_code=413)


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):g} MB"
    return f"{count // 1024} KB"


class _BodyTooLarge(Exception):
    pass
