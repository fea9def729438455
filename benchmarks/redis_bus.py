"""The Redis bus on its own: how fast ``publish`` queues, how fast the writer stores, and
how long reading a long log takes, against the local Redis.

    .venv/bin/python benchmarks/redis_bus.py [--redis-url redis://127.0.0.1:6379/13]

Publishes 100,000 tokens, over one chat and over 100 chats, then waits until the writer
has stored them all; reads the one chat's 100,000 entries back from Redis on another bus
(as a worker that does not own the chat would). Keys go under a prefix of the run's own,
deleted at the end. Figures are what this machine did in this run: compare runs made
alike.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from lightchat.bus.redis_bus import RedisBus
from lightchat.domain.events import TokenEvent

TOKENS = 100_000


async def one(url: str, chats: int) -> None:
    prefix = f"lcbench{uuid.uuid4().hex[:8]}:"
    writer, reader = RedisBus(url, prefix=prefix), RedisBus(url, prefix=prefix)
    await writer.start()
    await reader.start()
    try:
        started = time.perf_counter()
        for n in range(TOKENS):
            writer.publish(f"chat{n % chats}", TokenEvent("m", f"token {n} "))
        queued = time.perf_counter() - started
        await writer.flush()
        stored = time.perf_counter() - started
        started = time.perf_counter()
        entries = await reader.read("chat0")
        read = time.perf_counter() - started
        print(
            f"{chats:>4} chat(s): publish {TOKENS / queued:>9,.0f} entries/s, "
            f"stored {TOKENS / stored:>9,.0f} entries/s, "
            f"read {len(entries):,} entries in {read:.2f} s"
        )
    finally:
        for n in range(chats):
            writer.discard(f"chat{n}")
        await writer.aclose()
        await reader.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    for chats in (1, 100):
        asyncio.run(one(args.redis_url, chats))


if __name__ == "__main__":
    main()
