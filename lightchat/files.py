"""File storage for uploads and element files: an interface and a local-folder backend.

The storage never sees a client-supplied path. ``put`` stores bytes under a key it makes
up (random, with the original name's extension at most) and returns it; the database keeps
the key with the element, and only the key comes back to ``open``/``read``/``delete``. A
key that the storage could not have generated (``../../etc/passwd``, an absolute path, a
different shape) is refused with ``InvalidKeyError`` before any file system call.

Who may read a file is decided above, by the element's chat or thread (see
``SQLStore.get_element`` with ``owner``); the storage itself only stores.

Layer 3, beside the bus and the store: it imports only the standard library and
``lightchat.errors``, so a chat can keep files without loading the database libraries.

Concurrency: file I/O runs in worker threads (``asyncio.to_thread``), one chunk at a time,
so a large upload never blocks the event loop. A file is written to a hidden ``.part`` name
beside its final place (no key can name it) and renamed when complete, so a reader never
sees half a file, and a file over the size limit (or a cancelled upload) leaves nothing.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from lightchat.errors import LightChatError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FileError",
    "FileStorage",
    "FileTooLargeError",
    "InvalidKeyError",
    "LocalFileStorage",
    "MissingFileError",
    "StoredFile",
]


class FileError(LightChatError):
    """Base class for the errors file storage raises on purpose."""


class FileTooLargeError(FileError, ValueError):
    """A file is larger than the storage's ``max_bytes``; nothing was kept."""


class InvalidKeyError(FileError, ValueError):
    """A storage key that the storage did not generate (e.g. a path with ``..``)."""


class MissingFileError(FileError, LookupError):
    """No file is stored under that key (any more)."""


#: The default size limit of one file: 20 MiB.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

_KEY = re.compile(r"(?P<shard>[0-9a-f]{2})/(?P=shard)[0-9a-f]{30}(\.[a-z0-9]{1,10})?")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What ``put`` stored: the key to keep (e.g. in ``ElementRecord.storage_key``), the size."""

    key: str
    size: int


@runtime_checkable
class FileStorage(Protocol):
    """Where uploads and element files go. Keys are made by the storage, never by clients."""

    max_bytes: int

    async def put(self, data: bytes | AsyncIterable[bytes], *, name: str, mime: str) -> StoredFile:
        """Store a file; raises ``FileTooLargeError`` (keeping nothing) past ``max_bytes``.

        ``name`` and ``mime`` are the client's, kept for backends that use them (a
        content type on an object store); they never choose where the file goes.
        """
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; raises ``MissingFileError`` now (not while iterating)."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole file; raises ``MissingFileError``."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove a file; False when there was none."""
        ...


class LocalFileStorage:
    """Files in a local folder, as ``<root>/<2 hex>/<32 hex>[.ext]``.

    >>> files = LocalFileStorage(Path(".lightchat/files"), max_bytes=5_000_000)
    """

    def __init__(
        self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, chunk_size: int = 64 * 1024
    ) -> None:
        """Store under ``root`` (created on the first ``put``)."""
        self.root = root.absolute()
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size

    def path(self, key: str) -> Path:
        """Where a key's file lives (e.g. to serve it with a ``FileResponse``).

        Raises ``InvalidKeyError`` for a key this storage could not have generated.
        """
        if not isinstance(key, str) or _KEY.fullmatch(key) is None:
            raise InvalidKeyError(f"Not a file key of this storage: {key!r}.")
        path = self.root / key
        # The pattern already rules out "..", "/" and drive letters; this is a second lock.
        if not path.is_relative_to(self.root):
            raise InvalidKeyError(f"Not a file key of this storage: {key!r}.")
        return path

    def _new_key(self, name: str) -> str:
        digest = uuid.uuid4().hex
        extension = os.path.splitext(name)[1].lower()
        if _EXTENSION.fullmatch(extension) is None:
            extension = ""
        return f"{digest[:2]}/{digest}{extension}"

    async def put(self, data: bytes | AsyncIterable[bytes], *, name: str, mime: str) -> StoredFile:
        """Store a file (see ``FileStorage.put``)."""
        if isinstance(data, bytes | bytearray | memoryview) and len(data) > self.max_bytes:
            raise self._too_large(name)
        key = self._new_key(name)
        path = self.path(key)
        # A dot name: no key can name it, so a half-written file is never served.
        partial = path.with_name(f".{path.name}.part")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle: IO[bytes] = await asyncio.to_thread(partial.open, "xb")
        size = 0
        try:
            async for chunk in self._chunks(data):
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_large(name)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size=size)

    async def _chunks(self, data: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data)
            for start in range(0, len(view), self.chunk_size):
                yield bytes(view[start : start + self.chunk_size])
            return
        buffer = bytearray()
        async for piece in data:
            buffer += piece
            if len(buffer) >= self.chunk_size:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)

    def _too_large(self, name: str) -> FileTooLargeError:
        return FileTooLargeError(
            f"{name!r} is larger than the {self.max_bytes:,}-byte limit; send a smaller file."
        )

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (see ``FileStorage.open``)."""
        path = self.path(key)
        try:
            handle: IO[bytes] = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise MissingFileError(f"No file {key!r}.") from None
        return self._iterate(handle)

    async def _iterate(self, handle: IO[bytes]) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, self.chunk_size):
                yield chunk
        finally:
            handle.close()

    async def read(self, key: str) -> bytes:
        """The whole file (see ``FileStorage.read``)."""
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise MissingFileError(f"No file {key!r}.") from None

    async def delete(self, key: str) -> bool:
        """Remove a file; False when there was none."""
        path = self.path(key)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True
