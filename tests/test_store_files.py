"""LocalFileStorage, on a real temp folder: storing, reading, limits, refused keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightchat.files import (
    FileStorage,
    FileTooLargeError,
    InvalidKeyError,
    LocalFileStorage,
    MissingFileError,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


def files_in(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


async def stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)  # a real stream yields to the loop between chunks
        yield part


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


@pytest.fixture
def storage(tmp_path: Path) -> LocalFileStorage:
    return LocalFileStorage(tmp_path / "files", max_bytes=1000, chunk_size=64)


def test_local_storage_is_a_file_storage(storage: LocalFileStorage) -> None:
    assert isinstance(storage, FileStorage)


async def test_put_read_open_delete(storage: LocalFileStorage) -> None:
    data = bytes(range(256)) * 3
    stored = await storage.put(data, name="Photo.JPG", mime="image/jpeg")

    assert stored.size == len(data)
    assert stored.key.endswith(".jpg")
    assert files_in(storage.root) == [stored.key]
    assert await storage.read(stored.key) == data
    chunks = [chunk async for chunk in await storage.open(stored.key)]
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) == 64

    assert await storage.delete(stored.key) is True
    assert await storage.delete(stored.key) is False
    assert files_in(storage.root) == []
    with pytest.raises(MissingFileError):
        await storage.read(stored.key)
    with pytest.raises(MissingFileError):  # at once, before any iteration
        await storage.open(stored.key)


async def test_put_a_stream(storage: LocalFileStorage) -> None:
    stored = await storage.put(stream(b"ab", b"", b"c" * 100), name="notes", mime="text/plain")
    assert stored.size == 102
    assert await storage.read(stored.key) == b"ab" + b"c" * 100
    assert "." not in stored.key  # no extension to keep


async def test_keys_are_generated_never_taken_from_the_name(storage: LocalFileStorage) -> None:
    names = ["../../evil.sh", "/etc/passwd", "a/b/c.txt", "x.PHP\x00.png", "..", "C:\\win.ini"]
    keys = [(await storage.put(b"x", name=name, mime="text/plain")).key for name in names]
    assert len(set(keys)) == len(names)
    assert sorted(files_in(storage.root)) == sorted(keys)
    assert {key.rpartition(".")[2] for key in keys if "." in key} <= {"sh", "txt", "png", "ini"}
    assert not any(".." in key or key.startswith("/") for key in keys)


@pytest.mark.parametrize(
    "key",
    [
        "../secret",
        "../../etc/passwd",
        "/etc/passwd",
        "ab/../../etc/passwd",
        "ab/ab" + "0" * 30 + "/../../x",
        "ab/cd" + "0" * 30,  # the shard does not match the name
        ".ab/ab" + "0" * 30,
        "ab/.ab" + "0" * 30 + ".part",  # an unfinished upload's name is never a key
        "ab/ab" + "0" * 30 + "\n",
        "ab\\ab" + "0" * 30,
        "",
        "AB/AB" + "0" * 30,
    ],
)
async def test_keys_it_did_not_make_are_refused(storage: LocalFileStorage, key: str) -> None:
    (storage.root.parent / "secret").write_text("no")
    with pytest.raises(InvalidKeyError):
        await storage.read(key)
    with pytest.raises(InvalidKeyError):
        await storage.open(key)
    with pytest.raises(InvalidKeyError):
        await storage.delete(key)
    assert (storage.root.parent / "secret").exists()


async def test_size_limit_keeps_nothing(storage: LocalFileStorage) -> None:
    with pytest.raises(FileTooLargeError, match="1,000-byte limit"):
        await storage.put(b"x" * 1001, name="big.bin", mime="application/octet-stream")
    with pytest.raises(FileTooLargeError):
        await storage.put(stream(b"x" * 600, b"x" * 600), name="big.bin", mime="text/plain")
    assert files_in(storage.root) == []

    exact = await storage.put(b"x" * 1000, name="ok.bin", mime="application/octet-stream")
    assert exact.size == 1000


async def test_a_cancelled_upload_keeps_nothing(storage: LocalFileStorage) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        yield b"x"
        started.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b"never"

    upload = asyncio.create_task(storage.put(endless(), name="slow.bin", mime="text/plain"))
    await started.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert files_in(storage.root) == []
