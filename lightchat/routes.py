"""HTTP endpoints, and the one declarative list of routes.

Every chat URL checks that the chat belongs to the browser asking; a chat that does not
exist and a chat of someone else get the same 404, so ids cannot be probed.

HTMX requests (``HX-Request``) get fragments or 204; plain form posts (no JavaScript) get a
303 to the chat page once the answer is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from lightchat.bus import Bus
from lightchat.config import Settings
from lightchat.history import History, recency_groups, thread_dict
from lightchat.identity import COOKIE, BrowserIdentity
from lightchat.render import Renderer, StreamView
from lightchat.session import Chats, ChatSession
from lightchat.sse import CLOSING, PING_SECONDS, encode, event_stream
from lightchat.transcript import Transcript

STATIC_DIR = Path(__file__).parent / "static"


@dataclass(slots=True)
class Services:
    """What the endpoints work with; the app puts one on ``app.state.services``."""

    settings: Settings
    chats: Chats
    bus: Bus
    renderer: Renderer
    identity: BrowserIdentity
    history: History | None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _browser(request: Request) -> str | None:
    return _services(request).identity.load(request.cookies.get(COOKIE))


async def _chat_or_404(request: Request) -> ChatSession:
    """The chat in the URL, reopened from history if it is not running; 404 if not ours."""
    services = _services(request)
    browser = _browser(request)
    session_id = request.path_params["chat_id"]
    if browser is None:
        raise HTTPException(404, "This chat does not exist, or it has ended.")
    session = services.chats.get(session_id, browser)
    if session is None and services.history is not None:
        stored = await services.history.load(session_id, browser)
        if stored is not None:
            items = services.history.items(stored)
            session = services.chats.resume(session_id, browser, items, thread_dict(stored))
    if session is None:
        raise HTTPException(404, "This chat does not exist, or it has ended.")
    return session


def _problem(request: Request, status: int, detail: str) -> Response:
    """A 4xx answer: a notice in the composer for HTMX, a page for a plain form."""
    if _is_htmx(request):
        body = (
            '<hx-partial hx-target="#lc-notice" hx-swap="innerHTML">'
            f'<p role="alert">{_escape(detail)}</p></hx-partial>'
        )
        return HTMLResponse(body, status_code=status, headers={"Vary": "HX-Request"})
    renderer = _services(request).renderer
    html = renderer.page(
        "error.html", title="Something is wrong", detail=detail, base=_base(request)
    )
    return HTMLResponse(html, status_code=status, headers={"Vary": "HX-Request"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _after_post(request: Request, session: ChatSession) -> Response:
    if _is_htmx(request):
        return Response(status_code=204, headers={"Vary": "HX-Request"})
    url = f"{_base(request)}/chat/{session.id}"
    return RedirectResponse(url, status_code=303, headers={"Vary": "HX-Request"})


async def new_chat(request: Request) -> Response:
    """Start a chat and send the browser to it."""
    services = _services(request)
    browser = _browser(request)
    cookie = None
    if browser is None:
        browser, cookie = services.identity.new()
    session = services.chats.create(browser)
    response = RedirectResponse(f"{_base(request)}/chat/{session.id}", status_code=303)
    if cookie is not None:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=60 * 60 * 24 * 365,
            path=_base(request) or "/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


async def chat_page(request: Request) -> Response:
    """The chat as it stands; its stream continues from exactly this point."""
    session = await _chat_or_404(request)
    services = _services(request)
    session.touch()
    base = _base(request)
    transcript = Transcript.from_entries(await services.bus.read(session.id))
    threads = await services.history.threads(session.owner) if services.history else []
    html = services.renderer.page(
        "chat.html",
        transcript=transcript,
        base=base,
        chat_id=session.id,
        chat_url=f"{base}/chat/{session.id}",
        history=services.history is not None,
        thread_groups=recency_groups(threads),
        read_only=session.read_only,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _resume_point(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    if not raw.isdigit():
        raise HTTPException(400, "Last-Event-ID and ?after= take a whole number.")
    return int(raw)


async def chat_events(request: Request) -> Response:
    """The chat's events after a point, as server-sent events, for as long as the page is open."""
    session = await _chat_or_404(request)
    services = _services(request)
    after = _resume_point(request)
    bus = services.bus
    base = _base(request)
    view = StreamView(
        services.renderer,
        Transcript.from_entries(await bus.read(session.id, 0, after)),
        base=base,
        chat_url=f"{base}/chat/{session.id}",
        interval=services.settings.render_interval_ms / 1000,
    )

    async def events() -> AsyncIterator[bytes]:
        session.connections += 1
        seq = after
        try:
            while not bus.closed and not session.closed:
                deadline = view.next_deadline()
                timeout = PING_SECONDS if deadline is None else deadline - time.monotonic()
                entries = await bus.wait(session.id, seq, max(timeout, 0.0))
                now = time.monotonic()
                chunks = view.feed(entries, now) if entries else view.due(now)
                if entries:
                    seq = entries[-1].seq
                if chunks:
                    yield encode(chunks)
            if session.closed:
                yield CLOSING
        finally:
            session.connections -= 1
            session.touch()

    return event_stream(events())


async def _form(request: Request) -> FormData:
    try:
        return await request.form()
    # Malformed bodies: Starlette answers multipart errors with an HTTPException, and
    # python-multipart's own errors are ValueErrors. Anything else (a body over the size
    # limit, a disconnect) must reach the middleware that answers it, so it is not caught.
    except (HTTPException, ValueError) as exc:
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        raise HTTPException(400, f"The form could not be read: {detail}") from None


async def post_message(request: Request) -> Response:
    """Take a user message: shown at once, answered by ``on_message`` in turn."""
    session = await _chat_or_404(request)
    settings = _services(request).settings
    if session.read_only:
        return _problem(
            request,
            409,
            "This past chat is read-only: the app does not reopen old conversations. "
            "Start a new chat to go on.",
        )
    form = await _form(request)
    content = form.get("content")
    await form.close()  # uploaded parts are spooled to temporary files; nothing here uses them
    if not isinstance(content, str) or not content.strip():
        return _problem(request, 400, "Type a message before sending.")
    if len(content) > settings.max_message_chars:
        return _problem(
            request,
            413,
            f"The message is {len(content):,} characters long; the limit is "
            f"{settings.max_message_chars:,}. Shorten it and send again.",
        )
    done = session.send_user_message(content)
    if not _is_htmx(request):
        # No JavaScript: nothing can stream, so answer with the finished chat.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), settings.form_wait_s)
    return _after_post(request, session)


async def stop(request: Request) -> Response:
    """Stop the running callback; what it already showed stays."""
    session = await _chat_or_404(request)
    await session.stop()
    return _after_post(request, session)


async def health(request: Request) -> Response:
    """Liveness: the process answers."""
    return PlainTextResponse("ok")


async def not_found(request: Request, exc: Exception) -> Response:
    """The 404 (and other HTTP errors) as a page, or as a notice for HTMX."""
    assert isinstance(exc, HTTPException)
    if request.url.path.endswith("/events"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    return _problem(request, exc.status_code, exc.detail)


def routes() -> list[BaseRoute]:
    """Every URL lightchat answers."""
    return [
        Route("/", new_chat, methods=["GET"], name="new_chat"),
        Route("/chat/{chat_id:str}", chat_page, methods=["GET"], name="chat"),
        Route("/chat/{chat_id:str}/events", chat_events, methods=["GET"], name="events"),
        Route("/chat/{chat_id:str}/messages", post_message, methods=["POST"], name="messages"),
        Route("/chat/{chat_id:str}/stop", stop, methods=["POST"], name="stop"),
        Route("/-/health", health, methods=["GET"], name="health"),
        Mount("/-/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
