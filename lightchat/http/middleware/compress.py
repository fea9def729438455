"""``CompressPages``: pages and fragments (HTML, JSON) compressed on their way out.

An answer is compressed when it is whole in one piece (every page and htmx fragment
lightchat renders is), of a compressible type, at least ``MIN_BYTES`` long, not already
encoded nor a part of a file (a range), and the request accepts Brotli or gzip
(``lightchat.http.encoding``). Such an answer says ``Vary: Accept-Encoding`` whether or
not this request got it compressed.

Everything else goes through untouched and unbuffered: the event stream (its first body
message says more is coming, and ``text/event-stream`` is never compressed), files sent
in chunks, and answers with no body. Plain ASGI (never ``BaseHTTPMiddleware``, see
``lightchat.http.middleware``).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.http.encoding import VARY, accepted, compress, compressible

MIN_BYTES = 512
"""Below this an answer is sent as it is (its headers outweigh what compressing saves)."""


class CompressPages:
    """Compress whole HTML and JSON answers for the browsers that accept it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        encoding = accepted(Headers(scope=scope).get("accept-encoding"))
        start: Message | None = None

        async def compressing(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                if (
                    "content-encoding" in headers
                    or "content-range" in headers  # a part of a file (206)
                    or not compressible(headers.get("content-type", ""))
                ):
                    await send(message)  # not ours to touch: sent as it comes
                    return
                start = message  # held until the body says whether it is whole
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            held, start = start, None
            body: bytes = message.get("body", b"")
            if message.get("more_body", False) or len(body) < MIN_BYTES:
                await send(held)  # a stream, or too small: as it is
                await send(message)
                return
            headers = MutableHeaders(raw=list(held["headers"]))
            listed = [name.strip().lower() for name in headers.get("vary", "").split(",")]
            if VARY.lower() not in listed:
                headers.add_vary_header(VARY)
            if encoding is not None:
                packed = compress(body, encoding)
                if len(packed) < len(body):
                    body = packed
                    headers["content-encoding"] = encoding
                    headers["content-length"] = str(len(body))
                    etag = headers.get("etag")
                    if etag and not etag.startswith("W/"):
                        # Other bytes than those the tag names: the same content only.
                        headers["etag"] = f"W/{etag}"
            await send({**held, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, compressing)
