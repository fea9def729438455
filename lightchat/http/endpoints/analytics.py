"""The operators' analytics page: how the app is used, for its admins only.

Who may see it (``analytics_allowed``): with sign-in, the app's admins, users whose
metadata has ``"role": "admin"`` or whose identifier is in ``[project] admins``
(``Settings.admins``); without sign-in, nobody, unless ``Settings.analytics_local`` opens it
to requests from the machine itself (a loopback client on a loopback address, with no
proxy's forwarding headers). Everyone else gets the same 404 as for a URL that is not
there, for every URL here. It also needs history in lightchat's own store (SQLite or
PostgreSQL), where the figures are computed (``lightchat.store.analytics``).

- ``GET /analytics``: the page for a period (``?period=24h``, ``7d`` (the default),
  ``30d``, or ``custom`` with ``from`` and ``to``, UTC dates, both included) and filters
  (``profile``, ``tag``, ``client``): each figure as an SVG chart drawn here
  (``lightchat.ui.charts``) with its numbers in a table, and a "Download CSV" link;
- ``GET /analytics/<table>.csv``: one table as CSV, for the same period and filters;
- ``GET /analytics/threads/<id>``: a thread of the review queue (or any thread with
  feedback or an error), read-only, with its elements' files (``/elements/<id>``) and
  side elements (``/elements/<id>/view``). This is the only place an admin sees other users'
  threads, and each view is logged (``lightchat`` logger, with the admin and the thread).

All are GET pages (nothing changes), with ``Cache-Control: no-store``; they work without
JavaScript.
"""

from __future__ import annotations

import csv
import importlib
import io
import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from lightchat.api.starters import ChatProfile, Starter, checked
from lightchat.config.registry import invoke
from lightchat.config.settings import comma_list
from lightchat.domain.events import ElementData, MessageData, MessageEvent, StepEvent
from lightchat.domain.transcript import Transcript
from lightchat.domain.user import User, is_admin
from lightchat.http.endpoints.elements import element_response
from lightchat.http.web import Services, base, services, signed_in
from lightchat.ui.charts import bar_chart, line_chart

logger = logging.getLogger("lightchat")

NOT_HERE = "Not Found"
"""The one 404 of every analytics URL for whom may not see it."""

PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
"""The periods the page offers besides ``custom``, by their ``period`` value."""

PERIOD_NAMES = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}

MAX_DAYS = 366
"""The longest custom period, in days."""

_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def is_local(request: Request) -> bool:
    """True for a request from the machine itself, straight to a loopback address."""
    server = request.scope.get("server")
    client = request.client
    return (
        client is not None
        and _loopback(client.host)
        and isinstance(server, tuple | list)
        and bool(server)
        and _loopback(str(server[0]))
        and not any(name in request.headers for name in _FORWARDED)
    )


def shows_analytics(found: Services, user: User | None) -> bool:
    """Whether ``user`` (signed in) is an admin who sees the analytics page."""
    return is_admin(user, comma_list(found.settings.admins))


def analytics_allowed(request: Request) -> bool:
    """Whether the one asking may see the analytics (see the module docstring)."""
    found = services(request)
    if found.auth is not None or found.host_auth:
        return shows_analytics(found, signed_in(request))
    return found.settings.analytics_local and is_local(request)


def _module() -> ModuleType:
    # The store (SQLAlchemy) is imported only when a page asks: the app starts without it.
    return importlib.import_module("lightchat.store.analytics")


async def _engine(request: Request) -> Any:
    """The history's database engine, for whom may see the analytics; else the 404."""
    if not analytics_allowed(request):
        raise HTTPException(404, NOT_HERE)
    history = services(request).history
    if history is not None:
        await history.wait_ready()  # opened in the background after the start
    engine = getattr(history.store if history is not None else None, "engine", None)
    if engine is None:
        raise HTTPException(
            404,
            "Analytics needs the chat history in lightchat's own store (SQLite or "
            "PostgreSQL); this app keeps none there.",
        )
    return engine


@dataclass(frozen=True, slots=True)
class Choice:
    """What the page shows: the period and the filters, as asked."""

    period: str
    start: datetime
    end: datetime
    first: str
    last: str
    profile: str
    tag: str
    client: str

    def query(self, **changes: str) -> str:
        """The query string of this choice, with ``changes``."""
        values = {
            "period": self.period,
            "from": self.first if self.period == "custom" else "",
            "to": self.last if self.period == "custom" else "",
            "profile": self.profile,
            "tag": self.tag,
            "client": self.client,
        }
        values.update(changes)
        return urlencode({key: value for key, value in values.items() if value})


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"{name} must be a date like 2027-01-31, not {text[:40]!r}."
        raise HTTPException(400, message) from None


def _text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "").strip()
    if len(value) > 200:
        raise HTTPException(400, f"{name} is too long (200 characters at most).")
    return value


def choice(request: Request, now: datetime | None = None) -> Choice:
    """The period and filters of the request; a 400 saying what is wrong otherwise."""
    now = now or datetime.now(UTC)
    period = request.query_params.get("period", "7d") or "7d"
    if period in PERIODS:
        start, end = now - PERIODS[period], now
    elif period == "custom":
        first = _day(_text(request, "from") or now.date().isoformat(), "from")
        last = _day(_text(request, "to") or now.date().isoformat(), "to")
        if last < first:
            raise HTTPException(400, "The period ends before it starts: swap from and to.")
        if (last - first).days >= MAX_DAYS:
            raise HTTPException(400, f"The period is longer than {MAX_DAYS} days.")
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    else:
        raise HTTPException(400, "period must be 24h, 7d, 30d or custom.")
    return Choice(
        period,
        start,
        end,
        start.date().isoformat(),
        (end - timedelta(microseconds=1)).date().isoformat(),
        _text(request, "profile"),
        _text(request, "tag"),
        _text(request, "client"),
    )


async def _starter_texts(request: Request) -> list[str]:
    """The messages of the app's starters (its own and its chat profiles'), whose use the
    page counts; a failing hook counts none."""
    registry = services(request).chats.registry
    user = signed_in(request)
    found: list[str] = []
    for hook, kind in (("set_starters", Starter), ("set_chat_profiles", ChatProfile)):
        func = registry.callbacks.get(hook)
        if func is None:
            continue
        try:
            offered = checked(await invoke(func, user, None), kind, f"@{hook}")
        except Exception:
            logger.exception("Error in @%s (the analytics page counts no starters)", hook)
            continue
        for item in offered:
            if isinstance(item, Starter):
                found.append(item.message)
            elif isinstance(item, ChatProfile):
                found.extend(starter.message for starter in item.starters or [])
    return found


async def _report(request: Request) -> tuple[Choice, Any]:
    engine = await _engine(request)
    chosen = choice(request)
    module = _module()
    filters = module.Filters(chosen.profile or None, chosen.tag or None, chosen.client or None)
    found = await module.report(
        engine,
        module.Period(chosen.start, chosen.end),
        filters,
        starters=await _starter_texts(request),
    )
    return chosen, found


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class Table:
    """A figure's numbers: its name (a ``caption``), columns and rows, as text."""

    name: str
    caption: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: Sequence[bool]
    links: Sequence[str | None] = ()
    """Per row, the thread the row links to (its last column's text is the link)."""


def tables(found: Any, thread_url: Callable[[str], str]) -> dict[str, Table]:
    """Every table of the page, by its CSV name."""
    days = found.days
    timing = found.timing
    return {
        "activity": Table(
            "activity",
            "Chats, messages and active users per day",
            ("Day", "Chats", "Messages", "Active users"),
            [(d.day, str(d.chats), str(d.messages), str(d.users)) for d in days],
            (False, True, True, True),
        ),
        "feedback": Table(
            "feedback",
            "Feedback per day",
            ("Day", "Helpful", "Not helpful", "Helpful ratio"),
            [(d.day, str(d.helpful), str(d.not_helpful), _ratio(d.ratio)) for d in days],
            (False, True, True, True),
        ),
        "timing": Table(
            "timing",
            "Time to first token and run duration per day (seconds)",
            (
                "Day",
                "Questions timed",
                "First token p50",
                "First token p95",
                "Runs timed",
                "Run p50",
                "Run p95",
            ),
            [
                (
                    t.day,
                    str(t.ttft_count),
                    _seconds(t.ttft_p50),
                    _seconds(t.ttft_p95),
                    str(t.run_count),
                    _seconds(t.run_p50),
                    _seconds(t.run_p95),
                )
                for t in timing
            ],
            (False, True, True, True, True, True, True),
        ),
        "errors": Table(
            "errors",
            "Errors per day",
            ("Day", "Failed steps", "Error messages"),
            [(d.day, str(d.failed_steps), str(d.error_messages)) for d in days],
            (False, True, True),
        ),
        "comments": Table(
            "comments",
            "Latest comments",
            ("When", "Verdict", "Comment", "Thread"),
            [
                (
                    _when(c.at),
                    "Helpful" if c.value else "Not helpful",
                    c.comment,
                    c.thread_name or "Untitled chat",
                )
                for c in found.comments
            ],
            (False, False, False, False),
            [thread_url(c.thread_id) for c in found.comments],
        ),
        "problems": Table(
            "problems",
            "Latest errors",
            ("When", "Kind", "Name", "Text", "Thread"),
            [
                (_when(p.at), p.kind, p.name, p.text, p.thread_name or "Untitled chat")
                for p in found.problems
            ],
            (False, False, False, False, False),
            [thread_url(p.thread_id) for p in found.problems],
        ),
        "usage": Table(
            "usage",
            "Token usage per model",
            ("Model", "Calls", "Input tokens", "Output tokens", "Total tokens"),
            [
                (
                    u.model,
                    str(u.calls),
                    str(u.input_tokens),
                    str(u.output_tokens),
                    str(u.total_tokens),
                )
                for u in found.usage
            ],
            (False, True, True, True, True),
        ),
        "tags": Table(
            "tags",
            "Most used tags",
            ("Tag", "Chats"),
            [(tag, str(n)) for tag, n in found.tags],
            (False, True),
        ),
        "starters": Table(
            "starters",
            "Most used starters",
            ("Starter", "Uses"),
            [(text, str(n)) for text, n in found.starters],
            (False, True),
        ),
        "queue": Table(
            "queue",
            "Review queue",
            ("Last problem", "Not helpful", "Errors", "Thread"),
            [
                (_when(q.last), str(q.not_helpful), str(q.errors), q.thread_name or "Untitled chat")
                for q in found.queue
            ],
            (False, True, True, False),
            [thread_url(q.thread_id) for q in found.queue],
        ),
    }


def charts(found: Any) -> dict[str, Any]:
    """The SVG chart of each table that has one."""
    labels = [d.day for d in found.days]
    return {
        "activity": line_chart(
            "Chats, messages and active users per day",
            labels,
            [
                ("Chats", [d.chats for d in found.days]),
                ("Messages", [d.messages for d in found.days]),
                ("Active users", [d.users for d in found.days]),
            ],
        ),
        "feedback": line_chart(
            "Feedback per day",
            labels,
            [
                ("Helpful", [d.helpful for d in found.days]),
                ("Not helpful", [d.not_helpful for d in found.days]),
            ],
        ),
        "timing": line_chart(
            "Time to first token and run duration per day (seconds)",
            labels,
            [
                ("First token p50", [t.ttft_p50 for t in found.timing]),
                ("First token p95", [t.ttft_p95 for t in found.timing]),
                ("Run p50", [t.run_p50 for t in found.timing]),
                ("Run p95", [t.run_p95 for t in found.timing]),
            ],
        ),
        "errors": line_chart(
            "Errors per day",
            labels,
            [
                ("Failed steps", [d.failed_steps for d in found.days]),
                ("Error messages", [d.error_messages for d in found.days]),
            ],
        ),
        "usage": bar_chart(
            "Total tokens per model", [(u.model, u.total_tokens) for u in found.usage]
        ),
        "tags": bar_chart("Most used tags", list(found.tags)),
        "starters": bar_chart("Most used starters", list(found.starters)),
    }


def thread_path(request: Request, thread_id: str) -> str:
    return f"{base(request)}/analytics/threads/{quote(thread_id, safe='')}"


async def analytics_page(request: Request) -> Response:
    """The analytics page for the period and filters asked."""
    chosen, found = await _report(request)
    here = f"{base(request)}/analytics"
    html = services(request).renderer.page(
        "analytics.html",
        base=base(request),
        here=here,
        chosen=chosen,
        report=found,
        tables=tables(found, lambda thread_id: thread_path(request, thread_id)),
        charts=charts(found),
        periods=PERIOD_NAMES,
        user=signed_in(request),
    )
    return HTMLResponse(html, headers=_HEADERS)


def _csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        # A cell a spreadsheet would take for a formula is kept as text.
        writer.writerow(
            [("'" + cell) if cell[:1] in ("=", "+", "-", "@") else cell for cell in row]
        )
    return out.getvalue()


async def analytics_csv(request: Request) -> Response:
    """One table of the page as CSV (``/analytics/<name>.csv``)."""
    name = request.path_params["name"]
    await _engine(request)  # the 404 first, whatever the name
    chosen, found = await _report(request)
    table = tables(found, lambda thread_id: thread_path(request, thread_id)).get(name)
    if table is None:
        raise HTTPException(404, NOT_HERE)
    filename = f"{name}-{chosen.first}-{chosen.last}.csv"
    return Response(
        _csv(table),
        media_type="text/csv; charset=utf-8",
        headers={**_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _transcript(items: Iterable[Any]) -> Transcript:
    transcript = Transcript()
    for item in items:
        transcript.apply_event(
            MessageEvent(item) if isinstance(item, MessageData) else StepEvent(item)
        )
    return transcript


async def _reviewed(request: Request) -> Any:
    """The thread in the URL (one with feedback or errors), for whom may see the
    analytics; else the 404."""
    engine = await _engine(request)
    thread_id = request.path_params["thread_id"]
    history = services(request).history
    assert history is not None  # _engine checked it
    if not await _module().flagged(engine, thread_id):
        raise HTTPException(404, "No thread with feedback or errors has this id.")
    stored = await history.load_shared(thread_id)
    if stored is None:
        raise HTTPException(404, "No thread with feedback or errors has this id.")
    return stored


def _element(request: Request, stored: Any) -> ElementData:
    history = services(request).history
    assert history is not None
    wanted = request.path_params["element_id"]
    for item in history.items(stored, reopen=False):
        for element in item.elements:
            if element.id == wanted:
                return element
    raise HTTPException(404, "This element does not exist, or it is not part of this chat.")


async def review_element_file(request: Request) -> Response:
    """The bytes of an element of a reviewed thread (an image, a file), for the admin."""
    stored = await _reviewed(request)
    return await element_response(request, _element(request, stored))


async def review_element_view(request: Request) -> Response:
    """A side or page element of a reviewed thread, on a page of its own."""
    stored = await _reviewed(request)
    element = _element(request, stored)
    url = thread_path(request, stored.thread.id)
    html = services(request).renderer.page(
        "element.html", element=element, holder=None, base=base(request), chat_url=url
    )
    return HTMLResponse(html, headers=_HEADERS)


async def review_thread(request: Request) -> Response:
    """A thread with feedback or errors, read-only, for the admin; each view is logged."""
    stored = await _reviewed(request)
    thread_id = stored.thread.id
    found = services(request)
    history = found.history
    assert history is not None
    viewer = signed_in(request)
    logger.warning(
        "Analytics: %s opened thread %s (owner %s) read-only",
        viewer.identifier if viewer is not None else "a local operator",
        thread_id,
        stored.thread.owner,
    )
    items = history.items(stored, reopen=False)
    for item in items:  # read-only: nothing to click
        if isinstance(item, MessageData):
            item.actions = []
            item.ask = None
    feedback = {
        for_id: {"value": record.value, "comment": record.comment}
        for for_id, record in stored.feedback.items()
    }
    html = found.renderer.page(
        "analytics_thread.html",
        base=base(request),
        here=f"{base(request)}/analytics",
        thread=stored.thread,
        thread_name=stored.thread.name or "Untitled chat",
        transcript=_transcript(items),
        feedback_given=feedback,
        chat_url=thread_path(request, thread_id),
        read_only=True,
        feedback_on=False,
        user=viewer,
    )
    return HTMLResponse(html, headers=_HEADERS)
