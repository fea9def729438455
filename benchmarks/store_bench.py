"""How fast the store lists and opens threads in a big history, on SQLite and PostgreSQL.

Fills each database with ``--threads`` threads (10,000) and ``--steps`` steps (1,000,000)
spread over ``--owners`` owners (10), with bulk inserts, then times the store's own calls
as the UI makes them, each repeated ``--repeat`` times on random owners and threads:

- listing the first page of an owner's threads (20, most recent first);
- listing a later page (through the cursor of the previous one);
- opening a thread: its steps (``get_thread_steps``), and everything (``load_thread``);
- searching an owner's threads (a LIKE scan, fewer runs): for a common word, which stops
  after a page of matches, and for a word found nowhere, which reads all the owner's steps.

It prints p50/p99 in milliseconds. It is not a test: it asserts nothing.

    .venv/bin/python benchmarks/store_bench.py                         # the full size
    .venv/bin/python benchmarks/store_bench.py --threads 1000 --steps 100000 --db sqlite

SQLite goes to a temp folder; PostgreSQL to a new schema of ``--pg-url``'s database,
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, text

from lightchat.store import (
    Pagination,
    SQLStore,
    StepRecord,
    ThreadFilter,
    ThreadRecord,
    make_engine,
)

WORDS = [
    *("paris", "budget", "travel", "python", "answer", "model", "token", "stream", "search"),
    *("database", "index", "thread", "mountain", "river", "summary", "report", "invoice"),
    *("contract", "recipe", "garden", "music", "history", "physics", "weather", "energy"),
]
BATCH = 20_000


def owner_of(index: int, owners: int) -> str:
    return f"bench-owner-{index % owners}"


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def thread_rows(count: int, owners: int, start: datetime) -> list[dict[str, Any]]:
    rng = random.Random(1)
    return [
        {
            "id": f"t{index:08d}",
            "owner": owner_of(index, owners),
            "user_id": None,
            "name": sentence(rng, 5),
            "tags": [],
            "metadata": {},
            "created_at": start + timedelta(seconds=index),
            "updated_at": start + timedelta(seconds=index),
        }
        for index in range(count)
    ]


def step_rows(threads: int, steps: int, start: datetime) -> Iterator[list[dict[str, Any]]]:
    """Batches of step rows: per thread, user/assistant turns with a tool step now and then."""
    rng = random.Random(2)
    per_thread, extra = divmod(steps, threads)
    batch: list[dict[str, Any]] = []
    for index in range(threads):
        thread_start = start + timedelta(seconds=index)
        for n in range(per_thread + (1 if index < extra else 0)):
            kind = ("user_message", "assistant_message", "assistant_message", "tool")[n % 4]
            at = thread_start + timedelta(milliseconds=n)
            batch.append(
                {
                    "id": f"s{index:08d}-{n:05d}",
                    "thread_id": f"t{index:08d}",
                    "parent_id": None,
                    "name": "You" if kind == "user_message" else "Assistant",
                    "type": kind,
                    "input": "",
                    "output": sentence(rng, 4 if kind == "user_message" else 18),
                    "language": None,
                    "is_error": False,
                    "status": "done" if kind == "tool" else None,
                    "streaming": False,
                    "show_input": None,
                    "created_at": at,
                    "started_at": at,
                    "ended_at": at,
                    "metadata": {},
                }
            )
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


async def fill(store: SQLStore, args: argparse.Namespace) -> float:
    """Bulk-insert the history; returns the seconds it took."""
    began = time.perf_counter()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    threads: Table = ThreadRecord.__table__  # type: ignore[attr-defined]
    steps: Table = StepRecord.__table__  # type: ignore[attr-defined]
    async with store.engine.begin() as connection:
        await connection.execute(insert(threads), thread_rows(args.threads, args.owners, start))
    done = 0
    for batch in step_rows(args.threads, args.steps, start):
        async with store.engine.begin() as connection:
            await connection.execute(insert(steps), batch)
        done += len(batch)
        print(f"\r  {done:,} steps", end="", flush=True)
    print()
    async with store.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return time.perf_counter() - began


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    durations = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        durations.append((time.perf_counter() - began) * 1000)
    return durations


def report(database: str, what: str, durations: list[float]) -> None:
    ordered = sorted(durations)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"  {database:<10} {what:<44} p50 {statistics.median(ordered):8.2f} ms"
        f"   p99 {p99:8.2f} ms   (n={len(ordered)})"
    )


async def measure(database: str, store: SQLStore, args: argparse.Namespace) -> None:
    rng = random.Random(3)

    def owner() -> str:
        return owner_of(rng.randrange(args.owners), args.owners)

    def thread() -> tuple[str, str]:
        index = rng.randrange(args.threads)
        return f"t{index:08d}", owner_of(index, args.owners)

    async def first_page() -> None:
        page = await store.list_threads(owner(), Pagination(first=20))
        assert len(page.threads) == min(20, args.threads // args.owners)

    async def later_page() -> None:
        who = owner()
        page = await store.list_threads(who, Pagination(first=20))
        began = time.perf_counter()
        await store.list_threads(who, Pagination(first=20, cursor=page.end_cursor))
        later.append((time.perf_counter() - began) * 1000)

    async def steps() -> None:
        thread_id, who = thread()
        await store.get_thread_steps(thread_id, owner=who)

    async def everything() -> None:
        thread_id, who = thread()
        await store.load_thread(thread_id, owner=who)

    async def search_hit() -> None:
        await store.list_threads(owner(), filters=ThreadFilter(search=rng.choice(WORDS)))

    async def search_miss() -> None:
        await store.list_threads(owner(), filters=ThreadFilter(search="quetzalcoatl"))

    later: list[float] = []
    await timed(5, first_page)  # warm the pool and the caches
    report(database, "list threads: first page (20)", await timed(args.repeat, first_page))
    await timed(args.repeat, later_page)
    report(database, "list threads: next page (cursor)", later)
    report(database, "open thread: steps", await timed(args.repeat, steps))
    report(database, "open thread: steps+elements+feedback", await timed(args.repeat, everything))
    searches = max(5, args.repeat // 10)
    report(database, "search: a common word", await timed(searches, search_hit))
    report(
        database, "search: no match (scans the owner's steps)", await timed(searches, search_miss)
    )


async def bench_sqlite(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'chat.db'}"
        store = await SQLStore.open(url)
        try:
            seconds = await fill(store, args)
            size = (Path(folder) / "chat.db").stat().st_size / 1e6
            print(f"  sqlite     filled in {seconds:.1f} s ({size:,.0f} MB)")
            await measure("sqlite", store, args)
        finally:
            await store.close()


async def bench_postgresql(args: argparse.Namespace) -> None:
    schema = f"lightchat_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.pg_url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        store = await SQLStore.open(args.pg_url, schema=schema)
        try:
            seconds = await fill(store, args)
            print(f"  postgresql filled in {seconds:.1f} s")
            await measure("postgresql", store, args)
        finally:
            await store.close()
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--owners", type=int, default=10, help="threads are spread over them")
    parser.add_argument("--repeat", type=int, default=200, help="runs per timed query")
    parser.add_argument("--db", default="sqlite,postgresql", help="which databases, comma-sep")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(
        f"{args.threads:,} threads, {args.steps:,} steps, {args.owners} owners, "
        f"{args.repeat} runs per query"
    )
    for database in args.db.split(","):
        if database == "sqlite":
            await bench_sqlite(args)
        elif database == "postgresql":
            await bench_postgresql(args)
        else:
            parser.error(f"unknown database {database!r}: use sqlite and/or postgresql")


if __name__ == "__main__":
    asyncio.run(main())
