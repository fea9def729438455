"""Several workers behind a plain round-robin proxy (tests/proxy.py), with Redis and
PostgreSQL: every request of the page may land on either worker, and the chat works as
with one: streamed answers, a reload, an action, a question, Stop."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, send
from tests.helpers import REDIS_URL
from tests.pg import postgres_database
from tests.proxy import proxy_in_thread

WORDS = 30


def answer_text(words: int = WORDS) -> str:
    return " ".join(f"w{i}" for i in range(words))


def test_a_chat_through_a_round_robin_proxy_in_front_of_two_workers(
    serve: Serve, page: Page
) -> None:
    with postgres_database() as database:
        env = {
            "LIGHTCHAT_REDIS_URL": REDIS_URL,
            "LIGHTCHAT_DATABASE_URL": database,
            "SCALE_WORDS": str(WORDS),
            "SCALE_DELAY_S": "0.03",
        }
        workers = [serve("scale_app.py", env=env), serve("scale_app.py", env=env)]
        upstreams = [("127.0.0.1", worker.port) for worker in workers]
        with proxy_in_thread(upstreams) as proxy:
            open_chat(page, proxy.url)
            expect(assistant(page).first.locator(".lc-content")).to_have_text("Hello")

            send(page, "one")
            expect(assistant(page).nth(1).locator(".lc-content")).to_have_text(answer_text())
            send(page, "two")
            expect(assistant(page).nth(2).locator(".lc-content")).to_have_text(answer_text())

            page.reload()
            expect(assistant(page)).to_have_count(3)
            expect(assistant(page).nth(2).locator(".lc-content")).to_have_text(answer_text())

            page.get_by_role("button", name="Ping").click()
            expect(assistant(page).nth(3).locator(".lc-content")).to_have_text("Pong")

            send(page, "ask")
            expect(assistant(page).nth(4).locator(".lc-content")).to_have_text("Your name?")
            send(page, "Ada")
            expect(assistant(page).nth(5).locator(".lc-content")).to_have_text("Hello, Ada!")

            send(page, "long")
            long_answer = assistant(page).nth(6).locator(".lc-content")
            expect(long_answer).to_contain_text("w5 ")
            page.get_by_role("button", name="Stop").click()
            expect(page.get_by_role("button", name="Stop")).to_have_count(0)
            expect(chat_log(page).locator("article[data-streaming]")).to_have_count(0)
            assert "w1999" not in long_answer.inner_text()

            assert all(count > 0 for count in proxy.counts), proxy.counts  # both served
