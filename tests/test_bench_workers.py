"""The workers benchmark's smoke run (``benchmarks/workers.py --quick``) keeps working.

It starts real ``lightchat serve`` processes: one worker on the in-process bus, and, when
this lightchat has the Redis bus and ``--workers``, two workers on Redis and PostgreSQL.
Every chat of each workload must be answered in full, and Redis must hold some memory per
chat afterwards. Skipped, saying why, when PostgreSQL does not answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import PG_URL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.processes


def test_quick_workers_benchmark_streams_every_reply(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "workers.py"),
            "--quick",
            "--setups",
            "memory,redis-2",
            "--pg-url",
            PG_URL,
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    if "skipped" in figures and isinstance(figures["skipped"], str):
        pytest.skip(figures["skipped"])
    setups = ["memory", *(["redis-2"] if "redis-2" not in figures["skipped"] else [])]
    assert figures["setups"] == setups
    for workload in ("fast", "paced"):
        for name in setups:
            found = figures[workload][name]
            assert found["failures"] == 0, (workload, name, done.stdout)
            assert found["missing_tokens"] == 0, (workload, name, done.stdout)
            assert found["tokens_per_s"] > 0
            assert found["gap_p99_ms"] >= found["gap_p50_ms"] >= 0
        if "redis-2" in setups:
            assert figures[workload]["redis-2"]["ratio"]["tokens_per_s"] > 0
    if "redis-2" in setups:
        memory = figures["redis_memory"]["short"]
        assert memory["failures"] == 0, done.stdout
        assert memory["key_bytes_per_chat"] > 0
