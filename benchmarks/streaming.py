"""Benchmarks of streaming under load: throughput, paced latency, long chats, wire bytes,
and what persistence costs the stream.

Each runs lightchat and the baseline in the same run, on fresh servers, with the load
client in ``client.py`` (the persistence benchmark runs lightchat twice instead: history on
and off); see README.md for the method and the definitions of the figures.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tempfile
from pathlib import Path

import client
import servers
from figures import Config, Figures, alternate, pct, ratio, say, table
from servers import KINDS
from workload import REPLY_TOKENS

TURNS = 4  # replies per chat in the throughput runs; then the user starts a new chat


# -- load ---------------------------------------------------------------------------------


def load_run(
    kind: str,
    *,
    chats: int,
    replies: int,
    turns: int = 0,
    pace: float = 0,
    stagger_s: float = 0,
    env: dict[str, str] | None = None,
) -> Figures:
    """One load run on a fresh server (``env``: more of its environment); its figures."""
    gc_log = Path(tempfile.mkdtemp(prefix="bench-")) / "gc.json"
    env = {**(env or {}), "BENCH_PACE": str(pace), "BENCH_GC_LOG": str(gc_log)}
    server = servers.start(kind, env)
    try:
        servers.wait_settled(server)  # lightchat's history store opens after the start

        async def go() -> client.LoadResult:
            if not pace:  # warm the server up (imports, template caches) on a spare chat
                await client.load(server.port, server.cpu, chats=1, replies=3)
            return await client.load(
                server.port,
                server.cpu,
                chats=chats,
                replies=replies,
                turns=turns,
                paced=pace > 0,
                stagger_s=stagger_s,
                timeout=120,  # a paced reply takes 4.4 s; a reply this late is a failure
            )

        result: client.LoadResult = client.run(go())
        lifetime_cpu = server.cpu()
        gc_totals = json.loads(server.signal_and_read(gc_log) or "null")
    finally:
        server.stop()
        gc_log.unlink(missing_ok=True)
        gc_log.parent.rmdir()
    done = result.replies
    tokens = len(done) * REPLY_TOKENS
    # A reply whose stream fell behind may get no text event at all (its tokens folded
    # into the final state before they were read): it has no time to first token.
    ttft = [(r.first_tok_ns - r.post_ns) / 1e6 for r in done if r.first_tok_ns]
    latency = [ns / 1e6 for r in done for ns in r.latencies_ns]
    # How late the app could emit each token against its schedule (start + index / pace):
    # a saturated server falls behind at the source, which delivery latency cannot show.
    emission_lag = [
        (ns - r.emitted_ns[0]) / 1e6 - 1000 * index / pace
        for r in done
        for index, ns in enumerate(r.emitted_ns)
    ]
    return {
        "chats": chats,
        "replies": len(done),
        "failures": result.failures,
        "failure_reasons": result.failure_reasons,
        "stray_events": result.stray_events,
        "tokens": tokens,
        "wall_s": result.wall_s,
        "tokens_per_s": tokens / result.wall_s,
        # Until the deferred work is done too: what the server can keep up with.
        "sustained_tokens_per_s": tokens / (result.wall_s + result.server_deferred_s),
        "ttft_p50_ms": pct(ttft, 50),
        "ttft_p99_ms": pct(ttft, 99),
        "latency_p50_ms": pct(latency, 50),
        "latency_p99_ms": pct(latency, 99),
        "latency_max_ms": max(latency, default=math.nan),
        "missing_tokens": tokens - len(latency) if pace else 0,
        "emission_lag_p99_ms": pct(emission_lag, 99),
        "tokens_per_s_per_chat": tokens / result.wall_s / chats,
        "server_cpu_s": result.server_cpu_s,
        "server_deferred_cpu_s": result.server_deferred_cpu_s,
        "server_cpu_per_1k_tokens_s": (result.server_cpu_s + result.server_deferred_cpu_s)
        / tokens
        * 1000
        if tokens
        else math.nan,
        "deferred_share": ratio(
            result.server_deferred_cpu_s, result.server_cpu_s + result.server_deferred_cpu_s
        ),
        "server_util": result.server_cpu_s / result.wall_s,
        "client_cpu_s": result.client_cpu_s,
        "client_util": result.client_cpu_s / result.wall_s,
        "client_lag_p99_ms": pct(result.client_lag_ms, 99),
        "chat_open_p50_ms": pct(result.open_ms, 50),
        "chat_open_p99_ms": pct(result.open_ms, 99),
        "gc_s": sum(gc_totals["seconds"]) if gc_totals else math.nan,
        "gc_share": sum(gc_totals["seconds"]) / lifetime_cpu if gc_totals else math.nan,
        "gc_full_collections": gc_totals["collections"][2] if gc_totals else -1,
        "gc_max_pause_ms": gc_totals["max_pause_s"] * 1000 if gc_totals else math.nan,
        "events_per_reply": statistics.mean(r.events for r in done) if done else math.nan,
        "tok_events_per_reply": statistics.mean(r.tok_events for r in done) if done else math.nan,
        "bytes_per_reply": statistics.mean(r.raw_bytes for r in done) if done else math.nan,
    }


def _warn_failures(label: str, runs: list[Figures]) -> None:
    """Say which replies never completed, and why: their tokens are not in the figures."""
    reasons: dict[str, int] = {}
    for run in runs:
        for reason, count in run["failure_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    if reasons:
        say(f"  ! {label}: {sum(reasons.values())} replies failed: {reasons}")


def _median_figures(runs: list[Figures]) -> Figures:
    out: Figures = {}
    for key, value in runs[0].items():
        if isinstance(value, int | float):
            out[key] = statistics.median(r[key] for r in runs)
    out["failures"] = sum(r["failures"] for r in runs)
    return out


def _load_rows(levels: list[int], figures: Figures, keys: list[tuple[str, str]]) -> str:
    rows = []
    for level in levels:
        for kind in KINDS:
            f = figures[str(level)][kind]
            rows.append([f"{level} {kind}"] + [f[k] for k, _ in keys])
        r = figures[str(level)]["ratio"]
        rows.append([f"{level} ratio"] + [r.get(k, math.nan) for k, _ in keys])
    return table(["chats server"] + [label for _, label in keys], rows)


def bench_throughput(cfg: Config) -> Figures:
    """1, 50, 100 and 200 concurrent chats as fast as possible."""
    levels = [1, 50, 100, 200]
    total = cfg.pick(1000, 400)  # replies per run, spread over the users
    figures: Figures = {"levels": levels, "replies_per_run": total, "turns_per_chat": TURNS}
    for level in levels:
        per_chat = max(1, round(total / level))
        runs: dict[str, list[Figures]] = {kind: [] for kind in KINDS}
        for _, kind in alternate(cfg.repeat):
            runs[kind].append(load_run(kind, chats=level, replies=per_chat, turns=TURNS))
        for kind in KINDS:
            _warn_failures(f"{level} users, {kind}", runs[kind])
        entry: Figures = {kind: _median_figures(runs[kind]) for kind in KINDS}
        entry["runs"] = runs
        lc, base = entry["lightchat"], entry["baseline"]
        entry["ratio"] = {
            k: ratio(lc[k], base[k])
            for k in ("tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "server_cpu_per_1k_tokens_s")
        }
        figures[str(level)] = entry
        say(
            f"  {level:>4} users x {per_chat} replies ({TURNS} per chat): "
            f"done ({cfg.repeat} run(s) each)"
        )
    say(
        _load_rows(
            levels,
            figures,
            [
                ("tokens_per_s", "tokens/s"),
                ("ttft_p50_ms", "TTFT p50 ms"),
                ("ttft_p99_ms", "TTFT p99 ms"),
                ("server_cpu_per_1k_tokens_s", "srv CPU s/1k tok"),
                ("deferred_share", "deferred"),
                ("server_util", "srv CPU util"),
                ("client_util", "client CPU util"),
                ("client_lag_p99_ms", "client lag p99 ms"),
                ("events_per_reply", "events/reply"),
                ("gc_share", "GC share of CPU"),
                ("chat_open_p99_ms", "new chat p99 ms"),
            ],
        )
    )
    return figures


HISTORY_MODES = {"on": {"LIGHTCHAT_HISTORY": "1"}, "off": {"LIGHTCHAT_HISTORY": "0"}}


def bench_persistence(cfg: Config) -> Figures:
    """Tokens/s with history on and off, in the same run: what persistence costs the stream."""
    if "LIGHTCHAT_HISTORY" in servers.lightchat_env:
        raise SystemExit("persistence sets LIGHTCHAT_HISTORY itself; leave it out of --set")
    # (name, users, replies per chat before the user opens a new chat; None: never)
    scenarios: list[tuple[str, int, int | None]] = [
        ("1", 1, TURNS),  # one user opening a new chat every few replies (pages included)
        ("1-long", 1, None),  # one long conversation: the token stream alone
        ("100", 100, TURNS),
    ]
    total = cfg.pick(1000, 400)  # replies per run, spread over the users
    figures: Figures = {
        "levels": [name for name, _, _ in scenarios],
        "replies_per_run": total,
        "turns_per_chat": TURNS,
    }
    keys = (
        "tokens_per_s",
        "sustained_tokens_per_s",
        "server_cpu_per_1k_tokens_s",
        "ttft_p50_ms",
        "ttft_p99_ms",
    )
    for name, users, turns in scenarios:
        per_chat = max(1, round(total / users))
        runs: dict[str, list[Figures]] = {mode: [] for mode in HISTORY_MODES}
        for index in range(cfg.repeat):  # interleaved, the order flipped each repeat
            order = list(HISTORY_MODES) if index % 2 == 0 else list(reversed(HISTORY_MODES))
            for mode in order:
                runs[mode].append(
                    load_run(
                        "lightchat",
                        chats=users,
                        replies=per_chat,
                        turns=turns or per_chat,
                        env=HISTORY_MODES[mode],
                    )
                )
        for mode in HISTORY_MODES:
            _warn_failures(f"{name} users, history {mode}", runs[mode])
        entry: Figures = {mode: _median_figures(runs[mode]) for mode in HISTORY_MODES}
        entry["runs"] = runs
        entry["ratio"] = {k: ratio(entry["on"][k], entry["off"][k]) for k in keys}
        figures[name] = entry
        chats = "one chat" if turns is None else f"a new chat every {turns}"
        say(f"  {name:>6}: {users} users x {per_chat} replies, {chats}: done")
    rows = []
    for name, _, _ in scenarios:
        for mode in (*HISTORY_MODES, "ratio"):
            f = figures[name][mode]
            rows.append(
                [f"{name} history {mode}"]
                + [f.get(k, math.nan) for k in keys]
                + [f.get("deferred_share", math.nan), f.get("events_per_reply", math.nan)]
            )
    say(
        table(
            [
                "chats",
                "tokens/s",
                "sustained tok/s",
                "srv CPU s/1k tok",
                "TTFT p50 ms",
                "TTFT p99 ms",
                "deferred",
                "events/reply",
            ],
            rows,
        )
    )
    return figures


PACED_LEVELS = [100, 300, 1000]


def bench_paced(cfg: Config) -> Figures:
    """100, 300 and 1,000 concurrent chats, each streaming at 50 tokens/s."""
    levels = PACED_LEVELS
    replies = cfg.pick(2, 1)
    figures: Figures = {"levels": levels, "pace": 50, "replies_per_chat": replies}
    for level in levels:
        runs: dict[str, list[Figures]] = {kind: [] for kind in KINDS}
        for _, kind in alternate(cfg.repeat):
            runs[kind].append(load_run(kind, chats=level, replies=replies, pace=50, stagger_s=1.0))
        for kind in KINDS:
            _warn_failures(f"{level} paced chats, {kind}", runs[kind])
        entry: Figures = {kind: _median_figures(runs[kind]) for kind in KINDS}
        entry["runs"] = runs
        lc, base = entry["lightchat"], entry["baseline"]
        entry["ratio"] = {
            k: ratio(lc[k], base[k])
            for k in (
                "latency_p50_ms",
                "latency_p99_ms",
                "tokens_per_s",
                "server_cpu_per_1k_tokens_s",
            )
        }
        figures[str(level)] = entry
        say(f"  {level:>4} chats x {replies} paced replies: done ({cfg.repeat} run(s) each)")
    say(
        _load_rows(
            levels,
            figures,
            [
                ("latency_p50_ms", "latency p50 ms"),
                ("latency_p99_ms", "latency p99 ms"),
                ("latency_max_ms", "max ms"),
                ("missing_tokens", "missing"),
                ("tokens_per_s", "tokens/s"),
                ("tokens_per_s_per_chat", "tok/s per chat"),
                ("emission_lag_p99_ms", "emission lag p99 ms"),
                ("server_cpu_per_1k_tokens_s", "srv CPU s/1k tok"),
                ("server_util", "srv CPU util"),
                ("client_util", "client CPU util"),
                ("client_lag_p99_ms", "client lag p99 ms"),
                ("events_per_reply", "events/reply"),
                ("tok_events_per_reply", "tok events/reply"),
                ("gc_share", "GC share of CPU"),
                ("gc_max_pause_ms", "GC max pause ms"),
            ],
        )
    )
    return figures


def bench_long_chat(cfg: Config) -> Figures:
    """One chat answering many replies: does a reply cost more as the chat grows?"""
    replies = cfg.pick(1000, 300)
    window = replies // 5
    figures: Figures = {"replies": replies, "window": window}
    for kind in KINDS:
        server = servers.start(kind)
        try:

            async def go(srv: servers.Server = server) -> tuple[list[float], list[float]]:
                [chat] = await client.open_chats(srv.port, 1)
                cpu = [srv.cpu()]  # CPU time at each reply boundary (10 ms ticks: sum, then divide)
                durations = []
                for _ in range(replies):
                    reply = await chat.reply()
                    cpu.append(srv.cpu())
                    durations.append((reply.done_ns - reply.post_ns) / 1e6)
                chat.close()
                return cpu, durations

            cpu, durations = client.run(go())
        finally:
            server.stop()
        figures[kind] = {
            "first_cpu_ms": 1000 * (cpu[window] - cpu[0]) / window,
            "last_cpu_ms": 1000 * (cpu[-1] - cpu[-1 - window]) / window,
            "first_reply_ms": statistics.median(durations[:window]),
            "last_reply_ms": statistics.median(durations[-window:]),
        }
        f = figures[kind]
        f["cpu_growth"] = ratio(f["last_cpu_ms"], f["first_cpu_ms"])
        f["reply_growth"] = ratio(f["last_reply_ms"], f["first_reply_ms"])
    say(
        table(
            [
                "server",
                f"CPU ms/reply, replies 1-{window}",
                f"last {window}",
                "growth",
                "reply ms, first",
                "last",
                "growth",
            ],
            [
                [
                    kind,
                    figures[kind]["first_cpu_ms"],
                    figures[kind]["last_cpu_ms"],
                    figures[kind]["cpu_growth"],
                    figures[kind]["first_reply_ms"],
                    figures[kind]["last_reply_ms"],
                    figures[kind]["reply_growth"],
                ]
                for kind in KINDS
            ],
        )
    )
    return figures


# -- bytes on the wire --------------------------------------------------------------------

_PARTIAL = re.compile(r'<hx-partial hx-target="#([^"]+)"')
_ASSISTANT = re.compile(r'<article id="msg-(\w+)" class="lc-msg lc-assistant_message"')
_STEP = re.compile(r'<details id="step-(\w+)"')


def _element(html: str, start_tag: str, end_tag: str) -> str:
    start = html.find(start_tag)
    if start < 0:
        return ""
    end = html.find(end_tag, start)
    return html[start : end + len(end_tag)]


def _attribute(log: list[tuple[str | None, str, int]], message: str, step: str) -> dict[str, float]:
    """Payload bytes per item and kind: each event (or partial in it) goes to what it updates.

    Keys are ``message``, ``step`` and ``other`` (the user's message, the controls), and
    ``message tok`` / ``message html`` for the message's streamed text and its HTML updates.
    """
    found = {"message": 0.0, "step": 0.0, "other": 0.0, "message tok": 0.0, "message html": 0.0}

    def item(target: str, content: str) -> str:
        if target.startswith(f"msg-{message}") or f'id="msg-{message}"' in content[:200]:
            return "message"
        if target.startswith(f"step-{step}") or f'id="step-{step}"' in content[:200]:
            return "step"
        return "other"

    last_target = ""
    for name, data, size in log:
        if name in client.TEXT_EVENTS:
            # "tok" names its target (lightchat's before "t" existed: an empty name is the
            # last one); "t" goes to the last one.
            if name == "tok":
                last_target = data.partition("\n")[0] or last_target
            key = item(last_target, "")
            found[key] += size
            if key == "message":
                found["message tok"] += size
            continue
        marks = [(m.start(), m.group(1)) for m in _PARTIAL.finditer(data)] or [(0, "")]
        for index, (start, target) in enumerate(marks):
            end = marks[index + 1][0] if index + 1 < len(marks) else len(data)
            key = item(target, data[start:end])
            share = size * (end - start) / max(len(data), 1)
            found[key] += share
            if key == "message":
                found["message html"] += share
    return found


def wire_run(kind: str, env: dict[str, str], replies: int) -> Figures:
    """One chat, ``replies`` replies, every event recorded; figures of the last reply."""
    server = servers.start(kind, env)
    try:

        async def go() -> tuple[client.Reply, str]:
            [chat] = await client.open_chats(server.port, 1, record=True)
            reply = None
            for _ in range(replies):
                reply = await chat.reply(timeout=60)
            assert reply is not None
            page = await chat.page() if kind == "lightchat" else ""
            chat.close()
            return reply, page

        reply, page = client.run(go())
    finally:
        server.stop()
    scale = reply.raw_bytes / reply.payload_bytes  # chunked framing, spread evenly
    text = "\n".join(data for _, data, _ in reply.log)
    if kind == "lightchat":
        message = _ASSISTANT.findall(text)[-1]
        step = _STEP.findall(text)[-1]
        article = _element(page, f'<article id="msg-{message}"', "</article>")
        details = _element(page, f'<details id="step-{step}"', "</details>")
    else:
        message = text.split("msg-", 2)[1].split("-raw", 1)[0]
        step = text.split("step-", 2)[1].split("-output", 1)[0]
        article = details = ""
    parts = _attribute(reply.log, message, step)
    return {
        "events": reply.events,
        "reply_bytes": reply.raw_bytes,
        "message_bytes": parts["message"] * scale,
        "message_tok_bytes": parts["message tok"] * scale,
        "message_html_bytes": parts["message html"] * scale,
        "step_bytes": parts["step"] * scale,
        "other_bytes": parts["other"] * scale,
        "final_article_bytes": len(article.encode()),
        "final_step_bytes": len(details.encode()),
        "message_ratio": ratio(parts["message"] * scale, len(article.encode())),
        "reply_ratio": ratio(reply.raw_bytes, len(article.encode()) + len(details.encode())),
    }


WIRE_CASES = {
    "paced, paragraphs of 40 tokens": {"BENCH_PACE": "50", "BENCH_STAMP": "0"},
    "paced, one 200-token paragraph": {
        "BENCH_PACE": "50",
        "BENCH_PARAGRAPH": "0",
        "BENCH_STAMP": "0",
    },
    "as fast as possible": {"BENCH_STAMP": "0"},
}


def bench_wire_bytes(cfg: Config) -> Figures:
    """Bytes on the wire per streamed message, against its final HTML."""
    cases = list(WIRE_CASES.items())
    figures: Figures = {"cases": [name for name, _ in cases]}
    rows = []
    for name, env in cases:
        entry = {kind: wire_run(kind, env, replies=cfg.pick(2, 1)) for kind in KINDS}
        lc, base = entry["lightchat"], entry["baseline"]
        entry["ratio"] = {"message_bytes": ratio(lc["message_bytes"], base["message_bytes"])}
        figures[name] = entry
        rows.append(
            [
                name,
                lc["message_bytes"] / 1024,
                lc["message_tok_bytes"] / 1024,
                lc["message_html_bytes"] / 1024,
                lc["final_article_bytes"] / 1024,
                lc["message_ratio"],
                lc["events"],
                lc["reply_bytes"] / 1024,
                lc["reply_ratio"],
                base["message_bytes"] / 1024,
                entry["ratio"]["message_bytes"],
            ]
        )
    say(
        table(
            [
                "workload",
                "msg wire KB",
                "(tok",
                "html)",
                "final <article> KB",
                "x final",
                "events",
                "reply wire KB",
                "x final",
                "baseline msg KB",
                "x baseline",
            ],
            rows,
        )
    )
    return figures
