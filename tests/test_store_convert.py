"""StepRecord <-> MessageData/StepData, and thread names from a first message."""

from __future__ import annotations

import pytest

from lightchat.domain.events import MessageData, StepData
from lightchat.store import (
    StepRecord,
    item_from_record,
    message_from_record,
    record_from_item,
    step_from_record,
    thread_name,
)
from lightchat.store.convert import from_timestamp


def test_a_message_is_stored_as_a_step() -> None:
    message = MessageData(
        id="m1",
        author="Assistant",
        type="assistant_message",
        content="**Hi**",
        language="markdown",
        parent_id="p",
        created_at=1_700_000_000.654321,
        streaming=True,
    )
    record = record_from_item(message, "t1")
    assert (record.thread_id, record.name, record.type, record.output) == (
        "t1",
        "Assistant",
        "assistant_message",
        "**Hi**",
    )
    assert record.status is None
    assert record.is_error is False
    assert item_from_record(record) == message


def test_error_messages_are_errors() -> None:
    record = record_from_item(MessageData(id="e", author="Error", type="error"), "t")
    assert record.is_error is True


@pytest.mark.parametrize(
    ("show_input", "stored"), [(False, None), (True, "true"), ("json", "json")]
)
def test_a_step_round_trips(show_input: bool | str, stored: str | None) -> None:
    step = StepData(
        id="s1",
        name="search",
        type="retrieval",
        parent_id="m1",
        input="query",
        output="3 documents",
        status="failed",
        show_input=show_input,
        language="json",
        started_at=1_700_000_000.5,
        ended_at=1_700_000_002.000001,
    )
    record = record_from_item(step, "t1")
    assert (record.show_input, record.is_error, record.status) == (stored, True, "failed")
    assert record.created_at == record.started_at
    assert item_from_record(record) == step


def test_rows_from_elsewhere_read_sensibly() -> None:
    moment = from_timestamp(1_700_000_000)
    odd = StepRecord(id="x", thread_id="t", type="agent", is_error=True, created_at=moment)
    step = step_from_record(odd)
    assert (step.type, step.status, step.started_at) == ("undefined", "failed", 1_700_000_000)
    with pytest.raises(ValueError, match="not a message"):
        message_from_record(odd)
    with pytest.raises(ValueError, match="not a step"):
        step_from_record(StepRecord(id="m", thread_id="t", type="user_message"))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("  What is\nthe capital   of France? ", "What is the capital of France?"),
        ("", None),
        (" \n\t ", None),
        ("x" * 60, "x" * 60),
        ("x" * 61, "x" * 59 + "…"),
        ("word " * 30, "word word word word word word word word word word word…"),
    ],
)
def test_thread_names(text: str, name: str | None) -> None:
    assert thread_name(text) == name
    assert len(thread_name(text) or "") <= 60
