"""The same storage contract on every service, each against its real local server started
once for this test process (``tests.storage_servers``): S3 on moto's server, Azure Blob on
Azurite, Google Cloud Storage on gcp-storage-emulator. A file goes in in parts and comes
back in chunks, a refused or cancelled upload leaves nothing, Chainlit's storage-client
methods and variables work. tests/test_storage_s3.py adds S3's own details and the app.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lightchat.errors import ConfigError
from lightchat.files import FileStorage, FileTooLargeError, MissingFileError
from lightchat.storage import BucketStorage, storage_from_environ
from lightchat.storage.azure import AzureBlobStorageClient
from lightchat.storage.gcs import GCSStorageClient
from lightchat.storage.s3 import S3StorageClient
from tests.storage_servers import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Endpoint,
    azurite,
    gcs_emulator,
    moto_s3,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

MIB = 1024 * 1024


@dataclass
class Service:
    """A service's local server, and how a test makes a storage on a new bucket of it."""

    name: str
    endpoint: Endpoint
    variables: Callable[[str], dict[str, str]]
    """Chainlit's variables naming a bucket of this server."""
    make_bucket: Callable[[BucketStorage], None]
    names: Callable[[BucketStorage], list[str]]
    """The keys of the objects in the storage's bucket."""


def _s3(endpoint: Endpoint) -> Service:
    def variables(bucket: str) -> dict[str, str]:
        return {
            "BUCKET_NAME": bucket,
            "APP_AWS_ACCESS_KEY": "testing",
            "APP_AWS_SECRET_KEY": "testing",
            "APP_AWS_REGION": "us-east-1",
            "DEV_AWS_ENDPOINT": endpoint.url,
        }

    def make(storage: BucketStorage) -> None:
        assert isinstance(storage, S3StorageClient)
        storage.client.create_bucket(Bucket=storage.bucket)

    def names(storage: BucketStorage) -> list[str]:
        assert isinstance(storage, S3StorageClient)
        listed = storage.client.list_objects_v2(Bucket=storage.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]

    return Service("s3", endpoint, variables, make, names)


def _azure(endpoint: Endpoint) -> Service:
    def variables(bucket: str) -> dict[str, str]:
        return {
            "BUCKET_NAME": bucket,
            "APP_AZURE_STORAGE_ACCOUNT": AZURITE_ACCOUNT,
            "APP_AZURE_STORAGE_ACCESS_KEY": AZURITE_KEY,
            "DEV_AZURE_ENDPOINT": endpoint.url,
        }

    def make(storage: BucketStorage) -> None:
        assert isinstance(storage, AzureBlobStorageClient)
        storage.container_client.create_container()

    def names(storage: BucketStorage) -> list[str]:
        assert isinstance(storage, AzureBlobStorageClient)
        return [str(blob.name) for blob in storage.container_client.list_blobs()]

    return Service("azure", endpoint, variables, make, names)


def _gcs(endpoint: Endpoint) -> Service:
    def variables(bucket: str) -> dict[str, str]:
        return {"BUCKET_NAME": bucket, "APP_GCS_PROJECT_ID": "test-project"}

    def make(storage: BucketStorage) -> None:
        assert isinstance(storage, GCSStorageClient)
        storage.client.create_bucket(storage.bucket)

    def names(storage: BucketStorage) -> list[str]:
        assert isinstance(storage, GCSStorageClient)
        return [str(blob.name) for blob in storage.client.list_blobs(storage.bucket)]

    return Service("gcs", endpoint, variables, make, names)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    """The three servers, started when a test first needs one and kept for the session."""
    with ExitStack() as stack:
        started: dict[str, Service] = {}
        starters = {
            "s3": lambda: _s3(stack.enter_context(moto_s3())),
            "azure": lambda: _azure(
                stack.enter_context(azurite(tmp_path_factory.mktemp("azurite")))
            ),
            "gcs": lambda: _gcs(stack.enter_context(gcs_emulator(tmp_path_factory.mktemp("gcs")))),
        }

        class Lazy(dict[str, Service]):
            def __missing__(self, name: str) -> Service:
                started[name] = self[name] = starters[name]()
                return started[name]

        yield Lazy()


@pytest.fixture(params=["s3", "azure", "gcs"])
def service(
    request: pytest.FixtureRequest, servers: dict[str, Service], monkeypatch: pytest.MonkeyPatch
) -> Service:
    found = servers[request.param]
    if found.name == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", found.endpoint.url)
    return found


@pytest.fixture
def storage(service: Service) -> Iterator[BucketStorage]:
    """A storage on a new bucket, made from Chainlit's variables."""
    made = storage_from_environ(service.variables(f"files-{uuid.uuid4().hex[:12]}"))
    assert isinstance(made, BucketStorage)
    service.make_bucket(made)
    yield made
    asyncio.run(made.close())


async def pieces(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield bytes([sent // size % 251]) * piece
        sent += piece
        await asyncio.sleep(0)


def expected(total: int, size: int = 64 * 1024) -> bytes:
    return b"".join(
        bytes([start // size % 251]) * min(size, total - start) for start in range(0, total, size)
    )


async def test_a_file_goes_in_and_comes_back(storage: BucketStorage, service: Service) -> None:
    assert isinstance(storage, FileStorage)
    stored = await storage.put(b"a,b\n1,2\n", name="report.csv", mime="text/csv")
    assert stored.size == 8
    assert await storage.read(stored.key) == b"a,b\n1,2\n"
    assert await asyncio.to_thread(service.names, storage) == [stored.key]
    empty = await storage.put(b"", name="empty.txt", mime="text/plain")
    assert await storage.read(empty.key) == b""
    assert await storage.delete(stored.key) is True
    assert await storage.delete(stored.key) is False
    with pytest.raises(MissingFileError):
        await storage.open(stored.key)


async def test_a_large_file_goes_in_parts_and_comes_back_in_chunks(
    storage: BucketStorage,
) -> None:
    total = 11 * MIB + 3
    parts: list[int] = []
    original = storage._writer

    def watched(key: str, mime: str, disposition: str | None) -> Any:
        writer = original(key, mime, disposition)
        write = writer.write

        def write_part(chunk: bytes) -> None:
            parts.append(len(chunk))
            write(chunk)

        writer.write = write_part  # type: ignore[method-assign]
        return writer

    storage._writer = watched  # type: ignore[method-assign]
    stored = await storage.put(pieces(total), name="big.bin", mime="application/octet-stream")
    assert stored.size == total
    assert parts == [5 * MIB, 5 * MIB, MIB + 3]  # one part in memory at a time
    chunks = [chunk async for chunk in await storage.open(stored.key)]
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= storage.chunk_size
    assert b"".join(chunks) == expected(total)


async def test_a_refused_or_cancelled_upload_leaves_nothing(
    storage: BucketStorage, service: Service
) -> None:
    storage.max_bytes = 6 * MIB
    with pytest.raises(FileTooLargeError):
        await storage.put(pieces(12 * MIB), name="huge.bin", mime="application/octet-stream")

    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            started.set()
            yield b"x" * (64 * 1024)
            await asyncio.sleep(0.001)

    storage.max_bytes = 1024 * MIB
    upload = asyncio.create_task(storage.put(endless(), name="slow.bin", mime="text/plain"))
    await started.wait()
    await asyncio.sleep(0.3)  # some parts on their way
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert await asyncio.to_thread(service.names, storage) == []


async def test_chainlits_storage_client_methods(storage: BucketStorage, service: Service) -> None:
    if service.name == "gcs":
        # Read URLs are signed with a service account's key, which the emulator has not:
        # a key of the test's own signs them (the signature is checked in the next test).
        storage._signed_url = lambda key, *rest: f"signed:{key}"  # type: ignore[method-assign]
    uploaded = await storage.upload_file("user-1/thread-1/notes.txt", "héllo", mime="text/plain")
    assert uploaded["object_key"] == "user-1/thread-1/notes.txt"
    assert "user-1/thread-1/notes.txt" in uploaded["url"]
    assert await storage.read("user-1/thread-1/notes.txt") == "héllo".encode()
    with pytest.raises(FileExistsError):
        await storage.upload_file("user-1/thread-1/notes.txt", b"again", overwrite=False)
    assert "user-1/thread-1/notes.txt" in await storage.get_read_url("user-1/thread-1/notes.txt")
    assert await storage.delete_file("user-1/thread-1/notes.txt") is True
    assert await storage.delete_file("user-1/thread-1/notes.txt") is False


@pytest.mark.parametrize("service", ["s3", "azure"], indirect=True)
async def test_a_signed_url_reads_the_file_with_the_headers_asked_for(
    storage: BucketStorage, service: Service
) -> None:
    stored = await storage.put(b"%PDF-1.4", name="r.pdf", mime="application/pdf")
    disposition = "attachment; filename*=UTF-8''Q3%20report.pdf"
    url = await storage.read_url(stored.key, disposition=disposition, mime="application/pdf")

    def fetch(address: str) -> tuple[bytes, str | None, str | None]:
        with urllib.request.urlopen(address, timeout=5) as response:
            headers = response.headers
            return response.read(), headers["Content-Disposition"], headers["Content-Type"]

    assert await asyncio.to_thread(fetch, url) == (b"%PDF-1.4", disposition, "application/pdf")
    if service.name == "azure":
        # Azurite checks the signature (moto's S3 server does not): a forged one is refused.
        forged = re.sub(r"sig=[^&]+", "sig=AAAA", url)
        with pytest.raises(urllib.error.HTTPError) as refused:
            await asyncio.to_thread(fetch, forged)
        assert refused.value.code == 403
        refused.value.close()


def test_a_gcs_read_url_is_signed_with_the_service_accounts_key(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    storage = GCSStorageClient(
        "files",
        project_id="acme",
        client_email="chat@acme.iam.gserviceaccount.com",
        private_key=pem.replace("\n", "\\n"),  # as a .env holds it, on one line
    )
    url = storage._signed_url("ab/cd.pdf", 600, "attachment", "application/pdf")
    assert url.startswith("https://storage.googleapis.com/files/ab/cd.pdf?")
    assert "X-Goog-Algorithm=GOOG4-RSA-SHA256" in url
    assert "X-Goog-Expires=600" in url
    assert "X-Goog-Signature=" in url
    assert "response-content-disposition=attachment" in url
    assert timedelta(seconds=storage.expiry_s) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"APP_AZURE_STORAGE_ACCOUNT": "a", "APP_AZURE_STORAGE_ACCESS_KEY": "k"}, "several"),
        ({"BUCKET_NAME": ""}, "needs BUCKET_NAME"),
    ],
)
def test_the_variables_name_one_bucket_or_the_app_does_not_start(
    extra: dict[str, str], message: str
) -> None:
    variables = {"BUCKET_NAME": "b", "APP_GCS_PROJECT_ID": "p", **extra}
    with pytest.raises(ConfigError, match=message):
        storage_from_environ(variables)
