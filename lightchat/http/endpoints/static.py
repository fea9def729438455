"""lightchat's static files (``lightchat/static``) at ``/-/static``: compressed once, cached
by the browser for good, and a page's scripts in one request.

- **Versions.** ``StaticFiles.version`` is a digest of the files; pages name each file with
  it (``/-/static/lightchat.css?v=<version>``), so a new lightchat's files have new URLs. An
  answer to a URL with the current version says ``Cache-Control: public,
  max-age=31536000, immutable``: a repeat visit asks for no static file at all. Any other
  URL (no version, an old one, a file changed since the start) says ``no-cache``: the
  browser asks again each time, and its ``If-None-Match`` gets a 304 while the file is the
  same (the ``ETag`` is the file's digest, one per encoding).
- **One request for a page's scripts.** ``/-/static/lightchat.js+lightchat.composer.js+
  htmx-sse-4.0.1.min.js`` is those scripts, joined in that order (each still runs as its
  own ``(function () { ... })()``): a page names the scripts it needs (``base.html``), and
  loads them as one file. Only top-level ``.js`` files join, each once.
- **Compression.** Text files are kept in memory as they are, with Brotli and with gzip at
  the highest levels, and answered in the best encoding the request's
  ``Accept-Encoding`` takes (``Vary: Accept-Encoding``). Compressing takes about a
  tenth of a second per file, in a worker thread, once: the results are kept in the app's
  state folder (``.lightchat/static``, named by the content's digest, so a stale one is
  never read) when the server starts (``prepare``), which also readies the first page's
  files in the background, so the first visitor does not wait for them.

Plain ASGI, mounted at ``/-/static`` (``lightchat.http.routes``); the vendored files
below ``vendor/`` have a route of their own (``lightchat.http.endpoints.custom``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from lightchat.http.encoding import (
    ENCODINGS,
    VARY,
    Encoding,
    accepted,
    compress,
    compressible,
)

logger = logging.getLogger("lightchat")

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
JOIN = "+"
MAX_PARTS = 6
"""The most scripts one URL joins (a page names three or four)."""

FIRST_PAGE = (
    ("lightchat.css",),
    ("lightchat.js", "lightchat.composer.js", "htmx-sse-4.0.1.min.js"),
    ("lightchat.js", "htmx-sse-4.0.1.min.js"),
    ("lightchat.code.css",),
)
"""What a first visit loads (the stylesheet, a chat page's and another page's scripts, the
colours of code with its first code block): readied when the server starts."""

_SUFFIX = {".br": "br", ".gz": "gzip"}


@dataclass(frozen=True, slots=True)
class Asset:
    """One answer's bytes: a file, or scripts joined, with its compressed forms."""

    parts: tuple[str, ...]
    content_type: str
    digest: str
    """The digest of the bytes as they are (the ETag's base)."""
    body: bytes
    encoded: dict[Encoding, bytes] = field(default_factory=dict)
    stamps: tuple[tuple[int, int], ...] = ()
    """Each part's modification time and size when read: a change is seen and read again."""
    part_digests: tuple[str, ...] = ()
    """Each part's digest when read (compared with those the version was made of)."""

    def etag(self, encoding: Encoding | None) -> str:
        return f'"{self.digest}-{encoding}"' if encoding else f'"{self.digest}"'


class StaticFiles:
    """The ASGI app that serves ``folder``'s top-level files (see the module docstring)."""

    def __init__(self, folder: Path | None, only: Iterable[str] | None = None) -> None:
        """``folder``: None serves nothing (a library that is not installed); ``only``:
        the files served, when not all of the folder's."""
        self.folder = folder if folder is not None else Path()
        self._only = None if only is None else frozenset(only)
        if folder is None:
            self._only = frozenset()
        self.cache_dir: Path | None = None
        """Where compressed files are kept between starts (set by ``prepare``)."""
        self._names: frozenset[str] | None = None
        self._digests: dict[str, str] = {}
        self._version: str | None = None
        self._assets: dict[tuple[str, ...], Asset] = {}
        self._making: dict[tuple[str, ...], asyncio.Task[Asset]] = {}

    # -- what there is ----------------------------------------------------------------------

    @property
    def names(self) -> frozenset[str]:
        """The files served: the folder's top-level files (its subfolders are not)."""
        if self._names is None:
            if self._only is not None:
                self._names = frozenset(
                    name for name in self._only if (self.folder / name).is_file()
                )
            else:
                self._names = frozenset(
                    path.name
                    for path in self.folder.iterdir()
                    if path.is_file() and not path.name.startswith(".")
                )
        return self._names

    @property
    def version(self) -> str:
        """The files' version: a digest of all of them, read once (about a millisecond)."""
        if self._version is None:
            digest = hashlib.sha256()
            for name in sorted(self.names):
                data = (self.folder / name).read_bytes()
                self._digests[name] = hashlib.sha256(data).hexdigest()
                digest.update(name.encode() + b"\0" + self._digests[name].encode())
            self._version = digest.hexdigest()[:10]
        return self._version

    def parts(self, path: str) -> tuple[str, ...] | None:
        """The files a path below ``/-/static/`` names, or None when it names none: one
        file, or up to ``MAX_PARTS`` distinct scripts joined by ``+``."""
        parts = tuple(path.split(JOIN))
        if not parts or len(parts) > MAX_PARTS or len(set(parts)) != len(parts):
            return None
        if any(part not in self.names for part in parts):
            return None
        if len(parts) > 1 and not all(part.endswith(".js") for part in parts):
            return None
        return parts

    def current(self, asset: Asset) -> bool:
        """True when the asset's files are those ``version`` was made of (a file changed
        since then is served, but not for good under the old version)."""
        self.version  # noqa: B018 (the digests are read with the version)
        return all(
            self._digests.get(part) == digest
            for part, digest in zip(asset.parts, asset.part_digests, strict=True)
        )

    # -- making an asset --------------------------------------------------------------------

    def _read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def _stamps(self, parts: tuple[str, ...]) -> tuple[tuple[int, int], ...] | None:
        try:
            found = [os.stat(self.folder / part) for part in parts]
        except OSError:
            return None
        return tuple((stat.st_mtime_ns, stat.st_size) for stat in found)

    def _make(self, parts: tuple[str, ...]) -> Asset:
        """Read the parts, join them, and compress (or find compressed) the result: in a
        worker thread."""
        stamps = self._stamps(parts) or ()
        files = [self._read(part) for part in parts]
        if len(files) == 1:
            body = files[0]
        else:
            # A line with a lone semicolon between scripts: a script whose last statement
            # lacks one cannot run into the next.
            body = b"\n;\n".join(data.rstrip(b"\n") for data in files) + b"\n"
        kind = mimetypes.guess_type(parts[0])[0] or "application/octet-stream"
        if parts[0].endswith(".js"):
            kind = "text/javascript"
        if kind.startswith("text/") or kind.endswith(("+xml", "/json")):
            kind += "; charset=utf-8"
        digest = hashlib.sha256(body).hexdigest()[:20]
        encoded: dict[Encoding, bytes] = {}
        if compressible(kind):
            for encoding in ENCODINGS:
                packed = self._kept(digest, encoding)
                if packed is None:
                    packed = compress(body, encoding, best=True)
                    self._keep(digest, encoding, packed)
                if len(packed) < len(body):
                    encoded[encoding] = packed
        part_digests = tuple(hashlib.sha256(data).hexdigest() for data in files)
        return Asset(parts, kind, digest, body, encoded, stamps, part_digests)

    def _kept(self, digest: str, encoding: Encoding) -> bytes | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / f"{digest}.{'br' if encoding == 'br' else 'gz'}"
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _keep(self, digest: str, encoding: Encoding, data: bytes) -> None:
        """Keep compressed bytes for the next start (a folder that cannot be written to
        only means compressing again then)."""
        if self.cache_dir is None:
            return
        path = self.cache_dir / f"{digest}.{'br' if encoding == 'br' else 'gz'}"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            # Written aside, then renamed: another process starting at the same time
            # never reads half a file.
            handle, temporary = tempfile.mkstemp(dir=self.cache_dir, prefix=".part-")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except OSError as exc:
            logger.debug("Could not keep a compressed static file in %s: %s", path, exc)

    async def asset(self, parts: tuple[str, ...]) -> Asset:
        """The asset of ``parts``, made once (and again when a part changed on disk).

        It is made in a task of its own, which the requests waiting for it share: a
        request that goes away does not stop it for the others."""
        found = self._assets.get(parts)
        if found is not None and self._stamps(parts) == found.stamps:
            return found
        loop = asyncio.get_running_loop()
        making = self._making.get(parts)
        if making is None or making.get_loop() is not loop:  # none, or an old loop's
            making = loop.create_task(self._build(parts))
            self._making[parts] = making
            making.add_done_callback(lambda done: self._made(parts, done))
        return await asyncio.shield(making)

    async def _build(self, parts: tuple[str, ...]) -> Asset:
        made = await asyncio.to_thread(self._make, parts)
        self._assets[parts] = made
        return made

    def _made(self, parts: tuple[str, ...], done: asyncio.Task[Asset]) -> None:
        if self._making.get(parts) is done:
            del self._making[parts]
        if not done.cancelled():
            done.exception()  # seen by whoever waited for it; retrieved here for the others

    async def prepare(self, cache_dir: Path | None) -> None:
        """Keep compressed files in ``cache_dir`` from now on, and ready what a first visit
        loads (in the background: the server answers meanwhile)."""
        if cache_dir is not None:
            self.cache_dir = cache_dir
        for parts in FIRST_PAGE:
            if all(part in self.names for part in parts):
                try:
                    await self.asset(parts)
                except OSError as exc:  # a request for it will say so, with a 404 or a 500
                    logger.warning("Could not read the static files %s: %s", parts, exc)

    # -- answering --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        parts = self.parts(_route_path(scope).lstrip("/"))
        if parts is None:
            raise HTTPException(404, "There is no such file.")
        try:
            asset = await self.asset(parts)
        except FileNotFoundError:  # removed since the folder was listed
            raise HTTPException(404, "There is no such file.") from None
        request = Headers(scope=scope)
        encoding = accepted(request.get("accept-encoding"))
        body = asset.encoded.get(encoding) if encoding else None
        if body is None:
            encoding, body = None, asset.body
        version = QueryParams(scope.get("query_string", b"")).get("v")
        fresh = version == self.version and self.current(asset)
        etag = asset.etag(encoding)
        headers = [
            (b"content-type", asset.content_type.encode()),
            (b"etag", etag.encode()),
            (b"cache-control", (IMMUTABLE if fresh else REVALIDATE).encode()),
        ]
        if asset.encoded:
            headers.append((b"vary", VARY.encode()))
        if _matches(request.get("if-none-match"), etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if encoding is not None:
            headers.append((b"content-encoding", encoding.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _route_path(scope: Scope) -> str:
    """The path below the mount point (Starlette's mounts keep the whole path in
    ``path`` and the part they matched in ``root_path``)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :]
    return path


def _matches(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weakly, as it may: ``W/`` is taken)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
