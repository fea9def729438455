"""Element files in a bucket: Amazon S3 (and the stores that speak its API), Google Cloud
Storage and Azure Blob Storage, each behind lightchat's ``FileStorage`` and Chainlit's
storage-client methods.

One base class, ``BucketStorage``, does what the three share: keys made up by the storage
(as ``LocalFileStorage`` makes them), the size limit, files streamed both ways in chunks
(never held whole in memory), the SDK's blocking calls run in worker threads. Each service
is a module of its own that imports its library (an extra: ``lightchat[s3]``,
``lightchat[gcs]``, ``lightchat[azure]``); this module imports none of them.

``storage_from_environ`` picks one from Chainlit's variables (``BUCKET_NAME``,
``APP_AWS_*``, ``APP_GCS_*``, ``APP_AZURE_*``), which the app uses when it is given no
``files=``. Who may read a file is decided above, by the element's chat or thread, as for
local files.

Layer 3, beside ``lightchat.files``.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lightchat.errors import ConfigError
from lightchat.files import (
    DEFAULT_MAX_BYTES,
    FileTooLargeError,
    InvalidKeyError,
    MissingFileError,
    StoredFile,
)

if TYPE_CHECKING:
    from lightchat.files import FileStorage

__all__ = [
    "BaseStorageClient",
    "BucketStorage",
    "BucketWriter",
    "storage_expiry_time",
    "storage_from_environ",
]

_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


def storage_expiry_time(environ: Mapping[str, str] | None = None) -> int:
    """How long a signed read URL lasts, in seconds: Chainlit's ``STORAGE_EXPIRY_TIME``
    (3600 by default)."""
    value = (os.environ if environ is None else environ).get("STORAGE_EXPIRY_TIME", "3600")
    try:
        seconds = int(value)
    except ValueError:
        raise ConfigError(
            f"STORAGE_EXPIRY_TIME must be a number of seconds, not {value!r}."
        ) from None
    if seconds <= 0:
        raise ConfigError(f"STORAGE_EXPIRY_TIME must be positive, not {seconds}.")
    return seconds


class BaseStorageClient(ABC):
    """Chainlit's storage client: what a data layer (``storage_provider=``) calls to keep an
    element's file, remove it and make a URL to read it."""

    @abstractmethod
    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        """Store ``data`` under ``object_key``; ``{"object_key": ..., "url": ...}``."""

    @abstractmethod
    async def delete_file(self, object_key: str) -> bool:
        """Remove a file; whether it went."""

    @abstractmethod
    async def get_read_url(self, object_key: str) -> str:
        """A URL that reads the file (signed, short-lived, where the service signs)."""

    @abstractmethod
    async def close(self) -> None:
        """Let the service's connections go."""


class BucketWriter(ABC):
    """One file being written, in parts; the SDK's calls, run in a worker thread."""

    @abstractmethod
    def write(self, chunk: bytes) -> None:
        """Send the next part (``BucketStorage.part_size`` bytes, the last one smaller)."""

    @abstractmethod
    def commit(self) -> None:
        """Make the file whole and visible under its key."""

    @abstractmethod
    def abort(self) -> None:
        """Drop what was sent; nothing stays under the key."""


class BucketStorage(BaseStorageClient):
    """What the bucket storages share; a subclass gives the SDK's calls (all blocking, run
    in worker threads): ``_writer``, ``_reader``, ``_remove``, ``_signed_url``.

    It is lightchat's ``FileStorage`` (``put``, ``open``, ``read``, ``delete``: keys it
    makes up, under ``prefix``) and Chainlit's storage client (``upload_file``,
    ``delete_file``, ``get_read_url``, ``close``: keys the data layer chooses).
    ``signed_urls``: element files are answered with a redirect to a signed URL that lasts
    ``expiry_s`` seconds (after the usual owner check) instead of through the app.
    """

    service = "bucket"
    part_size = 5 * 1024 * 1024
    """The size of the parts a file is sent in (S3's smallest multipart part): a file is
    held in memory one part at a time."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        max_bytes: int = DEFAULT_MAX_BYTES,
        chunk_size: int = 64 * 1024,
        signed_urls: bool = False,
        expiry_s: int | None = None,
    ) -> None:
        if not bucket:
            raise ConfigError(f"{type(self).__name__} needs a bucket name (BUCKET_NAME).")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.signed_urls = signed_urls
        self.expiry_s = storage_expiry_time() if expiry_s is None else expiry_s

    # -- what a service gives ------------------------------------------------------------

    @abstractmethod
    def _writer(self, key: str, mime: str, disposition: str | None) -> BucketWriter:
        """Begin writing a file under ``key``."""

    @abstractmethod
    def _reader(self, key: str) -> Iterator[bytes]:
        """The file's bytes in chunks; raises ``MissingFileError`` before the first."""

    @abstractmethod
    def _remove(self, key: str) -> bool:
        """Delete the file; False when there was none."""

    @abstractmethod
    def _signed_url(
        self, key: str, expiry_s: int, disposition: str | None, mime: str | None
    ) -> str:
        """A URL reading the file for ``expiry_s`` seconds, with these response headers."""

    # -- keys ------------------------------------------------------------------------------

    def check_key(self, key: str) -> str:
        """``key`` if it can name an object of this storage; ``InvalidKeyError`` otherwise
        (empty, absolute, with a ``..`` segment or control characters, too long)."""
        if (
            not isinstance(key, str)
            or not key
            or len(key) > 1024
            or key.startswith("/")
            or _UNSAFE.search(key) is not None
            or ".." in key.split("/")
        ):
            raise InvalidKeyError(f"Not a file key of this storage: {key!r}.")
        return key

    def _new_key(self, name: str) -> str:
        digest = uuid.uuid4().hex
        extension = os.path.splitext(name)[1].lower()
        if _EXTENSION.fullmatch(extension) is None:
            extension = ""
        return f"{self.prefix}{digest[:2]}/{digest}{extension}"

    # -- lightchat's FileStorage -----------------------------------------------------------

    async def put(self, data: bytes | AsyncIterable[bytes], *, name: str, mime: str) -> StoredFile:
        """Store a file under a new key, sent in parts; ``FileTooLargeError`` (nothing
        kept) past ``max_bytes``."""
        if isinstance(data, bytes | bytearray | memoryview) and len(data) > self.max_bytes:
            raise self._too_large(name)
        key = self._new_key(name)
        size = await self._send(key, data, mime or "application/octet-stream", None, name)
        return StoredFile(key=key, size=size)

    async def _send(
        self,
        key: str,
        data: bytes | AsyncIterable[bytes],
        mime: str,
        disposition: str | None,
        name: str,
    ) -> int:
        writer = await asyncio.to_thread(self._writer, key, mime, disposition)
        size = 0
        try:
            async for part in self._parts(data):
                size += len(part)
                if size > self.max_bytes:
                    raise self._too_large(name)
                await asyncio.to_thread(writer.write, part)
            await asyncio.to_thread(writer.commit)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(writer.abort))
            raise
        return size

    async def _parts(self, data: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """``data`` in parts of ``part_size`` bytes (the last smaller; one empty part for
        an empty file)."""
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data)
            for start in range(0, max(len(view), 1), self.part_size):
                yield bytes(view[start : start + self.part_size])
            return
        buffer = bytearray()
        sent = False
        async for piece in data:
            buffer += piece
            while len(buffer) >= self.part_size:
                yield bytes(buffer[: self.part_size])
                del buffer[: self.part_size]
                sent = True
        if buffer or not sent:
            yield bytes(buffer)

    def _too_large(self, name: str) -> FileTooLargeError:
        return FileTooLargeError(
            f"{name!r} is larger than the {self.max_bytes:,}-byte limit; send a smaller file."
        )

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; ``MissingFileError`` now, not while iterating."""
        chunks = await asyncio.to_thread(self._reader, self.check_key(key))
        return self._iterate(chunks)

    async def _iterate(self, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
        try:
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                if chunk:
                    yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    async def read(self, key: str) -> bytes:
        """The whole file (for the small ones an app reads itself)."""
        return b"".join([chunk async for chunk in await self.open(key)])

    async def delete(self, key: str) -> bool:
        """Remove a file; False when there was none."""
        return await asyncio.to_thread(self._remove, self.check_key(key))

    async def read_url(
        self, key: str, *, disposition: str | None = None, mime: str | None = None
    ) -> str:
        """A signed URL reading the file for ``expiry_s`` seconds, answered with this
        ``Content-Disposition`` and ``Content-Type`` when given."""
        return await asyncio.to_thread(
            self._signed_url, self.check_key(key), self.expiry_s, disposition, mime
        )

    # -- Chainlit's storage client ---------------------------------------------------------

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        """Store ``data`` under ``object_key`` (a data layer's key); its key and a URL."""
        key = self.check_key(object_key)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not overwrite and await asyncio.to_thread(self._exists, key):
            raise FileExistsError(f"{object_key!r} is stored already.")
        await self._send(key, data, mime, content_disposition, object_key)
        return {"object_key": key, "url": await self.get_read_url(key)}

    def _exists(self, key: str) -> bool:
        try:
            chunks = self._reader(key)
        except MissingFileError:
            return False
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        return True

    async def delete_file(self, object_key: str) -> bool:
        """Remove a file; whether it was there."""
        return await self.delete(object_key)

    async def get_read_url(self, object_key: str) -> str:
        """A signed URL reading the file for ``expiry_s`` seconds."""
        return await self.read_url(object_key)

    async def close(self) -> None:
        """Nothing to let go by default."""


def storage_from_environ(
    environ: Mapping[str, str] | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> FileStorage | None:
    """The bucket Chainlit's variables name, or None when they name none.

    ``BUCKET_NAME`` with: ``APP_AWS_ACCESS_KEY``, ``APP_AWS_SECRET_KEY`` and
    ``APP_AWS_REGION`` (and ``DEV_AWS_ENDPOINT`` for an S3-compatible store) for S3;
    ``APP_GCS_PROJECT_ID`` (and ``APP_GCS_CLIENT_EMAIL``, ``APP_GCS_PRIVATE_KEY``) for
    Google Cloud Storage; ``APP_AZURE_STORAGE_ACCOUNT`` and
    ``APP_AZURE_STORAGE_ACCESS_KEY`` (and ``DEV_AZURE_ENDPOINT``, lightchat's, for Azurite)
    for Azure. ``LIGHTCHAT_STORAGE_SIGNED_URLS=1`` answers element files with signed URLs.
    Two services named at once, or a service without a bucket, is a ``ConfigError``:
    files never go somewhere the settings did not mean.
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        return env.get(name) or None

    s3 = bool(get("APP_AWS_ACCESS_KEY") and get("APP_AWS_SECRET_KEY") and get("APP_AWS_REGION"))
    gcs = bool(get("APP_GCS_PROJECT_ID"))
    azure = bool(get("APP_AZURE_STORAGE_ACCOUNT") and get("APP_AZURE_STORAGE_ACCESS_KEY"))
    named = [n for n, on in (("S3", s3), ("Google Cloud Storage", gcs), ("Azure", azure)) if on]
    if not named:
        return None
    if len(named) > 1:
        raise ConfigError(
            f"The variables name several file storages ({', '.join(named)}); set one."
        )
    bucket = get("BUCKET_NAME")
    if bucket is None:
        raise ConfigError(f"{named[0]} file storage needs BUCKET_NAME, the bucket's name.")
    options: dict[str, Any] = {
        "max_bytes": max_bytes,
        "signed_urls": (get("LIGHTCHAT_STORAGE_SIGNED_URLS") or "").lower() in ("1", "true", "yes"),
        "expiry_s": storage_expiry_time(env),
    }
    try:
        if s3:
            from lightchat.storage.s3 import S3StorageClient

            return S3StorageClient(
                bucket,
                region_name=get("APP_AWS_REGION"),
                aws_access_key_id=get("APP_AWS_ACCESS_KEY"),
                aws_secret_access_key=get("APP_AWS_SECRET_KEY"),
                endpoint_url=get("DEV_AWS_ENDPOINT"),
                **options,
            )
        if gcs:
            from lightchat.storage.gcs import GCSStorageClient

            return GCSStorageClient(
                bucket_name=bucket,
                project_id=get("APP_GCS_PROJECT_ID"),
                client_email=get("APP_GCS_CLIENT_EMAIL"),
                private_key=get("APP_GCS_PRIVATE_KEY"),
                **options,
            )
        from lightchat.storage.azure import AzureBlobStorageClient

        return AzureBlobStorageClient(
            container_name=bucket,
            storage_account=get("APP_AZURE_STORAGE_ACCOUNT") or "",
            storage_key=get("APP_AZURE_STORAGE_ACCESS_KEY") or "",
            account_url=get("DEV_AZURE_ENDPOINT"),
            **options,
        )
    except ModuleNotFoundError as missing:
        extra = {"S3": "s3", "Google Cloud Storage": "gcs", "Azure": "azure"}[named[0]]
        raise ConfigError(
            f"{named[0]} file storage needs {missing.name}: pip install 'lightchat[{extra}]'."
        ) from None
