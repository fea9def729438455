"""Browser benchmarks in Debian's Chromium, driven by Playwright (it never downloads a browser).

- ``page_load``: a cold first visit (a fresh browser context each time) of ``/``, which
  redirects to the chat page. Counts every request the page makes (the redirect and the
  event stream included), sums the bytes of the HTML, JavaScript and CSS (Resource Timing
  ``transferSize``: headers and body as received, compressed when they were), and times
  navigation start to the moment a message can be sent: the composer form exists and htmx
  has processed it (``data-htmx-powered``), which happens after every deferred script ran.
  An init script's MutationObserver stamps that moment with ``performance.now()`` (no
  polling). Then the next visit in the same context (``/`` again, a new chat): how many of
  its stylesheets and scripts came over the network (``transferSize`` > 0) rather than
  from the browser's cache.
- ``round_trip``: in one open chat, types a message and presses Enter; times the keydown
  event to the frame painted after the last token (the reply's ``END_MARK``) entered the
  page (a ``requestAnimationFrame`` callback, then a task: the first moment after that
  frame), and reads the renderer's CPU time spent on the reply from the DevTools protocol
  (``Performance.getMetrics`` ``TaskDuration`` and ``ScriptDuration`` deltas, taken before
  Enter and after the run-ended controls update was applied).

The baseline page (``baseline_app.py``) is a plain form and an ``EventSource`` that appends
each token as a text node, with no htmx: the same measurement on it gives the ratio.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, sync_playwright
from servers import Server
from workload import END_MARK

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Stamps when the composer can send (lightchat: htmx processed the form; baseline: its
# script ran), and measures Enter -> last token painted once armed.
INIT_SCRIPT = """
(() => {
  const bench = (window.__bench = {ready: null});
  const formReady = () => {
    const form = document.getElementById("lc-composer");
    return !!(form && form.querySelector("textarea") &&
      (form.hasAttribute("data-htmx-powered") || form.hasAttribute("data-ready")));
  };
  new MutationObserver((_, observer) => {
    if (bench.ready === null && formReady()) {
      bench.ready = performance.now();
      observer.disconnect();
    }
  }).observe(document, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ["data-htmx-powered", "data-ready"]});

  let rt = null;
  addEventListener("keydown", (event) => {
    if (rt && event.key === "Enter" && rt.t0 === null) rt.t0 = event.timeStamp;
  }, true);
  const ended = () => !document.querySelector("#lc-controls .lc-stop");
  const finish = () => {
    if (rt && rt.painted !== null && rt.ended === null && ended()) {
      rt.ended = performance.now();
      rt.resolve({t0: rt.t0, seen: rt.seen, painted: rt.painted, ended: rt.ended});
    }
  };
  const afterPaint = (callback) => requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = callback;
    channel.port2.postMessage(null);
  });
  new MutationObserver((mutations) => {
    if (!rt || rt.t0 === null) return;
    if (rt.seen === null) {
      for (const m of mutations) {
        const nodes = m.type === "characterData" ? [m.target] : m.addedNodes;
        for (const node of nodes) {
          if ((node.textContent || "").includes(END)) {
            rt.seen = performance.now();
            afterPaint(() => { rt.painted = performance.now(); finish(); });
            return;
          }
        }
      }
    } else {
      finish();
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
  window.__benchArm = () => {
    rt = {t0: null, seen: null, painted: null, ended: null};
    window.__benchReply = new Promise((resolve) => { rt.resolve = resolve; });
  };
})();
""".replace("END", repr(END_MARK))

RESOURCES_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    navigation: {name: nav.name, transferSize: nav.transferSize,
                 encodedBodySize: nav.encodedBodySize, redirectCount: nav.redirectCount,
                 domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd},
    resources: performance.getEntriesByType("resource").map((r) => ({
      name: r.name, initiatorType: r.initiatorType, transferSize: r.transferSize,
      encodedBodySize: r.encodedBodySize, responseEnd: r.responseEnd})),
    ready: window.__bench.ready,
    firstPaint: (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime,
  };
}
"""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, as the browser tests start it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _base(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


def page_load(browser: Browser, server: Server, repeats: int) -> dict[str, Any]:
    """First visits of ``/`` in fresh contexts: requests, bytes, time until it can send."""
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        context = browser.new_context()
        try:
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r, seen=requests: seen.append(f"{r.method} {r.url}"))
            page.add_init_script(INIT_SCRIPT)
            page.goto(_base(server) + "/", wait_until="load")
            page.wait_for_function("window.__bench.ready !== null")
            page.wait_for_timeout(300)  # let the event stream's request be issued and counted
            found = page.evaluate(RESOURCES_JS)
            first_visit = list(requests)
            # The next visit, in the same browser: a new chat, its files in the cache.
            page.goto(_base(server) + "/", wait_until="load")
            page.wait_for_function("window.__bench.ready !== null")
            again = page.evaluate(RESOURCES_JS)
        finally:
            context.close()
        nav = found["navigation"]
        static = _static(found)
        runs.append(
            {
                "requests": len(first_visit),
                "request_list": first_visit,
                "bytes": nav["transferSize"] + sum(r["transferSize"] for r in static),
                "body_bytes": nav["encodedBodySize"] + sum(r["encodedBodySize"] for r in static),
                "ready_ms": found["ready"],
                "dom_content_loaded_ms": nav["domContentLoaded"],
                "first_paint_ms": found["firstPaint"],
                "load_ms": nav["load"],
                "files": [(nav["name"], nav["transferSize"])]
                + [(r["name"], r["transferSize"]) for r in static],
                # transferSize 0: answered from the browser's cache, nothing asked.
                "repeat_static_fetched": sum(1 for r in _static(again) if r["transferSize"] > 0),
                "repeat_ready_ms": again["ready"],
            }
        )
    return {
        "runs": runs,
        "repeat_static_fetched": max(r["repeat_static_fetched"] for r in runs),
        "repeat_ready_ms": statistics.median(r["repeat_ready_ms"] for r in runs),
        "requests": max(r["requests"] for r in runs),
        "bytes": statistics.median(r["bytes"] for r in runs),
        "kb": statistics.median(r["bytes"] for r in runs) / 1024,
        "ready_ms": statistics.median(r["ready_ms"] for r in runs),
        "ready_ms_max": max(r["ready_ms"] for r in runs),
        "dom_content_loaded_ms": statistics.median(r["dom_content_loaded_ms"] for r in runs),
        "first_paint_ms": statistics.median(r["first_paint_ms"] for r in runs),
    }


def _static(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The stylesheets and scripts among a page's resources."""
    kinds = ("script", "link", "css")
    return [r for r in found["resources"] if r["initiatorType"] in kinds]


def _metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def round_trip(browser: Browser, server: Server, replies: int, warmup: int) -> dict[str, Any]:
    """Enter to last token painted, and renderer CPU, for ``replies`` replies in one chat."""
    context = browser.new_context()
    runs: list[dict[str, float]] = []
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(INIT_SCRIPT)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(_base(server) + "/", wait_until="load")
        page.wait_for_function("window.__bench.ready !== null")
        box = page.get_by_role("textbox", name="Message")
        for index in range(warmup + replies):
            box.fill(f"question {index}")
            page.evaluate("window.__benchArm()")
            before = _metrics(cdp)
            box.press("Enter")
            times = page.evaluate("window.__benchReply")
            after = _metrics(cdp)
            if index < warmup:
                continue
            runs.append(
                {
                    "round_trip_ms": times["painted"] - times["t0"],
                    "last_token_in_dom_ms": times["seen"] - times["t0"],
                    "run_ended_ms": times["ended"] - times["t0"],
                    "task_ms": (after["TaskDuration"] - before["TaskDuration"]) * 1000,
                    "script_ms": (after["ScriptDuration"] - before["ScriptDuration"]) * 1000,
                    "layout_ms": (after["LayoutDuration"] - before["LayoutDuration"]) * 1000,
                    "style_ms": (after["RecalcStyleDuration"] - before["RecalcStyleDuration"])
                    * 1000,
                }
            )
        if errors:
            raise RuntimeError(f"JavaScript errors on the {server.kind} page: {errors}")
    finally:
        context.close()
    summary: dict[str, Any] = {"runs": runs}
    for key in runs[0]:
        summary[key] = statistics.median(r[key] for r in runs)
    summary["round_trip_ms_max"] = max(r["round_trip_ms"] for r in runs)
    return summary
