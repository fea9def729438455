"""Scale-out: tokens/s and inter-token gaps with 1, 2 and 4 workers on the Redis bus and
PostgreSQL, against one worker on the in-process bus in the same run; Redis memory per
1,000 chats.

    .venv/bin/python benchmarks/workers.py             # the full run, ~7 min
    .venv/bin/python benchmarks/workers.py --quick     # a smoke run, ~5 s per server started
    .venv/bin/python benchmarks/run.py workers         # the same, with run.py's JSON

What runs (each a real ``lightchat serve benchmarks/bench_app.py``, history in a fresh
PostgreSQL database made for it and dropped afterwards):

- ``memory``: one worker on the in-process bus: the baseline every ratio is taken against;
- ``redis-1``, ``redis-2``, ``redis-4``: ``lightchat serve --workers N`` on one port with
  ``LIGHTCHAT_REDIS_URL``, which is what people run on one host. The kernel hands each new
  connection to whichever worker accepts first, so a chat's page, its posts and its event
  stream land on any worker, as behind a load balancer without affinity;
- ``split``: two single-worker servers on two ports, every chat posting to the first and
  streaming from the second, so every token crosses Redis: the cost of the Redis hop.

Two workloads: K chats streaming as fast as possible (a new chat every 4 replies), and K
chats paced at 50 tokens/s. Every token carries its emission time (``workload.py``), so the
client measures tokens/s, the gap between consecutive tokens as received (p50/p99), and the
emission-to-receipt latency. Then Redis memory: ``INFO memory`` and the ``MEMORY USAGE`` of
every key of the bus's database, before and after 1,000 chats of two replies each, and
again once their logs expired.

Redis and PostgreSQL must answer (``--redis-url``, default database 13, emptied before and
after; ``--pg-url``, default the ``test`` database's server). The Redis parts are skipped,
saying why, when this lightchat has no Redis bus or no ``--workers``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import client
import servers
from figures import Config, Figures, pct, ratio, say, table
from workload import REPLY_TOKENS

REDIS_URL = "redis://127.0.0.1:6379/13"
PG_URL = os.environ.get("LIGHTCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TURNS = 4  # replies per chat as fast as possible; then the user opens a new chat
PACE = 50  # tokens/s in the paced workload
CORES = os.cpu_count() or 1

# name -> (workers per server, on Redis, two servers: post on one, stream from the other)
SETUPS: dict[str, tuple[int, bool, bool]] = {
    "memory": (1, False, False),
    "redis-1": (1, True, False),
    "redis-2": (2, True, False),
    "redis-4": (4, True, False),
    "split": (1, True, True),
}


# -- what this lightchat can do -------------------------------------------------------------


def _settings_fields() -> set[str]:
    """The fields of the lightchat under test's Settings (read in a child: it may be another
    folder, ``run.py --lightchat``)."""
    code = (
        "import dataclasses, lightchat.config.settings as c; "
        "print(*[f.name for f in dataclasses.fields(c.Settings)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env({}), check=False
    )
    if out.returncode:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"lightchat does not import: {last}")
    return set(out.stdout.split())


def _serve_help() -> str:
    out = subprocess.run(
        [servers.LIGHTCHAT, "serve", "--help"], capture_output=True, text=True, env=_env({})
    )
    return out.stdout


def missing_pieces() -> list[str]:
    """What the Redis setups need and this lightchat lacks (empty: all there)."""
    missing = []
    try:
        fields = _settings_fields()
    except RuntimeError as exc:
        return [str(exc)]
    if "redis_url" not in fields:
        missing.append("no LIGHTCHAT_REDIS_URL (Settings.redis_url: the Redis bus)")
    if "--workers" not in _serve_help():
        missing.append("no `lightchat serve --workers N`")
    return missing


# -- Redis and PostgreSQL ------------------------------------------------------------------


class RedisProbe:
    """The benchmark's own view of Redis: its database's keys, memory and CPU."""

    def __init__(self, url: str) -> None:
        import redis  # the benchmarks' only use of it; lightchat has its own

        self.url = url
        self.db = redis.Redis.from_url(url, decode_responses=True)
        if int(self.db.connection_pool.connection_kwargs.get("db", 0)) == 0:
            raise SystemExit(
                f"--redis-url {url} is database 0; give the benchmarks a database of their own "
                "(e.g. redis://127.0.0.1:6379/13): it is emptied before and after each setup"
            )

    def ping(self) -> str:
        """'' when Redis answers, else why not."""
        try:
            self.db.ping()
        except Exception as exc:  # any connection failure means: skip, saying why
            return f"Redis does not answer at {self.url} ({type(exc).__name__})"
        return ""

    def flush(self) -> None:
        self.db.flushdb()

    def used_memory(self) -> int:
        return int(self.db.info("memory")["used_memory"])

    def cpu(self) -> float:
        found = self.db.info("cpu")
        return float(found["used_cpu_user"]) + float(found["used_cpu_sys"])

    def log_entries(self) -> int:
        """Entries in all the chats' event logs (streams) of this database."""
        return sum(int(self.db.xlen(key)) for key in self.db.scan_iter(count=1000, _type="stream"))

    def keys(self) -> dict[str, tuple[int, int]]:
        """Keys of this database by kind (``lc:log:<id>`` -> ``lc:log``): (count, bytes)."""
        found: dict[str, tuple[int, int]] = {}
        for key in self.db.scan_iter(count=1000):
            size = self.db.memory_usage(key, samples=0) or 0
            kind = ":".join(key.split(":")[:2])
            count, total = found.get(kind, (0, 0))
            found[kind] = (count + 1, total + size)
        return found


async def _pg(url: str, statement: str) -> None:
    import asyncpg  # installed with lightchat's PostgreSQL support

    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def pg_ping(url: str) -> str:
    """'' when PostgreSQL answers, else why not."""
    try:
        asyncio.run(_pg(url, "SELECT 1"))
    except Exception as exc:  # any connection failure means: skip, saying why
        return f"PostgreSQL does not answer at {url} ({type(exc).__name__})"
    return ""


@contextmanager
def pg_database(url: str) -> Iterator[str]:
    """A new, empty database on ``url``'s server; yields its URL, drops it at the end."""
    name = f"lightchat_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(url, f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_pg(url, f'DROP DATABASE "{name}" WITH (FORCE)'))


# -- servers -----------------------------------------------------------------------------------


def _env(extra: dict[str, str]) -> dict[str, str]:
    environ = {**os.environ, **servers.lightchat_env, **extra}
    if servers.lightchat_source is not None:
        paths = [str(servers.lightchat_source), environ.get("PYTHONPATH", "")]
        environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return environ


def descendants(pid: int) -> list[int]:
    """The process's children, their children, and so on (uvicorn's workers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def tree_cpu(pids: list[int]) -> float:
    """CPU time of these processes and all their descendants."""
    total = 0.0
    for pid in pids:
        for each in [pid, *descendants(pid)]:
            with suppress(OSError):  # exited meanwhile
                total += servers.cpu_seconds(each)
    return total


def tree_rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for each in [pid, *descendants(pid)]:
            with suppress(OSError):
                total += servers.rss_bytes(each)
    return total


def spawn(app_dir: Path, workers: int, env: dict[str, str]) -> servers.Server:
    """``lightchat serve`` (``--workers N`` when N > 1) on a free port, not waited for.

    Its log goes to a folder of its own inside ``app_dir`` (servers of one setup share the
    app folder, as the machines of a cluster share their configuration).
    """
    port = servers.free_port()
    args = [servers.LIGHTCHAT, "serve", str(servers.HERE / "bench_app.py"), "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    folder = app_dir / f"server-{port}"
    folder.mkdir()
    with (folder / "server.log").open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            args,
            cwd=servers.ROOT,
            env=_env(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return servers.Server(f"lightchat x{workers}", port, process, folder, started)


def wait_ready(server: servers.Server, workers: int, timeout: float = 60) -> None:
    """Wait until every worker has started (uvicorn logs each one) and a page serves."""
    deadline = time.perf_counter() + timeout
    while server.log().count("Application startup complete") < workers:
        if server.process.poll() is not None:
            raise RuntimeError(f"lightchat exited early:\n{server.log()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{workers} workers did not all start within {timeout} s")
        time.sleep(0.05)  # the log is a file: nothing to wait on but time
    servers.wait_first_page(server, timeout=timeout)


@dataclasses.dataclass
class Setup:
    """The servers of one setup, running; ``post``/``stream``: the ports chats use."""

    name: str
    workers: int
    procs: list[servers.Server]
    post: int
    stream: int

    def cpu(self) -> float:
        return tree_cpu([p.pid for p in self.procs])

    def rss(self) -> int:
        return tree_rss([p.pid for p in self.procs])


@contextmanager
def running(
    name: str, redis: RedisProbe | None, pg_url: str, env: dict[str, str]
) -> Iterator[Setup]:
    """Start a setup on a fresh database (and an empty Redis database); stop it after."""
    workers, on_redis, split = SETUPS[name]
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    environ = {
        "LIGHTCHAT_APP_DIR": str(folder),
        "LIGHTCHAT_SECRET": secrets.token_hex(32),  # one secret: any worker reads any cookie
        **env,
    }
    if on_redis:
        assert redis is not None
        redis.flush()
        environ["LIGHTCHAT_REDIS_URL"] = redis.url
        environ["LIGHTCHAT_REDIS_PREFIX"] = "lcbench:"  # and a database of its own
    procs: list[servers.Server] = []
    with pg_database(pg_url) as database:
        environ["LIGHTCHAT_DATABASE_URL"] = database
        try:
            for _ in range(2 if split else 1):
                server = spawn(folder, workers, environ)
                procs.append(server)
                wait_ready(server, workers)
            yield Setup(name, workers, procs, procs[0].port, procs[-1].port)
        finally:
            for server in procs:
                _stop(server)
            shutil.rmtree(folder, ignore_errors=True)
            if on_redis and redis is not None:
                redis.flush()


def _stop(server: servers.Server) -> None:
    """SIGTERM the server (uvicorn stops its workers), SIGKILL after 15 s."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in descendants(server.pid):
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            server.process.kill()
            server.process.wait()


# -- load ----------------------------------------------------------------------------------


def load_figures(setup: Setup, redis: RedisProbe | None, warm: bool, **load: Any) -> Figures:
    """One load run on a running setup: tokens/s, gaps, latency, CPU."""

    async def go() -> tuple[client.LoadResult, float]:
        if warm:  # every worker's imports and template caches, on spare chats
            await client.load(
                setup.post, setup.cpu, chats=2 * setup.workers, replies=2, stream_port=setup.stream
            )
        redis_cpu = redis.cpu() if redis else 0.0
        result = await client.load(
            setup.post, setup.cpu, paced=True, stream_port=setup.stream, timeout=120, **load
        )
        return result, (redis.cpu() - redis_cpu if redis else 0.0)

    result, redis_cpu = client.run(go())
    done = result.replies
    tokens = len(done) * REPLY_TOKENS
    gaps: list[float] = []  # between consecutive tokens: 0 within one socket read
    stalls: list[float] = []  # between consecutive reads that brought tokens
    latency: list[float] = []
    for reply in done:
        received = [e + lat for e, lat in zip(reply.emitted_ns, reply.latencies_ns, strict=True)]
        gaps += [(b - a) / 1e6 for a, b in itertools.pairwise(received)]
        stalls += [(b - a) / 1e6 for a, b in itertools.pairwise(sorted(set(received)))]
        latency += [ns / 1e6 for ns in reply.latencies_ns]
    ttft = [(r.first_tok_ns - r.post_ns) / 1e6 for r in done]
    server_cpu = result.server_cpu_s + result.server_deferred_cpu_s
    return {
        "replies": len(done),
        "failures": result.failures,
        "failure_reasons": result.failure_reasons,
        "missing_tokens": tokens - len(latency),
        "tokens": tokens,
        "wall_s": result.wall_s,
        "tokens_per_s": tokens / result.wall_s if result.wall_s else math.nan,
        "gap_p50_ms": pct(gaps, 50),
        "gap_p99_ms": pct(gaps, 99),
        "gap_max_ms": max(gaps, default=math.nan),
        "delivery_gap_p50_ms": pct(stalls, 50),
        "delivery_gap_p99_ms": pct(stalls, 99),
        "tokens_per_delivery": len(latency) / (len(stalls) + len(done)) if done else math.nan,
        "latency_p50_ms": pct(latency, 50),
        "latency_p99_ms": pct(latency, 99),
        "ttft_p50_ms": pct(ttft, 50),
        "ttft_p99_ms": pct(ttft, 99),
        "server_cpu_per_1k_tokens_s": server_cpu / tokens * 1000 if tokens else math.nan,
        "redis_cpu_per_1k_tokens_s": redis_cpu / tokens * 1000 if tokens and redis else math.nan,
        "server_util": result.server_cpu_s / result.wall_s if result.wall_s else math.nan,
        "client_util": result.client_cpu_s / result.wall_s if result.wall_s else math.nan,
        "rss_mb": setup.rss() / 2**20,
    }


def _median(runs: list[Figures]) -> Figures:
    out: Figures = {}
    for key, value in runs[0].items():
        if isinstance(value, int | float):
            values = sorted(r[key] for r in runs)
            out[key] = values[len(values) // 2]
    out["failures"] = sum(r["failures"] for r in runs)
    return out


LOAD_KEYS = [
    ("tokens_per_s", "tokens/s"),
    ("gap_p50_ms", "gap p50 ms"),
    ("gap_p99_ms", "gap p99 ms"),
    ("delivery_gap_p99_ms", "delivery gap p99"),
    ("tokens_per_delivery", "tok/delivery"),
    ("latency_p50_ms", "latency p50 ms"),
    ("latency_p99_ms", "latency p99 ms"),
    ("ttft_p99_ms", "TTFT p99 ms"),
    ("server_cpu_per_1k_tokens_s", "srv CPU s/1k tok"),
    ("redis_cpu_per_1k_tokens_s", "Redis CPU s/1k tok"),
    ("rss_mb", "RSS MB"),
    ("failures", "failed"),
]


def _print_loads(title: str, names: list[str], found: Figures) -> None:
    rows = []
    for name in names:
        f = found[name]
        rows.append([name] + [f.get(k, math.nan) for k, _ in LOAD_KEYS])
        if name != "memory":
            rows.append(["  x memory"] + [f["ratio"].get(k, math.nan) for k, _ in LOAD_KEYS])
    say(f"{title} ({CORES} CPU cores on this machine: more workers than cores cannot scale)")
    say(table(["setup"] + [label for _, label in LOAD_KEYS], rows))


# -- Redis memory per 1,000 chats ----------------------------------------------------------


def _settled(redis: RedisProbe, timeout: float = 30) -> dict[str, tuple[int, int]]:
    """The keys once they stop changing (the bus writes to Redis in the background)."""
    deadline = time.perf_counter() + timeout
    last = redis.keys()
    while time.perf_counter() < deadline:
        time.sleep(0.5)  # Redis has no "quiet" signal to wait on: compare snapshots
        now = redis.keys()
        if now == last:
            return now
        last = now
    return last


def _total(keys: dict[str, tuple[int, int]]) -> int:
    return sum(size for _, size in keys.values())


def _expired(redis: RedisProbe, timeout: float) -> dict[str, tuple[int, int]]:
    """The keys once no chat's log or snapshot is left, or after ``timeout`` s."""
    deadline = time.perf_counter() + timeout
    while True:
        keys = redis.keys()
        logs = [k for k in keys if k.endswith((":log", ":snap"))]
        if not logs or time.perf_counter() > deadline:
            return keys
        time.sleep(0.5)  # expiry is Redis's own timer: poll for its effect


def memory_run(
    redis: RedisProbe,
    pg_url: str,
    *,
    chats: int,
    replies: int,
    env: dict[str, str],
    expire: int = 0,
) -> Figures:
    """Redis memory before and after ``chats`` chats of ``replies`` replies each on one
    worker (and, with ``expire`` s as the logs' TTL, once they expired)."""
    users = min(chats, 100)
    env = {"BENCH_STAMP": "0", **env}
    if expire:
        env["LIGHTCHAT_LOG_TTL_S"] = str(expire)
    with running("redis-1", redis, pg_url, env) as setup:
        before_used, before = redis.used_memory(), redis.keys()
        began = time.perf_counter()

        async def go() -> client.LoadResult:
            return await client.load(
                setup.post,
                setup.cpu,
                chats=users,
                replies=replies * chats // users,
                turns=replies,
            )

        result = client.run(go())
        took = time.perf_counter() - began
        after = _settled(redis)
        after_used = redis.used_memory()
        entries = redis.log_entries()
        expired: dict[str, tuple[int, int]] = {}
        expired_used = 0
        if expire:
            expired = _expired(redis, expire + 15)
            expired_used = redis.used_memory()
    done = len(result.replies) // replies or 1
    figures: Figures = {
        "env": env,
        "chats": done,
        "replies_per_chat": replies,
        "failures": result.failures,
        "failure_reasons": result.failure_reasons,
        "seconds": took,
        "keys_before": before,
        "keys_after": after,
        "log_entries_per_chat": entries / done,
        "key_bytes_per_chat": (_total(after) - _total(before)) / done,
        "used_memory_per_chat": (after_used - before_used) / done,
    }
    if expire:
        figures["log_ttl_s"] = expire
        figures["keys_after_expiry"] = expired
        figures["key_bytes_per_chat_after_expiry"] = (_total(expired) - _total(before)) / done
        figures["used_memory_per_chat_after_expiry"] = (expired_used - before_used) / done
        if took > expire / 2:
            say(f"  ! the chats took {took:.0f} s, over half the {expire} s TTL")
    return figures


def bench_memory(cfg: Config, redis: RedisProbe, pg_url: str, fields: set[str]) -> Figures:
    """Redis memory per chat: short chats as written and once expired (when the logs' TTL
    can be set); in a full run, also long chats with and without compaction."""
    ttl = cfg.pick(60, 5) if "log_ttl_s" in fields else 0
    short = cfg.pick(1000, 20)
    figures: Figures = {
        "short": memory_run(redis, pg_url, chats=short, replies=2, env={}, expire=ttl)
    }
    if "log_compact_after" in fields and not cfg.quick:
        for name, threshold in (("long", "2000"), ("long, compacted", "100")):
            # 100, the smallest threshold allowed: each run's end past the first compacts.
            figures[name] = memory_run(
                redis,
                pg_url,
                chats=200,
                replies=10,
                env={"LIGHTCHAT_LOG_COMPACT_AFTER": threshold},
            )
    rows = []
    for name, run in figures.items():
        label = f"{run['chats']} chats x {run['replies_per_chat']} replies"
        if "compact" in name:
            label += ", compact after 100"
        states = [(label, "keys_after", "key_bytes_per_chat", "used_memory_per_chat")]
        if "log_ttl_s" in run:
            states.append(
                (
                    f"  after expiry ({run['log_ttl_s']} s TTL)",
                    "keys_after_expiry",
                    "key_bytes_per_chat_after_expiry",
                    "used_memory_per_chat_after_expiry",
                )
            )
        for index, (what, keys, per_chat, used) in enumerate(states):
            rows.append(
                [
                    what,
                    run["log_entries_per_chat"] if index == 0 else math.nan,
                    run[per_chat] / 1024,
                    run[per_chat] * 1000 / 2**20,
                    run[used] * 1000 / 2**20,
                    ", ".join(f"{k} {n}" for k, (n, _) in sorted(run[keys].items())) or "none",
                ]
            )
        if run["failures"]:
            say(f"  ! memory, {label}: {run['failures']} failed: {run['failure_reasons']}")
    say(
        f"Redis memory per chat, one worker ({REPLY_TOKENS} tokens a reply): MEMORY USAGE of "
        "the bus's keys, and INFO used_memory (the whole server: other users of this Redis "
        "show in it)"
    )
    say(
        table(
            [
                "chats",
                "log entries/chat",
                "keys KB/chat",
                "keys MB/1k chats",
                "used_memory MB/1k",
                "keys left",
            ],
            rows,
        )
    )
    return figures


# -- the benchmark -----------------------------------------------------------------------------


def bench_workers(
    cfg: Config, redis_url: str = REDIS_URL, pg_url: str = PG_URL, setups: list[str] | None = None
) -> Figures:
    """1, 2 and 4 workers on Redis + PostgreSQL vs one on the in-process bus; Redis memory."""
    why = pg_ping(pg_url)
    if why:
        say(f"  skipped: {why}")
        return {"skipped": why}
    redis = RedisProbe(redis_url)
    missing = missing_pieces()
    down = redis.ping()
    names = list(setups or SETUPS)
    skipped: dict[str, str] = {}
    for name in list(names):
        if name == "memory":
            continue
        reason = down or (", ".join(missing) if missing else "")
        if reason:
            skipped[name] = reason
            names.remove(name)
    if skipped:
        say(f"  skipped {', '.join(skipped)}: {'; '.join(sorted(set(skipped.values())))}")
    probe = None if down else redis
    figures: Figures = {"cores": CORES, "setups": names, "skipped": skipped}
    fast_chats = cfg.pick(50, 4)
    fast_total = cfg.pick(400, 8)  # replies per run, spread over the chats
    paced_chats = cfg.pick(200, 4)
    pace = cfg.pick(PACE, 10 * PACE)  # a quick run is a smoke run: a 0.4 s reply
    workloads = [
        (
            "fast",
            f"{fast_chats} chats as fast as possible, {fast_total} replies, "
            f"a new chat every {TURNS}",
            {"BENCH_PACE": "0", "BENCH_STAMP": "1"},
            {"chats": fast_chats, "replies": max(1, fast_total // fast_chats), "turns": TURNS},
        ),
        (
            "paced",
            f"{paced_chats} chats paced at {pace} tokens/s, one reply each",
            {"BENCH_PACE": str(pace)},
            {"chats": paced_chats, "replies": 1, "stagger_s": cfg.pick(1.0, 0.1)},
        ),
    ]
    for key, _, _, _ in workloads:
        figures[key] = {name: [] for name in names}
    for index in range(cfg.repeat):  # setups interleaved, the order flipped each repeat
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            for key, _, env, load in workloads:
                with running(name, probe, pg_url, env) as setup:
                    on_redis = SETUPS[name][1]
                    warm = key == "fast" and not cfg.quick  # a paced warm-up takes 9 s
                    found = load_figures(setup, probe if on_redis else None, warm, **load)
                    figures[key][name].append(found)
            say(f"  {name}: run {index + 1} of {cfg.repeat} done")
    for key, title, _, _ in workloads:
        runs = figures[key]
        medians: Figures = {name: _median(runs[name]) for name in names}
        for name in names:
            for run in runs[name]:
                if run["failure_reasons"]:
                    say(f"  ! {key} {name}: {run['failure_reasons']}")
            if name != "memory" and "memory" in medians:
                medians[name]["ratio"] = {
                    k: ratio(medians[name][k], medians["memory"][k]) for k, _ in LOAD_KEYS
                }
        medians["runs"] = runs
        figures[key] = medians
        _print_loads(title, [n for n in names], medians)
    if probe is not None and not missing:
        figures["redis_memory"] = bench_memory(cfg, probe, pg_url, _settings_fields())
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few chats, one run")
    parser.add_argument("--repeat", type=int, help="runs per setup (default 3, quick 1)")
    parser.add_argument("--redis-url", default=REDIS_URL, help="a database of its own (emptied)")
    parser.add_argument("--pg-url", default=PG_URL, help="a server where it may create databases")
    parser.add_argument(
        "--setups", default=",".join(SETUPS), help=f"comma-separated, of {', '.join(SETUPS)}"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures there too")
    args = parser.parse_args(argv)
    names = [n for n in args.setups.split(",") if n]
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        parser.error(f"no setup named {', '.join(unknown)}; choose from {', '.join(SETUPS)}")
    client.raise_fd_limit()
    cfg = Config(quick=args.quick, repeat=args.repeat or (1 if args.quick else 3))
    say(f"lightchat workers benchmark: {CORES} CPU cores, load average {os.getloadavg()[0]:.1f}")
    figures = bench_workers(cfg, args.redis_url, args.pg_url, names)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
