"""Element files in S3, against moto's S3 server started on loopback for this test process
(``tests.storage_servers.moto_s3``): files sent in parts and read in chunks, the size
limit, signed URLs, Chainlit's storage-client methods and variables, and the app keeping
uploads there and serving them only to their chat's owner.
"""

from __future__ import annotations

import asyncio
import gc
import html
import re
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import lightchat as cl
from lightchat import LightChat, Message
from lightchat.config.settings import Settings
from lightchat.data.storage_clients.s3 import S3StorageClient as ChainlitPathClient
from lightchat.errors import ConfigError
from lightchat.files import FileStorage, FileTooLargeError, InvalidKeyError, MissingFileError
from lightchat.storage import storage_from_environ
from lightchat.storage.s3 import S3StorageClient
from tests.helpers import Serve, chat_id, messages_in, wait_for_log
from tests.storage_servers import Endpoint, moto_s3

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

MIB = 1024 * 1024


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


def s3_variables(endpoint: Endpoint, bucket: str) -> dict[str, str]:
    """Chainlit's variables for an S3-compatible store at ``endpoint``."""
    return {
        "BUCKET_NAME": bucket,
        "APP_AWS_ACCESS_KEY": "testing",
        "APP_AWS_SECRET_KEY": "testing",
        "APP_AWS_REGION": "us-east-1",
        "DEV_AWS_ENDPOINT": endpoint.url,
    }


def raw_client(endpoint: Endpoint) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3_server: Endpoint) -> Iterator[str]:
    """A new bucket on the server, for one test."""
    name = f"files-{uuid.uuid4().hex[:12]}"
    client = raw_client(s3_server)
    client.create_bucket(Bucket=name)
    yield name
    client.close()


@pytest.fixture
def storage(s3_server: Endpoint, bucket: str) -> Iterator[S3StorageClient]:
    found = storage_from_environ(s3_variables(s3_server, bucket))
    assert isinstance(found, S3StorageClient)
    yield found
    found.client.close()


async def pieces(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes, as an upload arrives: in pieces, each its own pattern."""
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


async def test_a_file_goes_in_and_comes_back_under_a_key_the_storage_made(
    storage: S3StorageClient, s3_server: Endpoint, bucket: str
) -> None:
    assert isinstance(storage, FileStorage)
    stored = await storage.put(b"a,b\n1,2\n", name="Report.CSV", mime="text/csv")
    assert stored.size == 8
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.csv", stored.key)
    assert await storage.read(stored.key) == b"a,b\n1,2\n"
    head = raw_client(s3_server).head_object(Bucket=bucket, Key=stored.key)
    assert head["ContentType"] == "text/csv"
    assert await storage.delete(stored.key) is True
    assert await storage.delete(stored.key) is False
    with pytest.raises(MissingFileError):
        await storage.open(stored.key)
    empty = await storage.put(b"", name="empty", mime="text/plain")
    assert await storage.read(empty.key) == b""


@pytest.mark.parametrize("key", ["", "/etc/passwd", "a/../b", "..", "a\x00b", "a\\b"])
async def test_a_key_that_names_no_object_is_refused_before_any_request(
    storage: S3StorageClient, key: str
) -> None:
    with pytest.raises(InvalidKeyError):
        await storage.open(key)
    with pytest.raises(InvalidKeyError):
        await storage.delete(key)


async def test_a_large_file_is_sent_in_parts_and_read_in_chunks(
    storage: S3StorageClient, s3_server: Endpoint, bucket: str
) -> None:
    total = 12 * MIB + 5
    sent: list[int] = []
    original = storage._writer

    def watched(key: str, mime: str, disposition: str | None) -> Any:
        writer = original(key, mime, disposition)
        write = writer.write

        def write_part(chunk: bytes) -> None:
            sent.append(len(chunk))
            write(chunk)

        writer.write = write_part  # type: ignore[method-assign]
        return writer

    storage._writer = watched  # type: ignore[method-assign]
    stored = await storage.put(pieces(total), name="big.bin", mime="application/octet-stream")
    assert stored.size == total
    # Never more than one part (5 MiB) in memory: the file went as three parts.
    assert sent == [5 * MIB, 5 * MIB, 2 * MIB + 5]
    head = raw_client(s3_server).head_object(Bucket=bucket, Key=stored.key)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object, of three parts
    chunks = [chunk async for chunk in await storage.open(stored.key)]
    assert max(len(chunk) for chunk in chunks) <= storage.chunk_size
    assert b"".join(chunks) == expected(total)


async def test_a_file_over_the_limit_is_refused_and_leaves_nothing_behind(
    s3_server: Endpoint, bucket: str
) -> None:
    storage = S3StorageClient(
        bucket,
        max_bytes=6 * MIB,
        endpoint_url=s3_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(FileTooLargeError, match="6,291,456-byte limit"):
        await storage.put(pieces(11 * MIB), name="huge.bin", mime="application/octet-stream")
    with pytest.raises(FileTooLargeError):
        await storage.put(b"x" * (6 * MIB + 1), name="huge.bin", mime="text/plain")
    client = raw_client(s3_server)
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    await storage.close()


async def test_a_signed_url_reads_the_file_for_a_while(storage: S3StorageClient) -> None:
    stored = await storage.put(b"%PDF-1.4", name="r.pdf", mime="application/pdf")
    disposition = "attachment; filename*=UTF-8''Q3%20report.pdf"
    url = await storage.read_url(stored.key, disposition=disposition, mime="application/pdf")
    assert "Signature=" in url or "X-Amz-Signature=" in url
    assert "Expires=" in url

    def fetch() -> tuple[bytes, str | None]:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read(), response.headers.get("Content-Disposition")

    assert await asyncio.to_thread(fetch) == (b"%PDF-1.4", disposition)


async def test_chainlits_storage_client_methods(s3_server: Endpoint, bucket: str) -> None:
    client = ChainlitPathClient(
        bucket=bucket,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url=s3_server.url,
    )
    uploaded = await client.upload_file("user-1/thread-1/notes.txt", "héllo", mime="text/plain")
    assert uploaded["object_key"] == "user-1/thread-1/notes.txt"
    assert uploaded["url"].startswith(f"{s3_server.url}/{bucket}/user-1/thread-1/notes.txt?")
    assert await client.read("user-1/thread-1/notes.txt") == "héllo".encode()
    with pytest.raises(FileExistsError):
        await client.upload_file("user-1/thread-1/notes.txt", b"again", overwrite=False)
    assert await client.delete_file("user-1/thread-1/notes.txt") is True
    assert await client.delete_file("user-1/thread-1/notes.txt") is False
    await client.close()


def test_the_variables_choose_one_storage_or_say_what_is_wrong(s3_server: Endpoint) -> None:
    assert storage_from_environ({}) is None
    assert storage_from_environ({"BUCKET_NAME": "b"}) is None  # a bucket, no service
    variables = s3_variables(s3_server, "b")
    found = storage_from_environ({**variables, "STORAGE_EXPIRY_TIME": "60"})
    assert isinstance(found, S3StorageClient)
    assert (found.bucket, found.expiry_s, found.signed_urls) == ("b", 60, False)
    found.client.close()
    with pytest.raises(ConfigError, match="needs BUCKET_NAME"):
        storage_from_environ({**variables, "BUCKET_NAME": ""})
    with pytest.raises(ConfigError, match="several file storages"):
        storage_from_environ({**variables, "APP_GCS_PROJECT_ID": "p"})
    with pytest.raises(ConfigError, match="STORAGE_EXPIRY_TIME"):
        storage_from_environ({**variables, "STORAGE_EXPIRY_TIME": "soon"})


# -- the app --------------------------------------------------------------------------------


def upload_app(tmp_path: Path, files: S3StorageClient) -> tuple[LightChat, list[Any]]:
    app = LightChat(
        settings=Settings(name="Files", app_dir=str(tmp_path), upload_accept="image/*,.txt"),
        files=files,
    )
    seen: list[Any] = []

    @app.on_message
    async def main(message: Message) -> None:
        seen.extend(message.elements)

    return app, seen


async def test_uploads_go_to_the_bucket_and_only_their_chat_reads_them(
    tmp_path: Path, serve: Serve, storage: S3StorageClient, s3_server: Endpoint, bucket: str
) -> None:
    app, seen = upload_app(tmp_path, storage)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300
        posted = await client.post(
            f"{url}/messages",
            data={"content": "look"},
            files={"files": ("cat.png", png, "image/png")},
        )
        assert posted.status_code == 303
        (element,) = seen
        listed = raw_client(s3_server).list_objects_v2(Bucket=bucket)["Contents"]
        assert [item["Key"] for item in listed] == [element.key]
        # The app reads the upload from path=, as with local files: a copy of the chat's.
        copy = Path(element.path)
        assert copy.name == f"{element.id}.png"
        assert await asyncio.to_thread(copy.read_bytes) == png
        page = (await client.get(url)).text
        img = re.search(r'<img src="([^"]+)" alt="cat.png"', page)
        assert img is not None
        served = await client.get(img.group(1))
        assert served.status_code == 200
        assert served.content == png
        assert served.headers["content-type"] == "image/png"
        stranger = site.browser()
        refused = await stranger.get(img.group(1))
        assert refused.status_code == 404

        # Ended, the chat's copies go with it; the bucket keeps the file.
        assert await site.services.chats.end(chat_id(url), site.owner(client))
        seen.clear()
        del element
        gc.collect()
        assert not await asyncio.to_thread(copy.parent.exists)
        listed = raw_client(s3_server).list_objects_v2(Bucket=bucket)["Contents"]
        assert len(listed) == 1


async def test_with_signed_urls_an_owner_is_sent_to_the_bucket_and_a_stranger_is_not(
    tmp_path: Path, serve: Serve, s3_server: Endpoint, bucket: str
) -> None:
    variables = s3_variables(s3_server, bucket)
    storage = storage_from_environ({**variables, "LIGHTCHAT_STORAGE_SIGNED_URLS": "1"})
    assert isinstance(storage, S3StorageClient)
    assert storage.signed_urls
    app, _ = upload_app(tmp_path, storage)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        posted = await client.post(
            f"{url}/messages",
            data={"content": "x"},
            files={"files": ("a.txt", b"hi", "text/plain")},
        )
        assert posted.status_code == 303
        page = (await client.get(url)).text
        link = re.search(r'href="([^"]+)"[^>]*download', page) or re.search(
            r'href="([^"]*/elements/[^"]+)"', page
        )
        assert link is not None
        answered = await client.get(link.group(1))
        assert answered.status_code == 307
        location = answered.headers["location"]
        assert location.startswith(f"{s3_server.url}/{bucket}/")
        assert answered.headers["cache-control"] == "no-store"

        def fetch() -> bytes:
            with urllib.request.urlopen(location, timeout=5) as response:
                return bytes(response.read())

        assert await asyncio.to_thread(fetch) == b"hi"
        refused = await site.browser().get(link.group(1))
        assert refused.status_code == 404
    storage.client.close()


async def test_an_app_keeps_files_in_the_bucket_its_variables_name_deletes_them_and_closes_it(
    tmp_path: Path,
    serve: Serve,
    s3_server: Endpoint,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_variables(s3_server, bucket).items():
        monkeypatch.setenv(name, value)
    closed: list[S3StorageClient] = []
    close = S3StorageClient.close

    async def watched_close(self: S3StorageClient) -> None:
        closed.append(self)
        await close(self)

    monkeypatch.setattr(S3StorageClient, "close", watched_close)
    app = LightChat(settings=Settings(name="Files", app_dir=str(tmp_path)))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content="kept").send()

    async with serve(app, lifespan=True) as site:
        files = site.services.chats.files
        assert isinstance(files, S3StorageClient)
        assert files.bucket == bucket
        assert site.history.files is files  # deleting a chat deletes its files there
        client = site.browser()
        url = await site.new_chat(client)
        posted = await client.post(
            f"{url}/messages",
            data={"content": "x"},
            files={"files": ("a.txt", b"hi", "text/plain")},
        )
        assert posted.status_code == 303
        listed = raw_client(s3_server).list_objects_v2(Bucket=bucket)["Contents"]
        assert len(listed) == 1
        # Deleting the chat deletes its files from the bucket.
        await site.history.flush()
        assert (await client.post(f"{url}/delete")).status_code == 303
        assert raw_client(s3_server).list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        assert not closed
    assert closed == [files]
    assert not (tmp_path / ".lightchat" / "files").exists()  # nothing went to the folder


async def test_an_asked_file_is_read_from_its_path_and_shown_back_from_the_bucket(
    tmp_path: Path, serve: Serve, storage: S3StorageClient, s3_server: Endpoint, bucket: str
) -> None:
    app = LightChat(settings=Settings(name="Files", app_dir=str(tmp_path)), files=storage)
    said: list[str] = []

    @app.on_chat_start
    async def start() -> None:
        files = await cl.AskFileMessage(content="Upload a text file", timeout=10).send()
        if files:
            text = await asyncio.to_thread(Path(files[0].path).read_text)
            said.append(text)
            # The README's pattern: the upload shown back as an element, from its path.
            shown = cl.File(name=files[0].name, path=files[0].path, display="inline")
            await Message(content=f"{len(text)} characters", elements=[shown]).send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        await wait_for_log(
            session.bus,
            session.id,
            lambda events: any(m.ask is not None for m in messages_in(events)),
        )
        page = (await client.get(url)).text
        form = re.search(r'action="([^"]+/asks/[0-9a-f]+/files)"', page)
        assert form is not None
        files = {"files": ("notes.txt", b"hello world", "text/plain")}
        assert (await client.post(form.group(1), files=files)).status_code == 303
        assert said == ["hello world"]
        page = (await client.get(url)).text
        assert "11 characters" in page
        shown = re.findall(r'href="([^"]+/elements/[0-9a-f]+[^"]*)"', page)
        assert shown, page
        assert (await client.get(html.unescape(shown[-1]))).content == b"hello world"
        # The upload and the element shown from it: both in the bucket.
        listed = raw_client(s3_server).list_objects_v2(Bucket=bucket)["Contents"]
        assert len(listed) == 2
