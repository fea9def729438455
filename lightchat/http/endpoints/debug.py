"""Debug mode's pages (``Settings.debug``, ``lightchat run -d``): who may see a chat's
debug details, its "Run details" as a page of its own, its log as JSON Lines, and a replay
of the log.

Who sees them: nobody with debug mode off (these pages are a 404, and the chat page shows
nothing of it). With sign-in on (the app's or its host's), only an admin, a user whose
metadata has ``"role": "admin"`` (``lightchat.domain.user.is_admin``); anyone else gets a
403 here, and the chat page and its stream show them nothing debug mode adds. Without
sign-in the app is open to whoever reaches it, each chat to its own browser: debug mode is
then for a developer's own machine (``lightchat run -d`` says so when it listens beyond
it). Every page here is of a chat of the one asking: anyone else's is the usual 404.

The replay shows the chat as it stood after event N of its log (``?at=N``, from 0: before
the first), read-only, with links to step through the events; "Play" steps on by itself,
one row a second (a ``<meta http-equiv="refresh">``, so it needs no JavaScript).
"""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from lightchat.chat.export import content_disposition
from lightchat.chat.session import ChatSession
from lightchat.domain.events import Entry, MessageData
from lightchat.domain.transcript import Transcript
from lightchat.domain.user import is_admin
from lightchat.http.locate import chat_or_404
from lightchat.http.web import base, chat_renderer, chat_url, services, signed_in
from lightchat.ui.debug_view import debug_view
from lightchat.ui.run_log import EventRow, fold, log_lines

DEBUG_OFF = "Debug mode is off. Serve the app with lightchat run -d to see a chat's run details."
ADMINS_ONLY = "Only an admin of this app can see a chat's run details."
NO_REPLAY_POINT = "?at= takes an event's number: a whole number from 0."

_PAGE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
_POINT = re.compile(r"[0-9]{1,18}")
PANEL_ROWS = 500
"""The most rows the chat page's "Run details" starts with (its page of its own lists
every row): a long chat's page stays light."""
REPLAY_STEP_S = 1
"""Seconds between two rows when the replay plays (whole seconds: a meta refresh)."""


def debug_allowed(request: Request) -> bool:
    """Whether the one asking may see debug details: debug mode is on, and the app has no
    sign-in or they are an admin."""
    found = services(request)
    if not found.settings.debug:
        return False
    if found.auth is None and not found.host_auth:
        return True
    return is_admin(signed_in(request))


def event_times(session: object) -> dict[int, float]:
    """When the chat's events were published (a chat followed from another worker: none)."""
    times = getattr(session, "event_times", None)
    return times if isinstance(times, dict) else {}


def run_rows(request: Request, session: ChatSession, entries: list[Entry]) -> list[EventRow] | None:
    """The rows of the chat page's "Run details", the last ``PANEL_ROWS`` (None: the page
    shows no panel)."""
    if not debug_allowed(request) or session.client_type == "copilot":
        return None  # the copilot's small panel: its steps and errors show the details
    return fold(entries, event_times(session))[-PANEL_ROWS:]


async def _debugged(request: Request) -> ChatSession:
    """The chat in the URL, for whom may see its debug details; else a 404 (debug mode
    off, or not their chat) or a 403 (not an admin)."""
    if not services(request).settings.debug:
        raise HTTPException(404, DEBUG_OFF)
    session = await chat_or_404(request)
    if not debug_allowed(request):
        raise HTTPException(403, ADMINS_ONLY)
    return session


async def debug_page(request: Request) -> Response:
    """The chat's "Run details" as a page: every event of its log, one row each."""
    session = await _debugged(request)
    entries = await services(request).bus.read(session.id)
    html = chat_renderer(request, session).page(
        "run_details.html",
        run_rows=fold(entries, event_times(session)),
        base=base(request),
        chat_url=chat_url(request, session.id),
    )
    return HTMLResponse(html, headers=_PAGE_HEADERS)


async def debug_log(request: Request) -> Response:
    """The chat's log as a JSON Lines file (see ``lightchat.ui.run_log.log_lines``)."""
    session = await _debugged(request)
    entries = await services(request).bus.read(session.id)
    lines = log_lines(entries, dict(event_times(session)))
    headers = {
        **_PAGE_HEADERS,
        "Content-Disposition": content_disposition(f"chat-{session.id}-log", "jsonl"),
    }
    return StreamingResponse(iter(lines), media_type="application/jsonl", headers=headers)


def _point(request: Request) -> int:
    raw = request.query_params.get("at", "0")
    if not _POINT.fullmatch(raw):
        raise HTTPException(400, NO_REPLAY_POINT)
    return int(raw)


async def debug_replay(request: Request) -> Response:
    """The chat as it stood after event ``?at=`` of its log, read-only, with the log's
    rows to step through; ``&play=1`` goes on to the next row after a second."""
    session = await _debugged(request)
    entries = await services(request).bus.read(session.id)
    rows = fold(entries, event_times(session))
    points = [0, *(row.last for row in rows)]
    at = min(_point(request), points[-1])
    index = max(i for i, point in enumerate(points) if point <= at)
    transcript = Transcript.from_entries(entry for entry in entries if entry.seq <= at)
    for item in transcript.items.values():
        if isinstance(item, MessageData):
            # A replay shows: its buttons and questions would act on the live chat.
            transcript.items[item.id] = replace(item, actions=[], ask=None)
    url = chat_url(request, session.id)
    replay_url = f"{url}/debug/replay"
    previous = points[index - 1] if index > 0 else None
    following = points[index + 1] if index + 1 < len(points) else None
    playing = request.query_params.get("play") == "1" and following is not None
    with debug_view(True):
        html = chat_renderer(request, session).page(
            "replay.html",
            transcript=transcript,
            run_rows=rows,
            at=at,
            last=points[-1],
            playing=playing,
            first_url=f"{replay_url}?at=0" if index > 0 else None,
            previous_url=f"{replay_url}?at={previous}" if previous is not None else None,
            next_url=f"{replay_url}?at={following}" if following is not None else None,
            last_url=f"{replay_url}?at={points[-1]}" if following is not None else None,
            play_url=f"{replay_url}?at={following if following is not None else 0}&play=1",
            pause_url=f"{replay_url}?at={at}",
            refresh_url=f"{replay_url}?at={following}&play=1" if playing else None,
            refresh_s=REPLAY_STEP_S,
            base=base(request),
            chat_url=url,
            read_only=True,
            feedback_on=False,
            favorites_on=False,
        )
    return HTMLResponse(html, headers=_PAGE_HEADERS)
