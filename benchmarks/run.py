"""Run lightchat's benchmarks, print their figures, and save them as JSON.

    .venv/bin/python benchmarks/run.py                 # everything (`make bench`), 7-9 min
    .venv/bin/python benchmarks/run.py --quick         # fewer repeats and chats, 2-3 min
    .venv/bin/python benchmarks/run.py throughput paced   # some benchmarks, by name
    .venv/bin/python benchmarks/run.py persistence     # history on vs off, same run
    .venv/bin/python benchmarks/run.py workers         # 1, 2, 4 workers on Redis vs in-process
    .venv/bin/python benchmarks/run.py --list

Every benchmark runs lightchat (``lightchat serve benchmarks/bench_app.py``) and the
baseline (``benchmarks/baseline_app.py``: bare Starlette + sse-starlette under uvicorn) in
the same run, each in its own process on a free loopback port, and reports lightchat's
figures with their ratio to the baseline's: this machine is shared and noisy, so absolute
numbers move from run to run while ratios move much less. See benchmarks/README.md.

Results go to ``benchmarks/results/<UTC time>.json`` and ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import client
import servers
from figures import Config, Figures, say, table
from startup import (
    bench_cold_start,
    bench_idle_memory,
    bench_page_load,
    bench_round_trip,
)
from streaming import (
    WIRE_CASES,
    bench_long_chat,
    bench_paced,
    bench_persistence,
    bench_throughput,
    bench_wire_bytes,
)
from workers import bench_workers

RESULTS = Path(__file__).resolve().parent / "results"

# (benchmark, what, comparison, limit, unit, where the figure is in the benchmark's results)
TARGETS: list[tuple[str, str, str, float, str, tuple[str, ...]]] = [
    ("cold-start", "launch to the first chat page", "<=", 0.5, "s", ("lightchat", "first_200_s")),
    ("cold-start", "RSS at the first chat page", "<=", 50, "MiB", ("lightchat", "rss_mb")),
    ("cold-start", "RSS 3 s after launch", "<", 70, "MiB", ("lightchat", "settled_rss_mb")),
    ("page-load", "first load: requests (stream too)", "<=", 5, "", ("lightchat", "requests")),
    ("page-load", "first load: on the wire", "<=", 40, "KiB", ("lightchat", "kb")),
    ("page-load", "first load: ready to send vs baseline", "<=", 1.5, "x", ("ratio", "ready_ms")),
    (
        "page-load",
        "repeat visit: static files fetched",
        "<",
        1,
        "",
        ("lightchat", "repeat_static_fetched"),
    ),
    ("round-trip", "Enter to last token painted", "<", 250, "ms", ("lightchat", "round_trip_ms")),
    (
        "throughput",
        "100 chats: server CPU per 1k tokens",
        "<",
        0.025,
        "s",
        ("100", "lightchat", "server_cpu_per_1k_tokens_s"),
    ),
    (
        "throughput",
        "100 chats: tokens/s vs baseline",
        ">=",
        0.5,
        "x",
        ("100", "ratio", "tokens_per_s"),
    ),
    (
        "paced",
        "300 paced chats: latency p99",
        "<",
        60,
        "ms",
        ("300", "lightchat", "latency_p99_ms"),
    ),
    (
        "paced",
        "1,000 paced chats: latency p99",
        "<",
        100,
        "ms",
        ("1000", "lightchat", "latency_p99_ms"),
    ),
    ("idle-memory", "memory per idle chat", "<", 50, "KB", ("lightchat", "kb_per_chat")),
    (
        "persistence",
        "100 chats: tokens/s, history on vs off",
        ">=",
        0.9,
        "x",
        ("100", "ratio", "tokens_per_s"),
    ),
    (
        "persistence",
        "100 chats: sustained tokens/s, on vs off",
        ">=",
        0.9,
        "x",
        ("100", "ratio", "sustained_tokens_per_s"),
    ),
    (
        "persistence",
        "1 chat, new every 4: tokens/s, on vs off",
        ">=",
        0.9,
        "x",
        ("1", "ratio", "tokens_per_s"),
    ),
    (
        "persistence",
        "1 long chat: tokens/s, history on vs off",
        ">=",
        0.9,
        "x",
        ("1-long", "ratio", "tokens_per_s"),
    ),
]
for _case in WIRE_CASES:
    TARGETS.append(
        (
            "wire-bytes",
            f"wire/final HTML: {_case}",
            "<",
            3,
            "x",
            (_case, "lightchat", "message_ratio"),
        )
    )


def check_targets(results: dict[str, Figures]) -> list[Figures]:
    """Each target whose benchmark ran: the figure, and whether it meets the limit."""
    verdicts = []
    for benchmark, what, comparison, limit, unit, path in TARGETS:
        if benchmark not in results:
            continue
        value: Any = results[benchmark]
        for key in path:
            value = value[key]
        value = float(value)
        met = {
            "<": value < limit,
            "<=": value <= limit,
            ">=": value >= limit,
        }[comparison]
        miss = "" if met else f"{value / limit:.2f}x the limit"
        verdicts.append(
            {
                "benchmark": benchmark,
                "target": what,
                "limit": f"{comparison} {limit:g} {unit}".strip(),
                "measured": value,
                "met": met,
                "miss": miss,
            }
        )
    return verdicts


# -- main ---------------------------------------------------------------------------------

BENCHMARKS: dict[str, Callable[[Config], Figures]] = {
    "cold-start": bench_cold_start,
    "page-load": bench_page_load,
    "round-trip": bench_round_trip,
    "throughput": bench_throughput,
    "paced": bench_paced,
    "long-chat": bench_long_chat,
    "idle-memory": bench_idle_memory,
    "wire-bytes": bench_wire_bytes,
    "persistence": bench_persistence,
    "workers": bench_workers,
}


def _git() -> str:
    if servers.lightchat_source is not None:
        return f"lightchat from {servers.lightchat_source}"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=servers.ROOT,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "lightchat"],
            capture_output=True,
            text=True,
            cwd=servers.ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty (lightchat/ has uncommitted changes)" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and chats")
    parser.add_argument(
        "--repeat", type=int, help="runs per throughput level and server (default 3, quick 1)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the lightchat server, e.g. LIGHTCHAT_HISTORY=0",
    )
    parser.add_argument(
        "--lightchat",
        type=Path,
        metavar="FOLDER",
        help="serve lightchat from FOLDER/lightchat (e.g. a `git archive` of another commit)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, func in BENCHMARKS.items():
            say(f"{name:<12} {(func.__doc__ or '').strip()}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"no benchmark named {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    names = args.names or list(BENCHMARKS)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set takes NAME=VALUE, not {item!r}")
        servers.lightchat_env[name] = value
    if args.lightchat is not None:
        if not (args.lightchat / "lightchat" / "__init__.py").exists():
            parser.error(f"{args.lightchat}/lightchat/__init__.py does not exist")
        servers.lightchat_source = args.lightchat.resolve()
    cfg = Config(quick=args.quick, repeat=args.repeat or (1 if args.quick else 3))
    fds = client.raise_fd_limit()
    command = " ".join(["benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])
    meta = {
        "command": command,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": _git(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "open_files_limit": fds,
        "load_average_at_start": os.getloadavg(),
        "quick": cfg.quick,
        "repeat": cfg.repeat,
        "lightchat_env": servers.lightchat_env,
    }
    say(f"lightchat benchmarks: {command}")
    if servers.lightchat_env:
        say(f"lightchat runs with {servers.lightchat_env}")
    say(
        f"git {meta['git']}, Python {meta['python']}, {meta['cpus']} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, Figures] = {}
    began = time.perf_counter()
    for name in names:
        func = BENCHMARKS[name]
        say(f"\n== {name}: {(func.__doc__ or '').strip()}")
        started = time.perf_counter()
        load_before = os.getloadavg()[0]
        git = _git()
        results[name] = func(cfg)
        results[name]["git"] = git
        if git != meta["git"]:
            say(f"(note: the code changed since the run began; this benchmark ran on {git})")
        results[name]["seconds"] = time.perf_counter() - started
        results[name]["load_average"] = [load_before, os.getloadavg()[0]]
        say(
            f"({results[name]['seconds']:.0f} s; "
            f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f})"
        )
    verdicts = check_targets(results)
    meta["seconds"] = time.perf_counter() - began
    if verdicts:
        say("\n== targets")
        say(
            table(
                ["target", "limit", "measured", "met"],
                [
                    [
                        v["target"],
                        v["limit"],
                        f"{v['measured']:.3g}",
                        "yes" if v["met"] else f"NO ({v['miss']})",
                    ]
                    for v in verdicts
                ],
            )
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = json.dumps(
        {"meta": meta, "targets": verdicts, "results": results}, indent=1, default=str
    )
    (RESULTS / f"{stamp}.json").write_text(document)
    (RESULTS / "latest.json").write_text(document)
    say(f"\n{meta['seconds']:.0f} s in all; figures saved to {RESULTS / (stamp + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
