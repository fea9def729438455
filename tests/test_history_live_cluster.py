"""The history sidebar kept live across workers: two real ``lightchat serve`` processes,
one Redis and one PostgreSQL (as in tests/test_scale.py). A change to a browser's list of
chats made on one worker (a chat's first message, a rename) reaches that browser's pages
whose streams the other worker serves: a chat the other worker runs, and a chat it only
follows from Redis; another browser's pages on it hear nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import LightchatServe, Server
from tests.test_scale import WAIT_S, _pair, open_chat, post, streaming

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(90),
    pytest.mark.services,
    pytest.mark.processes,
]

THREADS = 'hx-target="#lc-threads"'


@pytest.fixture
def workers(tmp_path: Path, lightchat_serve: LightchatServe) -> Iterator[tuple[Server, Server]]:
    with _pair(lightchat_serve, tmp_path) as pair:
        yield pair


async def stream_url(client: httpx.AsyncClient, worker: Server, chat: str) -> str:
    """The chat's stream as its page (served by ``worker``) names it: with the sidebar."""
    page = await client.get(f"{worker.url}/chat/{chat}")
    found = re.search(r'hx-sse:connect="([^"]+)"', page.text)
    assert found is not None
    url = html.unescape(found.group(1))
    assert "&threads=" in url
    return f"{worker.url}{url}"


async def test_a_rename_on_one_worker_reaches_pages_streamed_by_the_other(
    workers: tuple[Server, Server],
) -> None:
    a, b = workers
    async with (
        httpx.AsyncClient(timeout=WAIT_S) as client,
        httpx.AsyncClient(timeout=WAIT_S) as stranger,
    ):
        chat, token = await open_chat(client, a)  # runs on A
        mine, _ = await open_chat(client, b)  # another tab's chat, run by B
        theirs, their_token = await open_chat(stranger, b)  # someone else's, on B too
        async with (
            streaming(client, await stream_url(client, b, mine)) as tab,
            streaming(client, await stream_url(client, b, chat)) as follower,
            streaming(stranger, await stream_url(stranger, b, theirs)) as other,
        ):
            await post(client, f"{a.url}/chat/{chat}/messages", token, content="Trip to Lisbon")
            for stream in (tab, follower):
                await stream.until(
                    lambda events: any(
                        THREADS in e.data and ">Trip to Lisbon<" in e.data for e in events
                    )
                )
            renamed = await post(client, f"{a.url}/chat/{chat}/rename", token, name="Renamed on A")
            assert renamed.status_code == 200
            for stream in (tab, follower):
                await stream.until_text(">Renamed on A<")
            # The chat's own page marks it as the current one; the other tab's does not.
            assert 'aria-current="page">Renamed on A<' in follower.text()
            assert 'aria-current="page">Renamed on A<' not in tab.text()
            # The stranger's stream, on the same worker, was sent nothing of it.
            await post(stranger, f"{b.url}/chat/{theirs}/messages", their_token, content="x")
            await other.until(lambda events: any(THREADS in e.data for e in events))
            assert "Lisbon" not in other.text()
            assert "Renamed on A" not in other.text()
        assert tab.status == follower.status == other.status == 200
