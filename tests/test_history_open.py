"""When the history's store opens: when something first needs it (a read, a flush, the
readiness check), or ``OPEN_AFTER_S`` after the start when nothing does, so a server's
first pages are answered before the store's import begins."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import lightchat.chat.history as history_module
from lightchat.chat.history import History
from tests.helpers import until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[History, list[str]]:
    """A started history, and the list of its store's openings so far (none yet)."""
    opened: list[str] = []
    opening = History._open

    async def recorded(self: History) -> bool:
        opened.append("open")
        return await opening(self)

    monkeypatch.setattr(History, "_open", recorded)
    history = History("", str(tmp_path))
    await history.start()
    for _ in range(20):  # the writer task runs, and waits
        await asyncio.sleep(0)
    return history, opened


@pytest.mark.parametrize("need", ["wait_ready", "flush", "ping", "threads"])
async def test_the_store_opens_when_first_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, need: str
) -> None:
    monkeypatch.setattr(history_module, "OPEN_AFTER_S", 3600.0)
    history, opened = await started(tmp_path, monkeypatch)
    try:
        assert opened == []  # nothing needed it yet
        assert not history.ready
        assert not (tmp_path / ".lightchat" / "chat.db").exists()
        if need == "ping":
            with pytest.raises(ConnectionError, match="still opening"):
                await history.ping()
            assert await history.wait_ready()
        elif need == "threads":
            assert await history.threads("me") == []
        else:
            await getattr(history, need)()
        await until(lambda: history.ready, "the store to open")
        assert opened == ["open"]
        assert (tmp_path / ".lightchat" / "chat.db").is_file()
    finally:
        await history.close()


async def test_the_store_opens_by_itself_soon_after_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_module, "OPEN_AFTER_S", 0.01)
    history, _ = await started(tmp_path, monkeypatch)
    try:
        await until(lambda: history.ready, "the store to open without being asked")
    finally:
        await history.close()
