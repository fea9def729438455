"""The event vocabulary: JSON round trips and the little logic the data carries."""

from __future__ import annotations

import json

import pytest

from lightchat.config.settings import Settings
from lightchat.domain.events import (
    Event,
    FavoriteData,
    FavoriteEvent,
    FavoritesEvent,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    StepData,
    StepEvent,
    TokenEvent,
    event_from_json,
    event_to_json,
    new_id,
)
from lightchat.errors import ConfigError

EVENTS: list[Event] = [
    MessageEvent(
        MessageData(
            id="m1",
            author="Bot <b>",
            type="assistant_message",
            content="Hé **there**\n```py\nx = 1\n```",
            language="markdown",
            parent_id="s1",
            created_at=1700000000.25,
            streaming=True,
        )
    ),
    MessageEvent(MessageData(id="m2", author="You", type="user_message", content="")),
    StepEvent(
        StepData(
            id="s1",
            name="search",
            type="tool",
            parent_id="s0",
            input='{"q": "x"}',
            output="3 results",
            status="failed",
            show_input="json",
            language="json",
            started_at=1.5,
            ended_at=2.75,
        )
    ),
    StepEvent(StepData(id="s2", name="plain", show_input=False)),
    TokenEvent("m1", "tok\nen ✓"),
    RemoveEvent("m2"),
    RunEvent(running=True),
    RunEvent(running=False),
    FavoriteEvent("m2", favorite=True),
    FavoritesEvent([FavoriteData("m2", "Hé <b>again</b>"), FavoriteData("m9", "")]),
    FavoritesEvent([]),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_json_round_trip(event: Event) -> None:
    text = event_to_json(event)
    assert json.loads(text)["kind"] == type(event).__name__
    assert event_from_json(text) == event


def test_json_round_trip_keeps_types() -> None:
    back = event_from_json(event_to_json(EVENTS[0]))
    assert isinstance(back, MessageEvent)
    assert isinstance(back.message, MessageData)
    assert back.message.streaming is True
    step = event_from_json(event_to_json(EVENTS[3]))
    assert isinstance(step, StepEvent)
    assert step.step.show_input is False


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="Nope"):
        event_from_json('{"kind": "Nope"}')


def test_step_duration() -> None:
    assert StepData(id="s", name="n", started_at=10.0).duration is None
    assert StepData(id="s", name="n", started_at=10.0, ended_at=12.5).duration == 2.5
    # A clock that went backwards never shows a negative time.
    assert StepData(id="s", name="n", started_at=10.0, ended_at=9.0).duration == 0.0


def test_new_ids_are_unique_hex() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {"LIGHTCHAT_NAME": "Bot", "LIGHTCHAT_TOKEN_BATCH_MS": "25", "OTHER": "x"},
        render_interval_ms=99,
        secret=None,
    )
    assert settings.name == "Bot"
    assert settings.token_batch_ms == 25
    assert settings.render_interval_ms == 99
    assert settings.secret == ""
    assert Settings.from_env({}) == Settings()


def test_settings_from_env_names_the_fix_for_a_bad_number() -> None:
    with pytest.raises(ConfigError, match=r"LIGHTCHAT_MAX_MESSAGE_CHARS=100000"):
        Settings.from_env({"LIGHTCHAT_MAX_MESSAGE_CHARS": "lots"})
