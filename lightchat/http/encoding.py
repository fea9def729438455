"""Content encodings: which one a request accepts, and compressing bytes with it.

Brotli where the browser accepts it (every current browser does over HTTP and HTTPS alike
for what lightchat serves), else gzip, else the bytes as they are. Two callers: the static
files (``lightchat.http.endpoints.static``), compressed once at the highest levels and
kept, and the HTML answers (``lightchat.http.middleware.compress``), compressed per answer
at levels that cost a fraction of a millisecond for a page.

The ``brotli`` library (a small compiled wheel, a dependency) is imported here only.
"""

from __future__ import annotations

import gzip
from typing import Literal

import brotli

Encoding = Literal["br", "gzip"]

ENCODINGS: tuple[Encoding, ...] = ("br", "gzip")
"""The encodings lightchat makes, preferred first."""

VARY = "Accept-Encoding"

COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
)
"""Content types worth compressing (what is already compressed, images, fonts, is not)."""


LARGE_BYTES = 1024 * 1024


def compressible(content_type: str) -> bool:
    """True for a type whose bytes shrink when compressed (text, scripts, JSON, SVG)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(COMPRESSIBLE) and kind != "text/event-stream"


def accepted(header: str | None) -> Encoding | None:
    """The encoding to answer with for an ``Accept-Encoding`` header: ``br`` before
    ``gzip``, each only when listed (or ``*``) without ``q=0``; None for the bytes as
    they are."""
    if not header:
        return None
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[name] = weight
    for encoding in ENCODINGS:
        weight = weights.get(encoding, weights.get("*", 0.0))
        if weight > 0:
            return encoding
    return None


def compress(data: bytes, encoding: Encoding, *, best: bool = False) -> bytes:
    """``data`` compressed with ``encoding``: ``best`` for bytes made once and kept (the
    highest levels: slow, about a tenth of a second per 50 KB of CSS; a file over
    ``LARGE_BYTES``, plotly.js, gets Brotli's level 9, a few percent larger in a
    twentieth of the time), else fast levels for an answer made per request."""
    if encoding == "br":
        quality = (11 if len(data) < LARGE_BYTES else 9) if best else 5
        return bytes(brotli.compress(data, mode=brotli.MODE_TEXT, quality=quality, lgwin=22))
    return gzip.compress(data, compresslevel=9 if best else 6, mtime=0)


def decompress(data: bytes, encoding: Encoding) -> bytes:
    """What ``compress`` compressed (for a check, and for tests)."""
    if encoding == "br":
        return bytes(brotli.decompress(data))
    return gzip.decompress(data)
