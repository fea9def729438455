"""Benchmarks of starting up and sitting idle: cold start, first page load, the browser's
round trip for one reply, and memory per idle chat.

Each measures lightchat and the baseline in the same run; see README.md for the method.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import browser
import client
import servers
from figures import Config, Figures, alternate, ratio, say, table
from servers import KINDS

SETTLE_S = 3.0  # the settled RSS is read this long after the launch
OPENS_S = 1.0  # lightchat's history store opens by itself this long after its start


# -- cold start ---------------------------------------------------------------------------


def bench_cold_start(cfg: Config) -> Figures:
    """Launch of the server process to the first chat page answered; RSS then, and later."""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for _, kind in alternate(max(cfg.pick(5, 2), cfg.repeat)):
        server = servers.spawn(kind)
        try:
            first, page = servers.wait_first_page(server, poll=0.002)
            rss = server.rss()
            # lightchat opens its history store (imports it, migrates a new database)
            # when first needed or a second after its start: its readiness check, asked
            # from then on, says when that is done.
            time.sleep(max(0.0, OPENS_S - (time.perf_counter() - server.started)))
            ready = servers.wait_settled(server)
            time.sleep(max(0.0, SETTLE_S - (time.perf_counter() - server.started)))
            settled = server.rss()
        finally:
            server.stop()
        runs[kind].append(
            {
                "first_answer_s": first,
                "first_200_s": page,
                "ready_s": ready if kind == "lightchat" else page,
                "rss_mb": rss / 2**20,
                "settled_rss_mb": settled / 2**20,
            }
        )
    figures: Figures = {"runs": runs}
    for kind in KINDS:
        figures[kind] = {
            key: statistics.median(r[key] for r in runs[kind]) for key in runs[kind][0]
        } | {"first_200_s_min": min(r["first_200_s"] for r in runs[kind])}
    lc, base = figures["lightchat"], figures["baseline"]
    say(
        table(
            [
                "server",
                "to first answer on / (s)",
                "to the first chat page (s)",
                "min (s)",
                "RSS then (MiB)",
                f"RSS {SETTLE_S:g} s after launch (MiB)",
            ],
            [
                [
                    kind,
                    figures[kind]["first_answer_s"],
                    figures[kind]["first_200_s"],
                    figures[kind]["first_200_s_min"],
                    figures[kind]["rss_mb"],
                    figures[kind]["settled_rss_mb"],
                ]
                for kind in KINDS
            ],
        )
    )
    say(
        f"lightchat's history store was open {figures['lightchat']['ready_s']:.2f} s after "
        "launch (/-/ready answered 200)"
    )
    figures["ratio"] = {
        "first_200_s": ratio(lc["first_200_s"], base["first_200_s"]),
        "rss_mb": ratio(lc["rss_mb"], base["rss_mb"]),
        "settled_rss_mb": ratio(lc["settled_rss_mb"], base["settled_rss_mb"]),
    }
    say(
        f"lightchat / baseline: time x{figures['ratio']['first_200_s']:.2f}, "
        f"RSS x{figures['ratio']['rss_mb']:.2f}, "
        f"settled RSS x{figures['ratio']['settled_rss_mb']:.2f} "
        f"(median of {len(runs['lightchat'])} launches each, alternating)"
    )
    return figures


# -- browser ------------------------------------------------------------------------------


def bench_page_load(cfg: Config) -> Figures:
    """A first visit in Chromium: requests, bytes on the wire, time until it can send; then
    a repeat visit: static files asked for again."""
    figures: Figures = {}
    with browser.chromium() as chromium:
        for kind in KINDS:
            server = servers.start(kind)
            try:
                # A visit to a running server: its history store open (the first second
                # after a start is the cold-start benchmark's).
                servers.wait_settled(server)
                loads = max(cfg.pick(7, 3), cfg.repeat)
                figures[kind] = browser.page_load(chromium, server, loads)
            finally:
                server.stop()
    say(
        table(
            [
                "page",
                "requests",
                "HTML+JS+CSS on the wire (KiB)",
                "ready to send (ms)",
                "max (ms)",
                "DCL (ms)",
                "first paint (ms)",
                "repeat visit: static files fetched",
            ],
            [
                [
                    kind,
                    figures[kind]["requests"],
                    figures[kind]["bytes"] / 1024,
                    figures[kind]["ready_ms"],
                    figures[kind]["ready_ms_max"],
                    figures[kind]["dom_content_loaded_ms"],
                    figures[kind]["first_paint_ms"],
                    figures[kind]["repeat_static_fetched"],
                ]
                for kind in KINDS
            ],
        )
    )
    lc = figures["lightchat"]
    say(
        "lightchat's requests: "
        + ", ".join(
            r.split(" ", 1)[1].split("/", 3)[-1] or "/" for r in lc["runs"][0]["request_list"]
        )
    )
    figures["ratio"] = {
        "ready_ms": ratio(lc["ready_ms"], figures["baseline"]["ready_ms"]),
    }
    say(
        f"lightchat / baseline: ready x{figures['ratio']['ready_ms']:.2f} "
        f"(median of {len(lc['runs'])} cold loads)"
    )
    return figures


def bench_round_trip(cfg: Config) -> Figures:
    """Enter to the last token painted for one 220-token reply, and the browser's CPU."""
    figures: Figures = {}
    with browser.chromium() as chromium:
        for kind in KINDS:
            server = servers.start(kind)
            try:
                figures[kind] = browser.round_trip(
                    chromium, server, replies=cfg.pick(9, 3), warmup=cfg.pick(2, 1)
                )
            finally:
                server.stop()
    keys = ["round_trip_ms", "round_trip_ms_max", "task_ms", "script_ms", "layout_ms", "style_ms"]
    say(
        table(
            [
                "page",
                "Enter->painted (ms)",
                "max (ms)",
                "CPU task (ms)",
                "script",
                "layout",
                "style",
            ],
            [[kind] + [figures[kind][k] for k in keys] for kind in KINDS],
        )
    )
    lc, base = figures["lightchat"], figures["baseline"]
    figures["ratio"] = {k: ratio(lc[k], base[k]) for k in ("round_trip_ms", "task_ms")}
    say(
        f"lightchat / baseline: round trip x{figures['ratio']['round_trip_ms']:.2f}, "
        f"CPU x{figures['ratio']['task_ms']:.2f} (median of {len(lc['runs'])} replies)"
    )
    return figures


# -- memory -------------------------------------------------------------------------------


def bench_idle_memory(cfg: Config) -> Figures:
    """Server RSS per idle chat whose event stream is connected."""
    count = 500  # the target's figure: RSS per chat, 500 chats open (as quick: it is fast)
    warm = 50
    figures: Figures = {"chats": count}
    for kind in KINDS:
        server = servers.start(kind)
        try:
            servers.wait_settled(server)  # lightchat's history store opens after the start

            async def measure(srv: servers.Server = server) -> dict[str, float]:
                first = await client.open_chats(srv.port, warm, keep=False)
                await asyncio.sleep(1)
                before = srv.rss()
                rest = await client.open_chats(srv.port, count, keep=False)
                await asyncio.sleep(1)
                after = srv.rss()
                for chat in first + rest:
                    chat.close()
                return {
                    "rss_before_mb": before / 2**20,
                    "rss_after_mb": after / 2**20,
                    "kb_per_chat": (after - before) / count / 1024,
                }

            figures[kind] = client.run(measure())
        finally:
            server.stop()
    figures["ratio"] = {
        "kb_per_chat": ratio(
            figures["lightchat"]["kb_per_chat"], figures["baseline"]["kb_per_chat"]
        )
    }
    say(
        table(
            [
                "server",
                f"RSS with {warm} chats (MB)",
                f"with {warm + count} (MB)",
                "KB per idle chat",
            ],
            [
                [
                    k,
                    figures[k]["rss_before_mb"],
                    figures[k]["rss_after_mb"],
                    figures[k]["kb_per_chat"],
                ]
                for k in KINDS
            ],
        )
    )
    say(f"lightchat / baseline: x{figures['ratio']['kb_per_chat']:.2f}")
    return figures
