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
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import client
import servers
from analytics import bench_analytics
from figures import Config, Figures, fmt, ratio, say, table
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

Comparison = Literal["<", "<=", ">="]


@dataclass(frozen=True)
class Target:
    """A performance target a figure is held to, and where the figure is.

    ``lightchat`` and ``baseline`` are the figure's paths in the benchmark's results (the
    baseline's: what lightchat's is compared with in the same run, if anything). With
    ``on_ratio`` the limit applies to lightchat / baseline ("at most 2x the baseline's").
    """

    benchmark: str
    figure: str
    lightchat: tuple[str, ...]
    comparison: Comparison
    limit: float
    unit: str = ""
    baseline: tuple[str, ...] | None = None
    on_ratio: bool = False
    against: str = "baseline"

    @property
    def text(self) -> str:
        """The target as stated (``<= 2x baseline``, ``<= 15 ms``)."""
        if self.on_ratio:
            return f"{self.comparison} {self.limit:g}x {self.against}"
        if self.unit == "x":
            return f"{self.comparison} {self.limit:g}x"
        return f"{self.comparison} {self.limit:g} {self.unit}".strip()


def _both(key: str) -> dict[str, tuple[str, ...]]:
    """The paths of a figure both servers have, at the top of a benchmark's results."""
    return {"lightchat": ("lightchat", key), "baseline": ("baseline", key)}


def _level(level: str, key: str, on: str = "lightchat", off: str = "baseline") -> Any:
    """The paths of a figure at one level (chats) of a load benchmark."""
    return {"lightchat": (level, on, key), "baseline": (level, off, key)}


_HISTORY: dict[str, Any] = {"on": "on", "off": "off", "against": "history off"}

TARGETS: list[Target] = [
    # Start-up and the first page.
    Target(
        "cold-start",
        "launch to the first chat page",
        comparison="<=",
        limit=0.5,
        unit="s",
        **_both("first_200_s"),
    ),
    Target(
        "cold-start",
        "RSS at the first chat page",
        comparison="<=",
        limit=50,
        unit="MiB",
        **_both("rss_mb"),
    ),
    Target(
        "cold-start",
        "RSS 3 s after launch",
        comparison="<",
        limit=70,
        unit="MiB",
        **_both("settled_rss_mb"),
    ),
    Target(
        "page-load",
        "first load: requests (stream too)",
        comparison="<=",
        limit=5,
        **_both("requests"),
    ),
    Target(
        "page-load", "first load: on the wire", comparison="<=", limit=40, unit="KiB", **_both("kb")
    ),
    Target(
        "page-load",
        "first load: navigation to ready to send",
        comparison="<=",
        limit=1.5,
        unit="ms",
        on_ratio=True,
        **_both("ready_ms"),
    ),
    Target(
        "page-load",
        "repeat visit: static files fetched",
        comparison="<",
        limit=1,
        **_both("repeat_static_fetched"),
    ),
    Target(
        "round-trip",
        "Enter to the last token painted",
        comparison="<",
        limit=250,
        unit="ms",
        **_both("round_trip_ms"),
    ),
    # Tokens: at once when quiet, batched under pressure.
    Target(
        "paced",
        "100 paced chats: token latency p50",
        comparison="<=",
        limit=3,
        unit="ms",
        **_level("100", "latency_p50_ms"),
    ),
    Target(
        "paced",
        "100 paced chats: token latency p99",
        comparison="<=",
        limit=15,
        unit="ms",
        **_level("100", "latency_p99_ms"),
    ),
    Target(
        "paced",
        "300 paced chats: token latency p99",
        comparison="<=",
        limit=2,
        unit="ms",
        on_ratio=True,
        **_level("300", "latency_p99_ms"),
    ),
    Target(
        "paced",
        "1,000 paced chats: tokens/s",
        comparison=">=",
        limit=1,
        on_ratio=True,
        **_level("1000", "tokens_per_s"),
    ),
    Target(
        "paced",
        "1,000 paced chats: server CPU per 1k tokens",
        comparison="<=",
        limit=1,
        unit="s",
        on_ratio=True,
        **_level("1000", "server_cpu_per_1k_tokens_s"),
    ),
    Target(
        "throughput",
        "100 chats flat out: tokens/s",
        comparison=">=",
        limit=1.5,
        on_ratio=True,
        **_level("100", "tokens_per_s"),
    ),
    Target(
        "throughput",
        "100 chats flat out: server CPU per 1k tokens",
        comparison="<=",
        limit=0.7,
        unit="s",
        on_ratio=True,
        **_level("100", "server_cpu_per_1k_tokens_s"),
    ),
    # Memory.
    Target(
        "idle-memory",
        "memory per idle connected chat",
        comparison="<=",
        limit=48,
        unit="KiB",
        **_both("kb_per_chat"),
    ),
    # What history costs (history on against off, same run).
    Target(
        "persistence",
        "1 chat, a new chat every 4 replies: tokens/s",
        comparison=">=",
        limit=0.9,
        on_ratio=True,
        against="history off",
        **_level("1", "tokens_per_s", "on", "off"),
    ),
    Target(
        "persistence",
        "1 long chat: tokens/s",
        comparison=">=",
        limit=0.9,
        on_ratio=True,
        against="history off",
        **_level("1-long", "tokens_per_s", "on", "off"),
    ),
    Target(
        "persistence",
        "100 chats: tokens/s",
        comparison=">=",
        limit=0.9,
        on_ratio=True,
        against="history off",
        **_level("100", "tokens_per_s", "on", "off"),
    ),
    Target(
        "persistence",
        "100 chats: sustained tokens/s",
        comparison=">=",
        limit=0.9,
        on_ratio=True,
        against="history off",
        **_level("100", "sustained_tokens_per_s", "on", "off"),
    ),
]
for _case in WIRE_CASES:
    TARGETS.append(
        Target(
            "wire-bytes",
            f"bytes on the wire / final HTML, {_case}",
            comparison="<",
            limit=3,
            unit="x",
            lightchat=(_case, "lightchat", "message_ratio"),
        )
    )


def _figure(results: Figures, path: tuple[str, ...]) -> float:
    value: Any = results
    for key in path:
        value = value[key]
    return float(value)


def check_targets(results: dict[str, Figures]) -> list[Figures]:
    """Each target whose benchmark ran: lightchat's figure, what it is compared with, their
    ratio, and whether the target is met (and by how much it is missed)."""
    verdicts = []
    for target in TARGETS:
        if target.benchmark not in results:
            continue
        found = results[target.benchmark]
        value = _figure(found, target.lightchat)
        base = _figure(found, target.baseline) if target.baseline else math.nan
        quotient = ratio(value, base)
        measured = quotient if target.on_ratio else value
        met = {
            "<": measured < target.limit,
            "<=": measured <= target.limit,
            ">=": measured >= target.limit,
        }[target.comparison]
        if met:
            miss = ""
        elif target.comparison == ">=":
            miss = f"{target.limit / measured:.2f}x short" if measured else "none"
        else:
            miss = f"{measured / target.limit:.2f}x over"
        verdicts.append(
            {
                "benchmark": target.benchmark,
                "target": target.figure,
                "limit": target.text,
                "unit": target.unit,
                "lightchat": value,
                "baseline": base,
                "against": target.against if target.baseline else "",
                "ratio": quotient,
                "measured": measured,
                "met": met,
                "miss": miss,
            }
        )
    return verdicts


def targets_table(verdicts: list[Figures]) -> str:
    """The targets as ``make bench`` prints them: each figure, what it is compared with in
    the same run, their ratio, the target and whether it is met; then what is missed."""
    rows = []
    for v in verdicts:
        unit = "" if v["unit"] == "x" else v["unit"]
        shown = f"{fmt(v['lightchat'])} {unit}".strip()
        if v["unit"] == "x":
            shown += "x"
        other = f"{fmt(v['baseline'])} {unit}".strip() if v["against"] else ""
        rows.append(
            [
                v["target"],
                shown,
                f"{other} ({v['against']})" if other else "",
                f"{v['ratio']:.2f}" if v["against"] else "",
                v["limit"],
                "yes" if v["met"] else f"NO, {v['miss']}",
            ]
        )
    missed = [v for v in verdicts if not v["met"]]
    summary = (
        f"{len(missed)} of {len(verdicts)} targets missed: "
        + "; ".join(f"{v['target']} ({v['miss']})" for v in missed)
        if missed
        else f"all {len(verdicts)} targets met"
    )
    return (
        table(["figure", "lightchat", "compared with", "ratio", "target", "met?"], rows)
        + "\n"
        + summary
    )


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
    "analytics": bench_analytics,
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
        say("\n== targets (lightchat against the baseline in this run)")
        say(targets_table(verdicts))
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
