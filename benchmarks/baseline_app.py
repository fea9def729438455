"""The baseline: a bare Starlette + sse-starlette chat server, served by uvicorn.

It streams the same workload as ``bench_app.py`` over the same HTTP shape, with nothing
else: ``GET /`` redirects to ``/chat/<id>`` and sets a cookie, ``GET /chat/<id>`` is a tiny
page, ``GET /chat/<id>/events`` is the SSE stream, ``POST /chat/<id>/messages`` (form field
``content``) answers 204 and starts the reply. One SSE event per token (``tok``, data
``"<target id>\\n<text>"``), no batching, no rendering; an unnamed event with the composer
controls marks the start and the end of a run, as lightchat's run events do.

The SSE response uses the same sse-starlette settings as lightchat (15 s pings, 30 s send
timeout) and uvicorn runs with the same options as ``lightchat serve``, so the ratio of
lightchat to this measures what lightchat adds, not the transport.

Run it with ``python benchmarks/baseline_app.py --port 8001`` (``BENCH_PACE`` and
``BENCH_PARAGRAPH`` and ``BENCH_STAMP`` as for ``bench_app.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import uvicorn
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from workload import DEFAULT_PARAGRAPH, MESSAGE_TOKENS, STEP_TOKENS, Pacer, log_gc, token_text

PACE = float(os.environ.get("BENCH_PACE", "0"))
PARAGRAPH = int(os.environ.get("BENCH_PARAGRAPH", str(DEFAULT_PARAGRAPH)))
STAMPED = os.environ.get("BENCH_STAMP", "1" if PACE > 0 else "0") == "1"
if os.environ.get("BENCH_GC_LOG"):
    log_gc(os.environ["BENCH_GC_LOG"])

RUNNING = (
    '<hx-partial hx-target="#lc-controls" hx-swap="innerHTML">'
    '<button class="lc-send" disabled>Send</button><button class="lc-stop">Stop</button>'
    "</hx-partial>"
)
IDLE = (
    '<hx-partial hx-target="#lc-controls" hx-swap="innerHTML">'
    '<button class="lc-send">Send</button></hx-partial>'
)

# The whole client: post on Enter, append each token as a text node.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>baseline</title>
<link rel="icon" href="data:,"></head>
<body><main id="lc-log"></main>
<form id="lc-composer" method="post" action="/chat/{id}/messages">
<textarea name="content" aria-label="Message"></textarea>
<div id="lc-controls"><button class="lc-send">Send</button></div></form>
<script>
(function () {
  var form = document.getElementById("lc-composer"), log = document.getElementById("lc-log");
  function send() {
    fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                        headers: {"HX-Request": "true"}})
      .then(function (r) { if (r.ok) form.reset(); });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); send(); });
  form.elements.content.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
  });
  var events = new EventSource("/chat/{id}/events");
  events.addEventListener("tok", function (e) {
    var cut = e.data.indexOf("\\n"), id = e.data.slice(0, cut);
    var el = document.getElementById(id);
    if (!el) { el = document.createElement("div"); el.id = id; log.appendChild(el); }
    el.appendChild(document.createTextNode(e.data.slice(cut + 1)));
  });
  events.onmessage = function (e) {  // the run started or ended: show its controls
    document.getElementById("lc-controls").innerHTML = e.data;
  };
  form.dataset.ready = "";
})();
</script></body></html>
"""


class Chat:
    """One chat: the events waiting for its stream."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ServerSentEvent] = asyncio.Queue()
        self.seq = 0
        self.task: asyncio.Task[None] | None = None

    def put(self, data: str, event: str | None = None) -> None:
        self.seq += 1
        self.queue.put_nowait(ServerSentEvent(data=data, event=event, id=str(self.seq)))

    async def reply(self) -> None:
        pacer = Pacer(PACE)
        step = secrets.token_hex(16)
        for index in range(STEP_TOKENS):
            await pacer.wait(index)
            self.put(f"step-{step}-output\n{token_text(index, STAMPED, PARAGRAPH)}", "tok")
        msg = secrets.token_hex(16)
        for index in range(STEP_TOKENS, STEP_TOKENS + MESSAGE_TOKENS):
            await pacer.wait(index)
            self.put(f"msg-{msg}-raw\n{token_text(index, STAMPED, PARAGRAPH)}", "tok")
        self.put(IDLE)


CHATS: dict[str, Chat] = {}


async def new_chat(request: Request) -> Response:
    chat_id = secrets.token_hex(16)
    CHATS[chat_id] = Chat()
    response = RedirectResponse(f"/chat/{chat_id}", status_code=303)
    if "baseline_browser" not in request.cookies:
        response.set_cookie("baseline_browser", secrets.token_urlsafe(18), httponly=True)
    return response


def _chat(request: Request) -> Chat:
    chat = CHATS.get(request.path_params["chat_id"])
    if chat is None:
        raise LookupError("no such chat")
    return chat


async def chat_page(request: Request) -> Response:
    _chat(request)
    return HTMLResponse(PAGE.replace("{id}", request.path_params["chat_id"]))


async def events(request: Request) -> Response:
    chat = _chat(request)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        while True:
            yield await chat.queue.get()

    return EventSourceResponse(
        stream(), ping=15, send_timeout=30, headers={"Cache-Control": "no-store"}
    )


async def post_message(request: Request) -> Response:
    chat = _chat(request)
    form = await request.form()
    if not str(form.get("content") or "").strip():
        return Response("Type a message before sending.", status_code=400)
    chat.put(RUNNING)
    chat.task = asyncio.create_task(chat.reply())
    return Response(status_code=204)


async def not_found(request: Request, exc: Exception) -> Response:
    return Response("This chat does not exist.", status_code=404)


app = Starlette(
    routes=[
        Route("/", new_chat, methods=["GET"]),
        Route("/chat/{chat_id:str}", chat_page, methods=["GET"]),
        Route("/chat/{chat_id:str}/events", events, methods=["GET"]),
        Route("/chat/{chat_id:str}/messages", post_message, methods=["POST"]),
    ],
    exception_handlers={LookupError: not_found},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, timeout_graceful_shutdown=3, log_level="info")


if __name__ == "__main__":
    main()
