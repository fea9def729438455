"""The figures of the operators' analytics page, computed in SQL on SQLite and PostgreSQL.

Every figure is one aggregate query over a period (``Period``: a start and an exclusive
end, aware UTC), by day (UTC dates, ``YYYY-MM-DD``), optionally narrowed to the threads of
one chat profile (the thread's metadata ``chat_profile``), one tag and one client type
(``ThreadRecord.client_type``). The queries are written once, with the few pieces that
differ between the two databases (a date, seconds between two times, JSON) taken from
``_Dialect``; the indexes they use come with migration 0007.

What the figures are:

- chats per day: threads created that day; messages per day: user and assistant
  messages; active users: distinct owners (signed-in users, or browsers) who asked
  something that day;
- feedback per day: helpful (1), not helpful (0) and the share of helpful ones, by the
  day the feedback was given; the newest comments, with their thread;
- time to first token and run duration, p50 and p95 (nearest rank) per day, from the
  questions' rows: ``started_at - created_at`` and ``ended_at - created_at`` (the history
  times them; older questions have no times and are not counted);
- errors per day: failed steps and error messages; the newest of them, with their thread;
- token usage per model, from the steps' generations: calls, input, output and total
  tokens (what a price list multiplies);
- the most used tags (threads created in the period carrying each) and starters (user
  messages in the period whose text is a starter's message);
- the review queue: threads with negative feedback or errors in the period, the newest
  problem first.

This module never checks who asks: the page (``lightchat.http.endpoints.analytics``)
lets admins only in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lightchat.store.records import UTCDateTime

__all__ = [
    "Activity",
    "Comment",
    "Filters",
    "Period",
    "Problem",
    "Report",
    "Timing",
    "Usage",
    "day_list",
    "flagged",
    "report",
]

LATEST = 10
"""How many comments and errors the page lists."""

QUEUE = 50
"""How many threads the review queue lists."""

TOP = 10
"""How many tags and starters the page ranks."""

#: The message types counted as messages per day.
COUNTED_MESSAGES = ("user_message", "assistant_message")


@dataclass(frozen=True, slots=True)
class Period:
    """From ``start`` (included) to ``end`` (excluded), aware datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows the figures to some threads (None: any)."""

    profile: str | None = None
    tag: str | None = None
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    day: str
    chats: int = 0
    messages: int = 0
    users: int = 0
    helpful: int = 0
    not_helpful: int = 0
    failed_steps: int = 0
    error_messages: int = 0

    @property
    def ratio(self) -> float | None:
        """The share of helpful feedback that day (None without feedback)."""
        given = self.helpful + self.not_helpful
        return self.helpful / given if given else None


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds, nearest-rank percentiles of one day's questions (None: none timed)."""

    day: str
    ttft_count: int = 0
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    run_count: int = 0
    run_p50: float | None = None
    run_p95: float | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    at: datetime
    value: int
    comment: str
    thread_id: str
    thread_name: str | None


@dataclass(frozen=True, slots=True)
class Problem:
    """An error (a failed step or an error message) of a thread."""

    at: datetime
    kind: str
    name: str
    text: str
    thread_id: str
    thread_name: str | None


@dataclass(frozen=True, slots=True)
class Usage:
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class Queued:
    """A thread of the review queue."""

    thread_id: str
    thread_name: str | None
    last: datetime
    not_helpful: int
    errors: int


@dataclass(slots=True)
class Report:
    """Every figure of the page for one period and its filters."""

    period: Period
    filters: Filters
    days: list[Activity] = field(default_factory=list)
    timing: list[Timing] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)
    tags: list[tuple[str, int]] = field(default_factory=list)
    starters: list[tuple[str, int]] = field(default_factory=list)
    queue: list[Queued] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    """The chat profiles and client types the threads name, for the filters' choices."""
    clients: list[str] = field(default_factory=list)


def day_list(period: Period) -> list[str]:
    """The UTC days the period touches, in order.

    >>> day_list(Period(datetime(2027, 1, 30, 12, tzinfo=UTC), datetime(2027, 2, 1, 1, tzinfo=UTC)))
    ['2027-01-30', '2027-01-31', '2027-02-01']
    """
    first = period.start.astimezone(UTC).date()
    last = (period.end.astimezone(UTC) - timedelta(microseconds=1)).date()
    days: list[str] = []
    current: date = first
    while current <= last:
        days.append(current.isoformat())
        current += timedelta(days=1)
    return days


class _Dialect:
    """The SQL pieces that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def day(self, column: str) -> str:
        if self.pg:
            return f"CAST({column} AT TIME ZONE 'UTC' AS date)"
        return f"substr({column}, 1, 10)"  # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff', UTC

    def seconds(self, later: str, earlier: str) -> str:
        if self.pg:
            return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
        # Within about 50 microseconds (julianday's doubles); the figures are rounded to ms.
        return f"((julianday({later}) - julianday({earlier})) * 86400.0)"

    def json_text(self, column: str, key: str) -> str:
        if self.pg:
            return f"({column} ->> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    def json_number(self, column: str, key: str) -> str:
        if self.pg:
            return (
                f"CASE WHEN jsonb_typeof({column} -> '{key}') = 'number' "
                f"THEN ({column} ->> '{key}')::numeric END"
            )
        return (
            f"CASE WHEN json_type({column}, '$.{key}') IN ('integer', 'real') "
            f"THEN json_extract({column}, '$.{key}') END"
        )

    def has_tag(self, column: str) -> str:
        if self.pg:
            return f"(jsonb_typeof({column}) = 'array' AND jsonb_exists({column}, :tag))"
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = :tag)"

    def tags_of(self, alias: str) -> str:
        """A FROM piece that gives each of the thread's tags as ``tag.value``."""
        if self.pg:
            return (
                f"CROSS JOIN LATERAL jsonb_array_elements_text("
                f"CASE WHEN jsonb_typeof({alias}.tags) = 'array' THEN {alias}.tags "
                f"ELSE '[]'::jsonb END) AS tag(value)"
            )
        return f"JOIN json_each({alias}.tags) AS tag"


class _Query:
    """The pieces shared by the queries of one report: the period's and the filters'
    conditions and parameters."""

    def __init__(self, dialect: _Dialect, period: Period, filters: Filters) -> None:
        self.d = dialect
        self.filters = filters
        self.params: dict[str, Any] = {"start": period.start, "end": period.end}
        conditions: list[str] = []
        if filters.profile:
            conditions.append(f"{dialect.json_text('t.metadata', 'chat_profile')} = :profile")
            self.params["profile"] = filters.profile
        if filters.tag:
            conditions.append(dialect.has_tag("t.tags"))
            self.params["tag"] = filters.tag
        if filters.client:
            conditions.append("t.client_type = :client")
            self.params["client"] = filters.client
        self.thread_conditions = "".join(f" AND {c}" for c in conditions)

    @property
    def filtered(self) -> bool:
        return bool(self.thread_conditions)

    def join(self, alias: str) -> str:
        """Join the threads of ``alias``'s rows when a filter needs them."""
        if not self.filtered:
            return ""
        return f" JOIN lightchat_threads t ON t.id = {alias}.thread_id"

    def in_period(self, column: str) -> str:
        return f"{column} >= :start AND {column} < :end"

    async def rows(
        self, connection: AsyncConnection, sql: str, **more: Any
    ) -> Sequence[Mapping[Any, Any]]:
        params = {**self.params, **more}
        used = {name: value for name, value in params.items() if f":{name}" in sql}
        statement = text(sql).bindparams(
            *(
                bindparam(name, type_=UTCDateTime())
                for name, value in used.items()
                if isinstance(value, datetime)
            )
        )
        result = await connection.execute(statement, used)
        return list(result.mappings())


async def _per_day(query: _Query, connection: AsyncConnection) -> dict[str, dict[str, int]]:
    d = query.d
    found: dict[str, dict[str, int]] = {}

    def put(rows: Sequence[Mapping[Any, Any]], *names: str) -> None:
        for row in rows:
            counts = found.setdefault(str(row["day"]), {})
            for name in names:
                counts[name] = int(row[name] or 0)

    threads_where = query.in_period("t.created_at") + query.thread_conditions
    put(
        await query.rows(
            connection,
            f"SELECT {d.day('t.created_at')} AS day, COUNT(*) AS chats "
            f"FROM lightchat_threads t WHERE {threads_where} GROUP BY 1",
        ),
        "chats",
    )
    put(
        await query.rows(
            connection,
            f"SELECT {d.day('s.created_at')} AS day, COUNT(*) AS messages "
            f"FROM lightchat_steps s{query.join('s')} "
            "WHERE s.type IN ('user_message', 'assistant_message') "
            f"AND {query.in_period('s.created_at')}{query.thread_conditions} GROUP BY 1",
        ),
        "messages",
    )
    # Active users: the owners of the threads asked something each day (the distinct
    # threads first: a chat holds many questions, often on one day).
    put(
        await query.rows(
            connection,
            "SELECT asked.day, COUNT(DISTINCT o.owner) AS users FROM ("
            f"SELECT DISTINCT {d.day('s.created_at')} AS day, s.thread_id "
            f"FROM lightchat_steps s{query.join('s')} WHERE s.type = 'user_message' "
            f"AND {query.in_period('s.created_at')}{query.thread_conditions}"
            ") asked JOIN lightchat_threads o ON o.id = asked.thread_id GROUP BY asked.day",
        ),
        "users",
    )
    put(
        await query.rows(
            connection,
            f"SELECT {d.day('f.created_at')} AS day, "
            "SUM(CASE WHEN f.value = 1 THEN 1 ELSE 0 END) AS helpful, "
            "SUM(CASE WHEN f.value = 0 THEN 1 ELSE 0 END) AS not_helpful "
            f"FROM lightchat_feedback f{query.join('f')} "
            f"WHERE {query.in_period('f.created_at')}{query.thread_conditions} GROUP BY 1",
        ),
        "helpful",
        "not_helpful",
    )
    put(
        await query.rows(
            connection,
            f"SELECT {d.day('s.created_at')} AS day, "
            "SUM(CASE WHEN s.type = 'error' THEN 0 ELSE 1 END) AS failed_steps, "
            "SUM(CASE WHEN s.type = 'error' THEN 1 ELSE 0 END) AS error_messages "
            f"FROM lightchat_steps s{query.join('s')} "
            f"WHERE s.is_error AND {query.in_period('s.created_at')}{query.thread_conditions} "
            "GROUP BY 1",
        ),
        "failed_steps",
        "error_messages",
    )
    return found


async def _percentiles(
    query: _Query, connection: AsyncConnection
) -> dict[str, tuple[int, float | None, float | None, int, float | None, float | None]]:
    """Per day, how many questions were timed, and the p50 and p95 of the seconds from
    their ``created_at`` to their first token (``started_at``) and to their run's end
    (``ended_at``): nearest rank, the smallest value whose rank reaches p * n. Both in one
    pass: PostgreSQL's ``percentile_disc``, window functions on SQLite (where a NULL
    sorts after every value and is not counted)."""
    d = query.d
    if d.pg:  # its ordered-set aggregates: percentile_disc is the nearest rank
        summary = (
            "SELECT day, COUNT(ttft) AS ttft_count, COUNT(run) AS run_count, "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY ttft) AS ttft_50, "
            "percentile_disc(0.95) WITHIN GROUP (ORDER BY ttft) AS ttft_95, "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY run) AS run_50, "
            "percentile_disc(0.95) WITHIN GROUP (ORDER BY run) AS run_95 "
            "FROM timed GROUP BY day"
        )
    else:
        summary = (
            "SELECT day, ttft, run, "
            "ROW_NUMBER() OVER (PARTITION BY day ORDER BY ttft IS NULL, ttft) AS n_ttft, "
            "COUNT(ttft) OVER (PARTITION BY day) AS all_ttft, "
            "ROW_NUMBER() OVER (PARTITION BY day ORDER BY run IS NULL, run) AS n_run, "
            "COUNT(run) OVER (PARTITION BY day) AS all_run FROM timed"
        )
        summary = (
            f"SELECT day, MAX(all_ttft) AS ttft_count, MAX(all_run) AS run_count, "
            "MIN(CASE WHEN ttft IS NOT NULL AND n_ttft >= 0.5 * all_ttft THEN ttft END) "
            "AS ttft_50, "
            "MIN(CASE WHEN ttft IS NOT NULL AND n_ttft >= 0.95 * all_ttft THEN ttft END) "
            "AS ttft_95, "
            "MIN(CASE WHEN run IS NOT NULL AND n_run >= 0.5 * all_run THEN run END) AS run_50, "
            "MIN(CASE WHEN run IS NOT NULL AND n_run >= 0.95 * all_run THEN run END) AS run_95 "
            f"FROM ({summary}) ranked GROUP BY day"
        )
    rows = await query.rows(
        connection,
        "WITH timed AS ("
        f"SELECT {d.day('s.created_at')} AS day, "
        f"{d.seconds('s.started_at', 's.created_at')} AS ttft, "
        f"{d.seconds('s.ended_at', 's.created_at')} AS run "
        f"FROM lightchat_steps s{query.join('s')} "
        "WHERE s.type = 'user_message' AND (s.started_at IS NOT NULL OR s.ended_at IS NOT NULL) "
        f"AND {query.in_period('s.created_at')}{query.thread_conditions}) {summary}",
    )

    def number(value: Any) -> float | None:
        return None if value is None else round(max(0.0, float(value)), 3)

    return {
        str(row["day"]): (
            int(row["ttft_count"] or 0),
            number(row["ttft_50"]),
            number(row["ttft_95"]),
            int(row["run_count"] or 0),
            number(row["run_50"]),
            number(row["run_95"]),
        )
        for row in rows
    }


async def _comments(query: _Query, connection: AsyncConnection) -> list[Comment]:
    rows = await query.rows(
        connection,
        "SELECT f.created_at AS at, f.value, f.comment, f.thread_id, t.name "
        "FROM lightchat_feedback f JOIN lightchat_threads t ON t.id = f.thread_id "
        f"WHERE f.comment IS NOT NULL AND f.comment != '' "
        f"AND {query.in_period('f.created_at')}{query.thread_conditions} "
        f"ORDER BY f.created_at DESC, f.id DESC LIMIT {LATEST}",
    )
    return [
        Comment(_aware(row["at"]), int(row["value"]), row["comment"], row["thread_id"], row["name"])
        for row in rows
    ]


async def _problems(query: _Query, connection: AsyncConnection) -> list[Problem]:
    rows = await query.rows(
        connection,
        "SELECT s.created_at AS at, s.type, s.name, "
        "substr(s.output, 1, 300) AS output, s.thread_id, t.name AS thread_name "
        "FROM lightchat_steps s JOIN lightchat_threads t ON t.id = s.thread_id "
        f"WHERE s.is_error AND {query.in_period('s.created_at')}{query.thread_conditions} "
        f"ORDER BY s.created_at DESC, s.id DESC LIMIT {LATEST}",
    )
    return [
        Problem(
            _aware(row["at"]),
            "error message" if row["type"] == "error" else "failed step",
            row["name"],
            row["output"] or "",
            row["thread_id"],
            row["thread_name"],
        )
        for row in rows
    ]


async def _usage(query: _Query, connection: AsyncConnection) -> list[Usage]:
    d = query.d
    model = d.json_text("s.generation", "model")
    rows = await query.rows(
        connection,
        f"SELECT COALESCE({model}, '') AS model, COUNT(*) AS calls, "
        f"SUM({d.json_number('s.generation', 'inputTokenCount')}) AS input_tokens, "
        f"SUM({d.json_number('s.generation', 'outputTokenCount')}) AS output_tokens, "
        f"SUM({d.json_number('s.generation', 'tokenCount')}) AS total_tokens "
        f"FROM lightchat_steps s{query.join('s')} "
        f"WHERE s.generation IS NOT NULL AND {query.in_period('s.created_at')}"
        f"{query.thread_conditions} GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    found: list[Usage] = []
    for row in rows:
        tokens_in = int(row["input_tokens"] or 0)
        tokens_out = int(row["output_tokens"] or 0)
        total = int(row["total_tokens"] or 0) or tokens_in + tokens_out
        found.append(
            Usage(row["model"] or "(unnamed)", int(row["calls"]), tokens_in, tokens_out, total)
        )
    return found


async def _tags(query: _Query, connection: AsyncConnection) -> list[tuple[str, int]]:
    rows = await query.rows(
        connection,
        f"SELECT tag.value AS tag, COUNT(*) AS n FROM lightchat_threads t {query.d.tags_of('t')} "
        f"WHERE {query.in_period('t.created_at')}{query.thread_conditions} "
        f"GROUP BY tag.value ORDER BY n DESC, tag.value LIMIT {TOP}",
    )
    return [(str(row["tag"]), int(row["n"])) for row in rows]


async def _starters(
    query: _Query, connection: AsyncConnection, starters: Sequence[str]
) -> list[tuple[str, int]]:
    wanted = sorted({text for text in starters if text})[:200]
    if not wanted:
        return []
    names = {f"starter_{n}": value for n, value in enumerate(wanted)}
    listed = ", ".join(f":{name}" for name in names)
    rows = await query.rows(
        connection,
        f"SELECT s.output AS starter, COUNT(*) AS n FROM lightchat_steps s{query.join('s')} "
        f"WHERE s.type = 'user_message' AND s.output IN ({listed}) "
        f"AND {query.in_period('s.created_at')}{query.thread_conditions} "
        f"GROUP BY s.output ORDER BY n DESC, s.output LIMIT {TOP}",
        **names,
    )
    return [(str(row["starter"]), int(row["n"])) for row in rows]


async def _queue(query: _Query, connection: AsyncConnection) -> list[Queued]:
    rows = await query.rows(
        connection,
        "WITH issues AS ("
        "SELECT f.thread_id, f.created_at AS at, 1 AS bad, 0 AS err FROM lightchat_feedback f "
        f"WHERE f.value = 0 AND {query.in_period('f.created_at')} "
        "UNION ALL "
        "SELECT s.thread_id, s.created_at AS at, 0 AS bad, 1 AS err FROM lightchat_steps s "
        f"WHERE s.is_error AND {query.in_period('s.created_at')}"
        ") SELECT i.thread_id, t.name, MAX(i.at) AS last, SUM(i.bad) AS not_helpful, "
        "SUM(i.err) AS errors FROM issues i JOIN lightchat_threads t ON t.id = i.thread_id "
        f"WHERE 1 = 1{query.thread_conditions} GROUP BY i.thread_id, t.name "
        f"ORDER BY last DESC, i.thread_id LIMIT {QUEUE}",
    )
    return [
        Queued(
            row["thread_id"],
            row["name"],
            _aware(row["last"]),
            int(row["not_helpful"] or 0),
            int(row["errors"] or 0),
        )
        for row in rows
    ]


async def _choices(connection: AsyncConnection, d: _Dialect) -> tuple[list[str], list[str]]:
    profile = d.json_text("metadata", "chat_profile")
    profiles = await connection.execute(
        text(
            f"SELECT DISTINCT {profile} AS p FROM lightchat_threads "
            f"WHERE {profile} IS NOT NULL ORDER BY 1 LIMIT 100"
        )
    )
    clients = await connection.execute(
        text(
            "SELECT DISTINCT client_type FROM lightchat_threads "
            "WHERE client_type IS NOT NULL ORDER BY 1 LIMIT 100"
        )
    )
    return [str(p) for p in profiles.scalars()], [str(c) for c in clients.scalars()]


def _aware(value: Any) -> datetime:
    """A time column read by plain SQL: an aware datetime, or SQLite's text of a UTC one."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def report(
    engine: AsyncEngine,
    period: Period,
    filters: Filters | None = None,
    *,
    starters: Sequence[str] = (),
) -> Report:
    """Every figure of the analytics page for ``period`` (see the module docstring).

    ``starters`` are the messages of the app's starters, whose use is counted.
    """
    filters = filters or Filters()
    dialect = _Dialect(engine.dialect.name)
    query = _Query(dialect, period, filters)
    found = Report(period, filters)
    reader = engine
    if dialect.pg:  # one snapshot for every figure
        reader = engine.execution_options(isolation_level="REPEATABLE READ")
    async with reader.connect() as connection:
        counts = await _per_day(query, connection)
        timing = await _percentiles(query, connection)
        found.comments = await _comments(query, connection)
        found.problems = await _problems(query, connection)
        found.usage = await _usage(query, connection)
        found.tags = await _tags(query, connection)
        found.starters = await _starters(query, connection, starters)
        found.queue = await _queue(query, connection)
        found.profiles, found.clients = await _choices(connection, dialect)
    for day in day_list(period):
        found.days.append(Activity(day, **counts.get(day, {})))
        found.timing.append(Timing(day, *timing.get(day, (0, None, None, 0, None, None))))
    return found


async def flagged(engine: AsyncEngine, thread_id: str) -> bool:
    """Whether the thread has feedback or an error: what the page links to, and so what
    an admin may open there."""
    sql = text(
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM lightchat_feedback WHERE thread_id = :id) "
        "OR EXISTS (SELECT 1 FROM lightchat_steps WHERE thread_id = :id AND is_error)"
    )
    async with engine.connect() as connection:
        found = await connection.execute(sql, {"id": thread_id})
        return found.first() is not None
