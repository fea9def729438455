"""Forwarding: with several workers, a chat's requests are answered by the worker that
owns it, whichever worker the load balancer gave them to.

A chat's callbacks and ``user_session`` live in one worker (``lightchat.cluster``), so a
request for ``/chat/{id}`` (or below it, or ``/embed/{id}``) that changes or shows it goes
to that worker:

- owned here: handled here;
- owned by a live worker: the raw request (method, path, query, headers, body) goes to
  that worker's inbox over Redis; it runs the request through its own whole app (every
  check again: sign-in, form token, owner) and its answer is relayed as it is. If that
  worker dies before answering, the answer is a 503 that says to send again: the next
  request takes the chat over;
- owned by no live worker (it died, or the chat is new to the cluster): claimed here, then
  handled here, where the endpoint takes it over (``lightchat.http.web.take_over``). When two
  workers race for it, the loser forwards to the winner.

The chat's stream (``/events``) is never forwarded: any worker streams any chat from the
bus. Nor is the download of an element's file (``GET .../elements/{id}``): any worker
finds the element in the chat's log and serves its bytes from the file storage, which the
workers share, instead of the bytes travelling through Redis.

A request forwarded here carries ``scope["lightchat.forwarded"]`` (set by the inbox
consumer, never from a header), so it is handled here and never forwarded again, with one
exception: a worker shutting down.

While this worker shuts down, a post for a chat it runs keeps its body here
(``scope["lightchat.hand_over"]``) before it reaches the endpoint, which alone knows
whether the post would start a run. If so, the endpoint hands the chat over (once the
chat's run ended) and raises ``HandedOver`` naming another live worker that stays; the
request is then sent there as any forwarded one, to a worker that now claims the chat
and takes it over, so the user's message is answered with nothing lost.

Nothing is forwarded that the owner would refuse: the middleware sits innermost, after
the body limits, the same-origin check, the form token and the sign-in gate, so a worker
that does not own a chat refuses a request as fast, and with the same status, as its owner
would; and a chat is reached only by whoever its metadata names as its owner (anyone else
gets the owner's 404), before a byte of the body is read. Plain ASGI (never
``BaseHTTPMiddleware``, see ``lightchat.http.middleware``). The owner's answer is relayed with the
security headers it carries.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.cluster import FORWARDED, Cluster, ClusterUnavailable, OwnerGone
from lightchat.errors import HandedOver
from lightchat.http.web import HAND_OVER, NOT_FOUND, browser, problem

_CHAT = re.compile(r"^/(?:chat|embed)/([^/]+)(/.*)?$")
_ELEMENT_FILE = re.compile(r"^/elements/[^/]+$")

OWNER_GONE = (
    "The server running this chat stopped before it answered. "
    "Send again: another server takes the chat over."
)
NO_REDIS = (
    "The chat's servers cannot reach their shared store (Redis) right now. Try again in a moment."
)
TOO_LARGE = "This request is too large."
MARGIN_S = 30.0
"""How much longer than ``form_wait_s`` a forwarded request may take."""


def chat_of(scope: Scope) -> str | None:
    """The id of the chat a request is for, if it is one to forward: not its stream, nor
    the download of one of its element files (any worker serves those, see the module
    docstring)."""
    path: str = scope["path"]
    root = str(scope.get("root_path", "")).rstrip("/")
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    match = _CHAT.match(path)
    if match is None:
        return None
    rest = match.group(2) or ""
    if rest == "/events" or (scope["method"] == "GET" and _ELEMENT_FILE.match(rest)):
        return None
    return unquote(match.group(1))


class Forwarding:
    """Sends each chat request to the worker that owns the chat (see the module docstring)."""

    def __init__(self, app: ASGIApp, cluster: Cluster, max_bytes: int, wait_s: float) -> None:
        self.app = app
        self.cluster = cluster
        self.max_bytes = max_bytes
        self.timeout = wait_s + MARGIN_S

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = chat_of(scope)
        if session_id is None:
            await self.app(scope, receive, send)
            return
        if scope.get(FORWARDED):
            await self._here(scope, receive, send)
            return
        cluster = self.cluster
        try:
            owner, alive = await cluster.route(session_id)
            if not alive and owner not in (None, cluster.wid):
                if not await cluster.claim(session_id):
                    owner, alive = await cluster.route(session_id)  # lost the race: to the winner
                else:
                    owner = cluster.wid
        except ClusterUnavailable:
            await _answer(send, 503, NO_REDIS)
            return
        if owner is None or owner == cluster.wid:
            # Ours, or no worker's: the endpoint checks whose chat it is before it
            # claims it (so probing ids makes no keys).
            await self._here(scope, receive, send)
            return
        try:
            allowed = await self._may_reach(scope, session_id)
        except ClusterUnavailable:
            await _answer(send, 503, NO_REDIS)
            return
        if not allowed:
            # The owner's own answer to someone else's chat, given here: nothing is read
            # of the body, and nothing goes to Redis.
            await problem(Request(scope), 404, NOT_FOUND)(scope, receive, send)
            return
        body = await _body(receive, self.max_bytes)
        if body is None:
            await _answer(send, 413, TOO_LARGE)
            return
        await self._relay(send, owner, _request(scope, body))

    async def _may_reach(self, scope: Scope, session_id: str) -> bool:
        """True when whoever asks (their browser, or the signed-in user) may see the chat,
        by the chat's metadata, which the owner wrote when the chat was made."""
        who = browser(Request(scope))
        meta = await self.cluster.metadata(session_id)
        return who is not None and meta is not None and meta.get("owner") == who

    async def _here(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the request here. While this worker shuts down, a post keeps its body,
        so that the endpoint may hand the chat over and the request go on to the worker
        it names (``HandedOver``)."""
        if not self.cluster.draining or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _body(receive, self.max_bytes)
        if body is None:
            await _answer(send, 413, TOO_LARGE)
            return
        scope[HAND_OVER] = True
        try:
            await self.app(scope, _replay(body, receive), send)
        except HandedOver as moved:
            await self._relay(send, moved.worker, _request(scope, body))

    async def _relay(self, send: Send, worker: str, request: dict[str, Any]) -> None:
        """Forward the request to ``worker`` and send its answer on as it is."""
        try:
            reply = await self.cluster.forward(worker, request, self.timeout)
        except OwnerGone:
            await _answer(send, 503, OWNER_GONE)
            return
        except ClusterUnavailable:
            await _answer(send, 503, NO_REDIS)
            return
        headers = [(k, v) for k, v in reply.headers if k.lower() not in _HOP_BY_HOP]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade"}


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is over ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, then what the client sends next
    (its disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _request(scope: Scope, body: bytes) -> dict[str, Any]:
    """The request as the owner's inbox takes it (JSON: text, and the body in base64)."""
    return {
        "method": scope["method"],
        "scheme": scope.get("scheme", "http"),
        "path": scope["path"],
        "root_path": scope.get("root_path", ""),
        "query": scope.get("query_string", b"").decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "client": list(scope["client"]) if scope.get("client") else None,
        "server": list(scope["server"]) if scope.get("server") else None,
        "body": base64.b64encode(body).decode(),
    }


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
