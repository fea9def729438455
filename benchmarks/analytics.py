"""How fast the analytics page answers over a large history, on SQLite and PostgreSQL.

Fills each database with 100,000 messages (5,000 chats of 10 questions and their
answers, spread over the last 30 days, the questions timed), 10,000 feedback rows (a
third with a comment), 10,000 LLM steps with generations and 2,000 failed steps, tags,
chat profiles and client types, with bulk inserts. Then it serves the app in-process
(its ASGI app, so the figure is the page's own work: the queries, the charts, the
template) and asks for ``/analytics`` for the last 30 days, the last 7 days, and 30 days
filtered by a tag, several times each, and reports the answer times (p50 and the slowest)
next to the store's queries alone. The target: under a second on both databases.

    .venv/bin/python benchmarks/analytics.py                   # both databases
    .venv/bin/python benchmarks/analytics.py --db sqlite --repeat 3
    .venv/bin/python benchmarks/run.py analytics               # the same, in the suite

SQLite goes to a temp folder; PostgreSQL to a new database on ``--pg-url``'s server,
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import insert

from lightchat import LightChat, Settings
from lightchat.store import FeedbackRecord, SQLStore, StepRecord, ThreadRecord
from lightchat.store import analytics as figures

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
THREADS = 5_000
QUESTIONS = 10  # per chat: 2 messages each, so 100,000 messages
FEEDBACK = 10_000
GENERATIONS = 10_000
FAILED = 2_000
TAGS = ["billing", "travel", "support", "sales", "bug", "feature", "legal", "hr"]
PROFILES = ["GPT", "Claude", "Local"]
CLIENTS = ["webapp", "copilot", "slack"]
PAGES = {
    "30 days": "/analytics?period=30d",
    "7 days": "/analytics?period=7d",
    "30 days, one tag": "/analytics?period=30d&tag=billing",
}


def rows(now: datetime, seed: int = 7) -> tuple[list[Any], list[Any], list[Any]]:
    """The threads, steps and feedback to insert (as column dicts)."""
    rng = random.Random(seed)
    threads: list[Any] = []
    steps: list[Any] = []
    answers: list[tuple[str, str, datetime]] = []
    for n in range(THREADS):
        thread_id = uuid.uuid4().hex
        start = now - timedelta(seconds=rng.uniform(0, 30 * 86400 - 3600))
        threads.append(
            {
                "id": thread_id,
                "owner": f"user-{n % 400}",
                "name": f"Chat {n}",
                "tags": rng.sample(TAGS, rng.randint(0, 2)),
                "metadata": {"chat_profile": rng.choice(PROFILES)},
                "created_at": start,
                "updated_at": start,
                "client_type": rng.choice(CLIENTS),
            }
        )
        for q in range(QUESTIONS):
            asked = start + timedelta(seconds=60 * q)
            first = rng.uniform(0.2, 3)
            steps.append(
                _step(thread_id, "user_message", asked, f"Question {q}", first=first, end=first + 2)
            )
            answer_id = uuid.uuid4().hex
            steps.append(
                _step(
                    thread_id,
                    "assistant_message",
                    asked + timedelta(seconds=1),
                    "Answer",
                    answer_id,
                )
            )
            answers.append((answer_id, thread_id, asked + timedelta(seconds=5)))
    for _ in range(GENERATIONS):
        thread = rng.choice(threads)
        generation = {
            "model": rng.choice(["gpt-4o", "claude", "local"]),
            "inputTokenCount": rng.randint(10, 2000),
            "outputTokenCount": rng.randint(10, 500),
        }
        steps.append(_step(thread["id"], "llm", thread["created_at"], "", generation=generation))
    for _ in range(FAILED):
        thread = rng.choice(threads)
        steps.append(_step(thread["id"], "tool", thread["created_at"], "timeout", failed=True))
    feedback = [
        {
            "id": uuid.uuid4().hex,
            "for_id": answer_id,
            "thread_id": thread_id,
            "value": rng.choice((0, 1, 1)),
            "comment": "A comment" if n % 3 == 0 else None,
            "created_at": when,
        }
        for n, (answer_id, thread_id, when) in enumerate(rng.sample(answers, FEEDBACK))
    ]
    return threads, steps, feedback


def _step(
    thread_id: str,
    kind: str,
    when: datetime,
    output: str,
    step_id: str | None = None,
    *,
    first: float | None = None,
    end: float | None = None,
    generation: dict[str, Any] | None = None,
    failed: bool = False,
) -> dict[str, Any]:
    return {
        "id": step_id or uuid.uuid4().hex,
        "thread_id": thread_id,
        "parent_id": None,
        "name": "step",
        "type": kind,
        "input": "",
        "output": output,
        "language": None,
        "is_error": failed,
        "status": "failed" if failed else None,
        "streaming": False,
        "show_input": None,
        "created_at": when,
        "started_at": None if first is None else when + timedelta(seconds=first),
        "ended_at": None if end is None else when + timedelta(seconds=end),
        "metadata": {},
        "favorite_at": None,
        "generation": generation,
    }


async def fill(url: str) -> dict[str, int]:
    """Migrate the database at ``url`` and insert the rows; how many of each."""
    store = await SQLStore.open(url)
    threads, steps, feedback = rows(datetime.now(UTC))
    try:
        async with store.engine.begin() as connection:
            for table, items in (
                (ThreadRecord.__table__, threads),  # type: ignore[attr-defined]
                (StepRecord.__table__, steps),  # type: ignore[attr-defined]
                (FeedbackRecord.__table__, feedback),  # type: ignore[attr-defined]
            ):
                for start in range(0, len(items), 5_000):
                    await connection.execute(insert(table), items[start : start + 5_000])
        async with store.engine.begin() as connection:  # as autovacuum would, in time
            await connection.exec_driver_sql("ANALYZE")
    finally:
        await store.close()
    messages = sum(1 for s in steps if s["type"] in ("user_message", "assistant_message"))
    return {"threads": len(threads), "messages": messages, "feedback": len(feedback)}


def _p50(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


async def measure(url: str, app_dir: Path, repeat: int) -> dict[str, Any]:
    """Answer times of the page (ms), in-process, and of the queries alone."""
    app = LightChat(settings=Settings(app_dir=str(app_dir), database_url=url, analytics_local=True))
    asgi = app.build()
    found: dict[str, Any] = {}
    async with asgi.router.lifespan_context(asgi):
        transport = httpx.ASGITransport(app=asgi, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.get("/")  # the browser's cookie
            for name, path in PAGES.items():
                times, cpu = [], []
                for _ in range(repeat + 1):
                    began, began_cpu = time.perf_counter(), time.process_time()
                    answer = await client.get(path)
                    times.append((time.perf_counter() - began) * 1000)
                    cpu.append((time.process_time() - began_cpu) * 1000)
                    assert answer.status_code == 200, answer.text[:500]
                    assert "Feedback per day" in answer.text
                times, cpu = times[1:], cpu[1:]  # the first warms the caches
                found[name] = {"p50_ms": _p50(times), "max_ms": max(times), "cpu_ms": _p50(cpu)}
        store = app.history.store if app.history is not None else None
        engine = getattr(store, "engine", None)
        assert engine is not None
        now = datetime.now(UTC)
        period = figures.Period(now - timedelta(days=30), now)
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            await figures.report(engine, period)
            times.append((time.perf_counter() - began) * 1000)
        found["queries, 30 days"] = {"p50_ms": _p50(times), "max_ms": max(times)}
    return found


async def run_one(db: str, repeat: int, pg_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        if db == "sqlite":
            url = f"sqlite:///{folder}/analytics.db"
            counts = await fill(url)
            return {"rows": counts, **await measure(url, Path(folder), repeat)}
        name = f"lightchat_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            url = pg_url.rsplit("/", 1)[0] + f"/{name}"
            counts = await fill(url)
            return {"rows": counts, **await measure(url, Path(folder), repeat)}
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def bench_analytics(cfg: Any) -> dict[str, Any]:
    """The analytics page over 100,000 messages and 10,000 feedback rows, SQLite and PostgreSQL."""
    repeat = 3 if getattr(cfg, "quick", False) else 5
    results = {db: asyncio.run(run_one(db, repeat, PG_URL)) for db in ("sqlite", "postgresql")}
    report(results)
    return results


def report(results: dict[str, Any]) -> None:
    """The answer times (p50 / slowest, ms), and the CPU time this process spent on a
    page (p50: the app's work, and SQLite's, which runs in it; PostgreSQL's own is not in
    it), which a busy machine inflates less than the wall clock."""
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    print(f"{'page':<20} {'SQLite p50 / max':>28} {'PostgreSQL p50 / max':>28}", flush=True)
    names = [*PAGES, "queries, 30 days"]
    for name in names:
        cells = []
        for db in ("sqlite", "postgresql"):
            figure = results.get(db, {}).get(name)
            if figure is None:
                cells.append("-")
                continue
            cpu = f" (CPU {figure['cpu_ms']:.0f})" if "cpu_ms" in figure else ""
            cells.append(f"{figure['p50_ms']:.0f} / {figure['max_ms']:.0f} ms{cpu}")
        print(f"{name:<20} {cells[0]:>28} {cells[1]:>28}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = {db: asyncio.run(run_one(db, args.repeat, args.pg_url)) for db in dbs}
    for db in dbs:
        print(f"{db}: {results[db]['rows']}", flush=True)
    report(results)


if __name__ == "__main__":
    main()
