"""A step's generation travels with it: set on ``cl.Step``, published in its ``StepData``,
written to the history (SQLite, PostgreSQL, memory), shown again in a reopened chat, and
given back in Chainlit's ``ThreadDict`` and in the JSON export."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lightchat import ChatGeneration, CompletionGeneration, LightChat, Message, Settings, Step
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.chat.export import thread_json
from lightchat.chat.history import History
from lightchat.chat.session import ChatSession
from lightchat.chat.threads import thread_dict
from lightchat.domain.events import Entry, StepData, StepEvent, event_from_json, event_to_json
from lightchat.domain.generation import (
    MAX_GENERATION_BYTES,
    GenerationMessage,
    generation_dict,
)
from lightchat.store import MemoryStore
from tests.helpers import idle, steps_in, wait_for_log
from tests.pg import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _generation(question: str) -> ChatGeneration:
    return ChatGeneration(
        provider="openai",
        model="gpt-4o-mini",
        settings={"temperature": 0.2, "max_tokens": 64},
        messages=[
            {"role": "system", "content": "Answer <briefly> & kindly."},
            {"role": "user", "content": question},
        ],
        message_completion={
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
            ],
        },
        tools=[{"type": "function", "function": {"name": "search"}}],
        input_token_count=21,
        output_token_count=7,
        token_count=28,
        tt_first_token=180.5,
        token_throughput=41.0,
    )


def _app(resumed: list[dict[str, Any]]) -> LightChat:
    app = LightChat()

    @app.on_message
    async def answer(message: Message) -> None:
        async with Step(name="model", type="llm") as step:
            step.output = "Let me look."
            step.generation = _generation(message.content)
        plain = Step(name="plain", type="tool")  # a step without a generation
        await plain.send()
        await Message(content="done").send()

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        resumed.append(thread)

    return app


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def history_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[History]:
    if request.param == "memory":
        yield History("", str(tmp_path), data_layer=MemoryStore)
    elif request.param == "sqlite":
        yield History("", str(tmp_path))
    else:
        with postgres_database() as url:
            yield History(url, str(tmp_path))


def _chats(app: LightChat, history: History) -> Chats:
    def record(session: ChatSession, entry: Entry) -> None:
        history.observe(session.owner, session.thread_id, entry)

    return Chats(
        app,
        MemoryBus(),
        Settings(token_batch_ms=5),
        message_factory=Message.from_data,
        observer=record,
    )


def _llm_steps(items: list[Any]) -> list[StepData]:
    return [item for item in items if isinstance(item, StepData) and item.type == "llm"]


async def test_a_generation_is_published_stored_reopened_and_given_back(
    history_for: History,
) -> None:
    history = history_for
    resumed: list[dict[str, Any]] = []
    app = _app(resumed)
    expected = generation_dict(_generation("Where is Lisbon?"))
    assert expected is not None
    assert expected["messages"][1]["content"] == "Where is Lisbon?"
    await history.start()
    assert await history.wait_ready()
    chats = _chats(app, history)
    try:
        async with asyncio.timeout(20):
            session = chats.create("browser-1")
            await session.send_user_message("Where is Lisbon?")
            events = await wait_for_log(session.bus, session.id, idle)
            # The published step carries it once the step has it, as the dict to_dict() makes.
            published = [s for s in steps_in(events) if s.name == "model"]
            assert published[0].generation is None  # the step started without one
            assert published[-1].generation == expected
            plain = [s.generation for s in steps_in(events) if s.name == "plain"]
            assert plain
            assert set(plain) == {None}
            await session.close()

            stored = await history.load(session.id, "browser-1")
            assert stored is not None
            by_name = {step.name: step for step in stored.steps}
            assert by_name["model"].generation == expected
            assert by_name["plain"].generation is None
            messages = [step for step in stored.steps if step.type.endswith("_message")]
            assert len(messages) == 2
            assert all(m.generation is None for m in messages)

            # Chainlit's ThreadDict and the JSON export carry it.
            thread = thread_dict(stored)
            generations = {step["name"]: step["generation"] for step in thread["steps"]}
            assert generations["model"] == expected
            assert generations["plain"] is None
            exported = json.loads(json.dumps(thread_json(stored)))
            assert [s["generation"] for s in exported["steps"] if s["name"] == "model"] == [
                expected
            ]
            restored = ChatGeneration.from_dict(generations["model"])
            assert restored == _generation("Where is Lisbon?")

            # Reopened: the chat shows it again, and on_chat_resume gets it.
            again = chats.resume(session.id, "browser-1", history.items(stored), thread)
            shown = _llm_steps(list(again.transcript.items.values()))
            assert [step.generation for step in shown] == [expected]
            await wait_for_log(again.bus, again.id, idle)
        [given] = resumed
        assert [s["generation"] for s in given["steps"] if s["name"] == "model"] == [expected]
    finally:
        await chats.close_all()
        await history.close()


async def test_update_publishes_a_generation_set_after_send() -> None:
    app = LightChat()

    @app.on_message
    async def answer(message: Message) -> None:
        step = Step(name="complete", type="llm")
        await step.send()
        step.generation = CompletionGeneration(model="m", prompt="2+2=", completion="4")
        await step.update()

    chats = Chats(app, MemoryBus(), Settings(token_batch_ms=5), message_factory=Message.from_data)
    try:
        async with asyncio.timeout(10):
            session = chats.create("b")
            await session.send_user_message("go")
            events = await wait_for_log(session.bus, session.id, idle)
        states = [s.generation for s in steps_in(events)]
        assert states[0] is None
        assert states[-1] is not None
        assert (states[-1]["type"], states[-1]["prompt"], states[-1]["completion"]) == (
            "COMPLETION",
            "2+2=",
            "4",
        )
    finally:
        await chats.close_all()


def test_a_step_event_keeps_its_generation_across_processes() -> None:
    step = StepData(id="s1", name="llm", type="llm", generation=generation_dict(_generation("é")))
    assert event_from_json(event_to_json(StepEvent(step))) == StepEvent(step)


class _Opaque:
    def __str__(self) -> str:
        return "opaque client"


def test_a_generation_is_made_json_safe() -> None:
    odd_keys: Any = {"temperature": float("nan"), "client": _Opaque(), 3: (1, 2)}
    made = generation_dict(
        ChatGeneration(
            model="m",
            settings=odd_keys,
            metadata={"deep": _nested(40)},
        )
    )
    assert made is not None
    assert made["settings"] == {"temperature": None, "client": "opaque client", "3": [1, 2]}
    json.dumps(made, allow_nan=False)  # what PostgreSQL's JSONB takes
    assert "truncated" not in made


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"next": value}
    return value


def _size(data: Any) -> int:
    return len(json.dumps(data, ensure_ascii=False).encode())


def test_a_long_generation_is_cut_to_the_limit_and_says_so() -> None:
    long_prompt = "word " * 40_000  # 200 KB
    made = generation_dict(
        ChatGeneration(
            model="m",
            input_token_count=50_000,
            messages=[{"role": "user", "content": long_prompt}, {"role": "user", "content": "end"}],
        )
    )
    assert made is not None
    assert _size(made) <= MAX_GENERATION_BYTES
    assert made["truncated"] is True
    assert made["inputTokenCount"] == 50_000  # the numbers stay whole
    first, last = made["messages"]
    assert first["content"].startswith("word word")
    assert first["content"].endswith("…")
    assert last["content"] == "end"  # a short text is left alone


def test_a_generation_too_large_even_cut_keeps_what_it_was() -> None:
    many: list[GenerationMessage] = [
        {"role": "user", "content": f"message {n}"} for n in range(20_000)
    ]
    made = generation_dict(ChatGeneration(provider="openai", model="m", messages=many))
    assert made is not None
    assert _size(made) <= MAX_GENERATION_BYTES
    assert (made["type"], made["provider"], made["model"], made["truncated"]) == (
        "CHAT",
        "openai",
        "m",
        True,
    )
    assert "messages" not in made
