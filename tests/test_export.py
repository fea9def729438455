"""Exports: a stored thread as Markdown and JSON, and the header that downloads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from lightchat.chat.export import (
    FORMAT,
    content_disposition,
    thread_json,
    thread_json_text,
    thread_markdown,
)
from lightchat.store import ElementRecord, FeedbackRecord, StepRecord, StoredThread, ThreadRecord

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def step(id_: str, type_: str, name: str, *, seconds: int, **fields: object) -> StepRecord:
    return StepRecord(
        id=id_,
        thread_id="t1",
        type=type_,
        name=name,
        created_at=START + timedelta(seconds=seconds),
        **fields,  # type: ignore[arg-type]
    )


def stored(name: str | None = "Trip planning") -> StoredThread:
    thread = ThreadRecord(id="t1", owner="browser:x", name=name, tags=["travel"])
    thread.meta = {"secret_prompt": "never exported"}
    thread.created_at = thread.updated_at = START
    return StoredThread(
        thread=thread,
        steps=[
            step("u1", "user_message", "You", seconds=0, output="Where to in **May**?"),
            step(
                "s1",
                "run",
                "plan",
                seconds=1,
                input="a ``` fence inside",
                output="two options",
                ended_at=START + timedelta(seconds=2),
            ),
            step("s2", "tool", "search", seconds=2, parent_id="s1", input="q=may", output="[]"),
            step("s3", "tool", "weather", seconds=3, output="{}", language="json", is_error=True),
            step("a1", "assistant_message", "Guide", seconds=4, output="Lisbon or Porto."),
        ],
        elements=[ElementRecord(id="e1", thread_id="t1", for_id="a1", name="map.png")],
        feedback={"a1": FeedbackRecord(for_id="a1", thread_id="t1", value=0, comment="too short")},
    )


def test_markdown_has_the_name_messages_steps_and_feedback_in_order() -> None:
    text = thread_markdown(stored())
    assert text.startswith("# Trip planning\n\nStarted 2026-03-01 09:30 UTC.\nTags: travel.\n")
    parts = [
        "## You\n\nWhere to in **May**?\n",
        "### Step: plan (run)\n\nInput:\n\n````\na ``` fence inside\n````\n\n"
        "Output:\n\ntwo options\n",
        "#### Step: search (tool)\n\nInput:\n\n```\nq=may\n```\n\nOutput:\n\n[]\n",
        "### Step: weather (tool)\n\nOutput:\n\n```json\n{}\n```\n\n_This step failed._\n",
        "## Guide\n\nLisbon or Porto.\n\nAttached: map.png\n\n> Feedback: Not helpful: too short\n",
    ]
    positions = [text.index(part) for part in parts]
    assert positions == sorted(positions)
    assert "never exported" not in text
    assert text.endswith("too short\n")


def test_an_unnamed_thread_is_untitled() -> None:
    assert thread_markdown(stored(None)).startswith("# Untitled chat\n")
    assert thread_json(stored(None))["name"] == "Untitled chat"


def test_json_keeps_every_step_with_its_feedback_but_not_the_metadata() -> None:
    data = json.loads(thread_json_text(stored()))
    assert data["format"] == FORMAT
    assert (data["id"], data["name"], data["tags"]) == ("t1", "Trip planning", ["travel"])
    assert data["createdAt"] == "2026-03-01T09:30:00+00:00"
    assert "metadata" not in data
    assert "owner" not in json.dumps(data)
    assert [(s["id"], s["parentId"], s["type"]) for s in data["steps"]] == [
        ("u1", None, "user_message"),
        ("s1", None, "run"),
        ("s2", "s1", "tool"),
        ("s3", None, "tool"),
        ("a1", None, "assistant_message"),
    ]
    plan = data["steps"][1]
    assert (plan["input"], plan["output"], plan["endedAt"]) == (
        "a ``` fence inside",
        "two options",
        "2026-03-01T09:30:02+00:00",
    )
    assert data["steps"][3]["isError"] is True
    assert data["steps"][4]["feedback"] == {"value": 0, "comment": "too short"}
    assert data["steps"][0]["feedback"] is None
    assert data["elements"][0]["name"] == "map.png"


def test_content_disposition_is_safe_for_any_name() -> None:
    assert content_disposition("Notes", "md") == (
        "attachment; filename=\"Notes.md\"; filename*=UTF-8''Notes.md"
    )
    hostile = content_disposition('a"\r\nSet-Cookie: x=1; ../../etc/passwd', "json")
    assert "\r" not in hostile
    assert "\n" not in hostile
    assert hostile.startswith('attachment; filename="a-Set-Cookie-x-1-etc-passwd.json"; ')
    assert hostile.count('"') == 2
    unicode = content_disposition("Café ☕ plans", "md")
    assert 'filename="Caf-plans.md"' in unicode
    assert "filename*=UTF-8''Caf%C3%A9%20%E2%98%95%20plans.md" in unicode
    assert 'filename="chat.md"' in content_disposition("☕", "md")
