"""``cl.instrument_mistralai()``: the official ``mistralai`` client, pointed at the
scripted server (tests/llm_server.py), in real chats. Each chat call made in a chat is an
``llm`` step with the messages, the answer (streamed live), and its generation; calls
outside a chat are left alone; an API error fails the step and reaches the app as raised."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mistralai.client import Mistral, models
from mistralai.client.errors import SDKError

import lightchat as cl
from lightchat import LightChat
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import Event, StepData, TokenEvent
from lightchat.domain.generation import ChatGeneration
from lightchat.integrations import calls
from lightchat.integrations.mistralai import instrument_mistralai, uninstrument_mistralai
from tests.helpers import WAIT_S, contents, events_of, idle, new_session, steps_in, wait_for_log
from tests.llm_server import LLMServer, Reply, ToolCall, Usage

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

QUESTION: list[models.ChatCompletionRequestMessageTypedDict] = [
    {"role": "system", "content": "Réponds en une ligne."},
    {"role": "user", "content": "Quel temps fait-il à Paris ?"},
]
WEATHER: models.ToolTypedDict = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class Recorded(cl.Step):
    """A real ``Step``, remembered: the integration's steps, to read what they carry."""

    made: list[cl.Step] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Recorded.made.append(self)


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def instrumented(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[cl.Step]]:
    """The client instrumented for the test (and put back after it); the steps made."""
    Recorded.made = []
    monkeypatch.setattr(calls, "Step", Recorded)
    instrument_mistralai()
    yield Recorded.made
    uninstrument_mistralai()


async def chat(handler: Callable[[cl.Message], Any]) -> ChatSession:
    """A chat whose ``on_message`` is ``handler``, asked one question and answered."""
    app = LightChat()
    app.on_message(handler)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S * 2):  # the first call of a kind imports its types
        await session.send_user_message("hi")
        await wait_for_log(session.bus, session.id, idle)
    return session


def llm_steps(events: list[Event]) -> list[StepData]:
    """Each ``llm`` step's last state, in the order they first showed."""
    states = {step.id: step for step in steps_in(events)}
    return [step for step in states.values() if step.type == "llm"]


def generation_of(step: cl.Step) -> ChatGeneration:
    assert isinstance(step.generation, ChatGeneration)
    return step.generation


def streamed(events: list[Event], step_id: str) -> list[str]:
    return [e.delta for e in events if isinstance(e, TokenEvent) and e.id == step_id]


async def test_complete_and_complete_async_are_llm_steps(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(
        Reply("Il fait beau.", usage=Usage(12, 4), model="mistral-small-2506"),
        Reply("Toujours beau."),
    )

    async def main(message: cl.Message) -> None:
        async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            first = await client.chat.complete_async(
                model="mistral-small-latest", messages=QUESTION, temperature=0.3
            )
            await cl.Message(content=str(first.choices[0].message.content)).send()

    def sync_main(message: cl.Message) -> None:  # a sync callback: it runs in a worker thread
        with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            client.chat.complete(model="mistral-small-latest", messages=QUESTION)

    events = await events_of(await chat(main))
    assert contents(events) == ["Il fait beau."]
    (step,) = llm_steps(events)
    assert (step.name, step.status, step.output) == (
        "mistral-small-latest",
        "done",
        "Il fait beau.",
    )
    assert json.loads(step.input) == QUESTION
    record = generation_of(instrumented[0])
    assert (record.provider, record.model) == ("mistralai", "mistral-small-2506")
    assert record.settings == {"model": "mistral-small-latest", "temperature": 0.3}
    assert record.messages == QUESTION
    assert record.message_completion == {"role": "assistant", "content": "Il fait beau."}
    assert (record.input_token_count, record.output_token_count, record.token_count) == (12, 4, 16)
    assert record.duration is not None
    assert step.generation is not None  # as the chat, the history and the page get it
    assert (step.generation["provider"], step.generation["tokenCount"]) == ("mistralai", 16)

    (step,) = llm_steps(await events_of(await chat(sync_main)))
    assert (step.status, step.output) == ("done", "Toujours beau.")


async def test_a_stream_fills_the_step_live_in_order(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    reply = Reply(["Il ", "fait ", "très ", "beau."], hold_after=2, usage=Usage(8, 4))
    llm.script(reply)

    async def main(message: cl.Message) -> None:
        answer = cl.Message(content="")
        async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            stream = await client.chat.stream_async(model="mistral-small-latest", messages=QUESTION)
            async for event in stream:
                await answer.stream_token(str(event.data.choices[0].delta.content or ""))
        await answer.send()

    app = LightChat()
    app.on_message(main)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        done = session.send_user_message("météo")

        def step_has_first_pieces(events: list[Event]) -> bool:
            steps = llm_steps(events)
            return bool(steps) and "".join(streamed(events, steps[0].id)) == "Il fait "

        events = await wait_for_log(session.bus, session.id, step_has_first_pieces)
        assert llm_steps(events)[0].status == "running"
        reply.release()
        await done
        events = await wait_for_log(session.bus, session.id, idle)
    (step,) = llm_steps(events)
    assert streamed(events, step.id)[0] == "Il "
    assert "".join(streamed(events, step.id)) == "Il fait très beau."
    assert (step.status, step.output) == ("done", "Il fait très beau.")
    assert contents(events) == ["Il fait très beau."]
    record = generation_of(instrumented[0])
    assert (record.input_token_count, record.output_token_count) == (8, 4)
    assert record.tt_first_token is not None


async def test_a_sync_stream_with_tools_and_tool_calls(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply(tool_calls=[ToolCall("weather", {"city": "Paris"}, id="abcDEF123")]))

    def main(message: cl.Message) -> None:
        with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            for _ in client.chat.stream(
                model="mistral-large-latest", messages=QUESTION, tools=[WEATHER]
            ):
                pass

    (step,) = llm_steps(await events_of(await chat(main)))
    call = {
        "id": "abcDEF123",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
    }
    assert step.status == "done"
    assert json.loads(step.output) == [call]
    record = generation_of(instrumented[0])
    assert record.tools == [WEATHER]
    assert record.message_completion == {"role": "assistant", "content": None, "tool_calls": [call]}


async def test_the_clients_message_models_in_the_prompt(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Beau."))
    asked = models.ToolCall(
        id="abcDEF123", function=models.FunctionCall(name="weather", arguments={"city": "Paris"})
    )
    messages: list[models.ChatCompletionRequestMessage] = [
        models.AssistantMessage(content=None, tool_calls=[asked]),
        models.ToolMessage(content="sunny", tool_call_id="abcDEF123", name="weather"),
    ]

    async def main(message: cl.Message) -> None:
        async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            await client.chat.complete_async(
                model="mistral-large-latest",
                messages=messages,
                tools=[models.Tool.model_validate(WEATHER)],
            )

    await chat(main)
    record = generation_of(instrumented[0])
    assert record.messages == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "abcDEF123",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "name": "weather", "tool_call_id": "abcDEF123"},
    ]
    assert record.tools is not None
    assert record.tools[0]["function"]["name"] == "weather"


async def test_a_call_nests_under_the_step_open_where_it_is_made(llm: LLMServer) -> None:
    llm.script(Reply("Bien."))

    async def main(message: cl.Message) -> None:
        async with (
            cl.Step(name="agent", type="run"),
            Mistral(api_key="test", server_url=llm.mistral_url) as client,
        ):
            await client.chat.complete_async(model="mistral-small-latest", messages=QUESTION)

    events = await events_of(await chat(main))
    agent = next(s for s in steps_in(events) if s.name == "agent")
    (call,) = llm_steps(events)
    assert call.parent_id == agent.id


async def test_an_api_error_fails_the_step_and_reaches_the_app_as_raised(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply(status=401, error="Unauthorized"))
    raised: list[BaseException] = []

    async def main(message: cl.Message) -> None:
        async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            try:
                await client.chat.stream_async(model="mistral-small-latest", messages=QUESTION)
            except SDKError as error:
                raised.append(error)
                raise

    events = await events_of(await chat(main))
    assert [type(e) for e in raised] == [SDKError]
    (step,) = llm_steps(events)
    assert step.status == "failed"
    assert "Unauthorized" in step.output
    error = generation_of(instrumented[0]).error
    assert error is not None
    assert "Status 401" in error
    assert any("Unauthorized" in text for text in contents(events, "error"))


async def test_a_stream_cut_short_keeps_what_came(llm: LLMServer) -> None:
    llm.script(Reply(["Il ", "fait ", "beau."], cut_after=2))

    async def main(message: cl.Message) -> None:
        async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            stream = await client.chat.stream_async(model="mistral-small-latest", messages=QUESTION)
            async for _ in stream:
                pass

    (step,) = llm_steps(await events_of(await chat(main)))
    assert (step.status, step.output) == ("failed", "Il fait ")


async def test_calls_outside_a_chat_are_left_alone(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Seul."))
    async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
        answer = await client.chat.complete_async(model="m", messages=QUESTION)
    assert answer.choices[0].message is not None
    assert answer.choices[0].message.content == "Seul."
    assert instrumented == []


async def test_instrumenting_twice_makes_one_step_per_call(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    assert cl.instrument_mistralai is instrument_mistralai  # Chainlit's name
    instrument_mistralai()
    instrument_mistralai()
    llm.script(Reply("Une fois."))

    async def main(message: cl.Message) -> None:
        async with Mistral(api_key="test", server_url=llm.mistral_url) as client:
            await client.chat.complete_async(model="mistral-small-latest", messages=QUESTION)

    assert len(llm_steps(await events_of(await chat(main)))) == 1
    assert len(instrumented) == 1


# -- the example --------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "20_mistral" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_chats_offline_showing_each_model_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    app = load_app(str(EXAMPLE))
    example, demo_model = sys.modules["app"], sys.modules["demo_model"]
    questions = ["What is a vector database?", "Compare Django versus Flask"]
    try:
        session = new_session(app, app.settings)
        async with asyncio.timeout(WAIT_S * 2):
            await session.start()
            for question in questions:
                await session.send_user_message(question)
        events = await events_of(session)
        sent = example.offline.requests
    finally:
        await example.client.__aexit__(None, None, None)  # its async HTTP client
        example.offline.close()
    answers = [demo_model.answer(question) for question in questions]
    assert contents(events) == answers
    steps = llm_steps(events)
    assert [(s.name, s.status, s.output) for s in steps] == [
        ("mistral-small-latest", "done", answer) for answer in answers
    ]
    assert "".join(streamed(events, steps[1].id)) == answers[1]
    assert [m["role"] for m in sent[1].body["messages"]] == ["system", "user", "assistant", "user"]
    assert sent[1].body["messages"][2]["content"] == answers[0]
