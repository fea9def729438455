"""Seeded history with known figures, for the analytics page's tests (HTTP and browser).

Three chats in the period 2027-01-10 to 2027-01-12 and one before it; the figures each
test expects are worked out here, next to the rows that give them. Thread names, tags and
comments carry hostile markup, which the page must show as text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from lightchat.store import ElementRecord, FeedbackRecord, SQLStore, StepRecord, ThreadRecord

EVIL_NAME = "Trip <script>alert(1)</script>"
EVIL_TAG = "<img src=x onerror=alert(1)>"
EVIL_COMMENT = 'Great <script>alert(1)</script><a href="javascript:alert(1)">x</a>'
QUERY = "period=custom&from=2027-01-10&to=2027-01-12"
STARTERS = {"Say hi": "Hi", "Weather": "Weather?"}


def at(day: int, hour: int, minute: int = 0, second: float = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


def _thread(id_: str, owner: str, when: datetime, name: str, tags: list[str], **more: Any) -> Any:
    profile = more.pop("profile", None)
    return {
        "id": id_,
        "owner": owner,
        "name": name,
        "tags": tags,
        "metadata": {"chat_profile": profile} if profile else {},
        "created_at": when,
        "updated_at": when,
        "client_type": more.pop("client", None),
    }


def _step(id_: str, thread: str, kind: str, when: datetime, output: str = "", **more: Any) -> Any:
    row = {
        "id": id_,
        "thread_id": thread,
        "parent_id": None,
        "name": more.pop("name", "Assistant"),
        "type": kind,
        "input": "",
        "output": output,
        "language": None,
        "is_error": more.pop("error", False),
        "status": more.pop("status", None),
        "streaming": False,
        "show_input": None,
        "created_at": when,
        "started_at": None,
        "ended_at": None,
        "metadata": {},
        "favorite_at": None,
        "generation": more.pop("generation", None),
    }
    first, end = more.pop("first", None), more.pop("end", None)
    if first is not None:
        row["started_at"] = when + timedelta(seconds=first)
    if end is not None:
        row["ended_at"] = when + timedelta(seconds=end)
    assert not more, more
    return row


THREADS = [
    _thread(
        "t1", "ada", at(10, 9), EVIL_NAME, ["travel", EVIL_TAG], profile="GPT", client="webapp"
    ),
    _thread("t2", "bob", at(10, 15), "Billing", ["billing"], profile="Claude", client="copilot"),
    _thread("t3", "ada", at(11, 10), "Lisbon", ["travel"], profile="GPT", client="webapp"),
    _thread("t4", "carl", at(9, 12), "Old", ["old"]),
]

STEPS = [
    # t1: two questions timed (first token 1 s and 3 s; runs 4 s and 5 s), a failed tool
    # step and an LLM call.
    _step("q1", "t1", "user_message", at(10, 9), "Plan a trip", name="ada", first=1, end=4),
    _step("a1", "t1", "assistant_message", at(10, 9, 0, 1), "Sure"),
    _step("q2", "t1", "user_message", at(10, 9, 10), "Hi", name="ada", first=3, end=5),
    _step(
        "g1",
        "t1",
        "llm",
        at(10, 9, 10, 1),
        name="gpt",
        generation={
            "model": "gpt-4o",
            "inputTokenCount": 100,
            "outputTokenCount": 20,
            "tokenCount": 120,
        },
    ),
    _step(
        "s1", "t1", "tool", at(10, 9, 10, 2), "timeout", name="search", error=True, status="failed"
    ),
    _step("a2", "t1", "assistant_message", at(10, 9, 10, 3), "Hello"),
    # t2: one question (2 s, 10 s), an error message, an LLM call without a total.
    _step("q3", "t2", "user_message", at(10, 15), "Hi", name="bob", first=2, end=10),
    _step(
        "g2",
        "t2",
        "llm",
        at(10, 15, 0, 1),
        name="claude",
        generation={"model": "claude", "inputTokenCount": 50, "outputTokenCount": 10},
    ),
    _step("a3", "t2", "assistant_message", at(10, 15, 0, 2), "Hello"),
    _step("e1", "t2", "error", at(10, 15, 0, 5), "Something failed", name="Error", error=True),
    # t3: a question never timed (written before the history timed them).
    _step("q4", "t3", "user_message", at(11, 10), "Weather?", name="ada"),
    _step("a4", "t3", "assistant_message", at(11, 10, 0, 1), "Sunny"),
    # t4: before the period.
    _step("q5", "t4", "user_message", at(9, 12), "Hi", name="carl", first=1, end=1),
]

FEEDBACK = [
    {
        "id": "f1",
        "for_id": "a1",
        "thread_id": "t1",
        "value": 1,
        "comment": EVIL_COMMENT,
        "created_at": at(10, 9, 5),
    },
    {
        "id": "f2",
        "for_id": "a2",
        "thread_id": "t1",
        "value": 0,
        "comment": "Wrong",
        "created_at": at(10, 9, 15),
    },
    {
        "id": "f3",
        "for_id": "a3",
        "thread_id": "t2",
        "value": 0,
        "comment": None,
        "created_at": at(10, 15, 1),
    },
    {
        "id": "f4",
        "for_id": "a4",
        "thread_id": "t3",
        "value": 1,
        "comment": "Thanks",
        "created_at": at(11, 10, 1),
    },
    {
        "id": "f5",
        "for_id": "q5",
        "thread_id": "t4",
        "value": 0,
        "comment": "old",
        "created_at": at(9, 12, 1),
    },
]


ELEMENTS = [
    {
        "id": "el1",
        "thread_id": "t1",
        "for_id": "a1",
        "name": "itinerary",
        "type": "text",
        "mime": "text/plain",
        "size": None,
        "storage_key": None,
        "display": "side",
        "url": None,
        "metadata": {"content": "Day one: Lisbon"},
        "created_at": at(10, 9, 0, 1),
    }
]


async def seed(url: str) -> None:
    """Write the rows above into the store at ``url`` (migrated first); a second call on
    the same database writes nothing."""
    store = await SQLStore.open(url)
    try:
        if await store.get_thread("t1", owner=None) is not None:
            return
        async with store.engine.begin() as connection:
            await connection.execute(insert(ThreadRecord.__table__), THREADS)  # type: ignore[attr-defined]
            await connection.execute(insert(StepRecord.__table__), STEPS)  # type: ignore[attr-defined]
            await connection.execute(insert(FeedbackRecord.__table__), FEEDBACK)  # type: ignore[attr-defined]
            await connection.execute(insert(ElementRecord.__table__), ELEMENTS)  # type: ignore[attr-defined]
    finally:
        await store.close()
