"""A worker killed mid-answer, seen in the browser: two workers behind a round-robin proxy
(tests/proxy.py), one Redis, one PostgreSQL. The page, reconnecting to the worker left,
shows the answer as far as it was streamed, marked interrupted, and the next message is
answered by the chat rebuilt through ``on_chat_resume``."""

from __future__ import annotations

import os
import re
import signal
import uuid

import redis
from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, open_chat, send
from tests.helpers import REDIS_URL
from tests.pg import postgres_database
from tests.proxy import proxy_in_thread


def test_the_page_shows_an_interrupted_answer_and_goes_on_after_its_worker_dies(
    serve: Serve, page: Page
) -> None:
    prefix = f"lctake{uuid.uuid4().hex[:8]}:"
    store = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    with postgres_database() as database:
        env = {
            "LIGHTCHAT_REDIS_URL": REDIS_URL,
            "LIGHTCHAT_REDIS_PREFIX": prefix,
            "LIGHTCHAT_DATABASE_URL": database,
            "LIGHTCHAT_WORKER_TTL_S": "2",
        }
        workers = [serve("cluster_app.py", env=env), serve("cluster_app.py", env=env)]
        with proxy_in_thread([("127.0.0.1", worker.port) for worker in workers]) as proxy:
            open_chat(page, proxy.url)
            chat = page.url.rsplit("/", 1)[1]
            send(page, "long")
            answer = assistant(page).first.locator(".lc-content")
            expect(answer).to_contain_text("w20")
            # The chat's owner, as Redis names it (its heartbeat holds host:pid): killed.
            owner = store.get(f"{prefix}owner:{chat}")
            assert isinstance(owner, str)
            pid = int(str(store.get(f"{prefix}worker:{owner}")).rsplit(":", 1)[1])
            assert pid in [worker.process.pid for worker in workers]
            os.kill(pid, signal.SIGKILL)

            note = assistant(page).first.locator(".lc-interrupted")
            expect(note).to_have_text("Interrupted", timeout=20_000)
            shown = answer.inner_text()
            words = [int(n) for n in re.findall(r"w(\d+)", shown)]
            assert words == list(range(len(words)))
            assert len(words) > 20
            assert "w1999" not in shown

            send(page, "hello")
            expect(assistant(page).nth(1).locator(".lc-content")).to_have_text("resumed: hello")
            page.reload()
            expect(assistant(page).first.locator(".lc-interrupted")).to_have_count(1)
    for key in store.scan_iter(match=f"{prefix}*"):
        store.delete(key)
    store.close()
