"""``cl.instrument_openai()``: the official ``openai`` client, pointed at the scripted
server (tests/llm_server.py), in real chats. Each call made in a chat is an ``llm`` step
with the messages, the answer (streamed live), and its generation; calls outside a chat
are left alone; an API error fails the step and reaches the app as raised."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import BaseModel

import lightchat as cl
from lightchat import LightChat
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import Event, StepData, TokenEvent
from lightchat.domain.generation import ChatGeneration
from lightchat.integrations import calls
from lightchat.integrations.openai import instrument_openai, uninstrument_openai
from tests.helpers import WAIT_S, contents, events_of, idle, new_session, steps_in, wait_for_log
from tests.llm_server import LLMServer, Reply, ToolCall, Usage

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You answer in one line."},
    {"role": "user", "content": "What is the weather in Paris?"},
]
WEATHER: ChatCompletionToolParam = {
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
    instrument_openai()
    yield Recorded.made
    uninstrument_openai()


def async_client(llm: LLMServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=llm.openai_url, api_key="test", max_retries=0)


def sync_client(llm: LLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.openai_url, api_key="test", max_retries=0)


async def chat(handler: Callable[[cl.Message], Any], question: str = "hi") -> ChatSession:
    """A chat whose ``on_message`` is ``handler``, asked one question and answered."""
    app = LightChat()
    app.on_message(handler)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S * 2):  # the first call of a kind imports its types
        await session.send_user_message(question)
        await wait_for_log(session.bus, session.id, idle)
    return session


def last_states(events: list[Event]) -> dict[str, StepData]:
    """Each step's last published state, by id, in the order they first showed."""
    return {step.id: step for step in steps_in(events)}


def llm_step(events: list[Event]) -> StepData:
    (step,) = [s for s in last_states(events).values() if s.type == "llm"]
    return step


def generation(steps: list[cl.Step]) -> ChatGeneration:
    (step,) = steps
    assert isinstance(step.generation, ChatGeneration)
    return step.generation


def streamed(events: list[Event], step_id: str) -> list[str]:
    return [e.delta for e in events if isinstance(e, TokenEvent) and e.id == step_id]


async def test_a_whole_chat_completion_is_an_llm_step(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Sunny, 24 °C.", usage=Usage(11, 5), model="gpt-4o-mini-2024-07-18"))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            completion = await client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, temperature=0.2, max_tokens=50
            )
        await cl.Message(content=completion.choices[0].message.content or "").send()

    events = await events_of(await chat(main))
    assert contents(events) == ["Sunny, 24 °C."]
    step = llm_step(events)
    assert (step.name, step.status, step.parent_id) == ("gpt-4o-mini", "done", None)
    assert json.loads(step.input) == QUESTION
    assert step.output == "Sunny, 24 °C."
    assert step.ended_at is not None
    record = generation(instrumented)
    assert (record.provider, record.model) == ("openai", "gpt-4o-mini-2024-07-18")
    assert record.settings == {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 50}
    assert record.messages == QUESTION
    assert record.message_completion == {"role": "assistant", "content": "Sunny, 24 °C."}
    assert (record.input_token_count, record.output_token_count, record.token_count) == (11, 5, 16)
    assert record.duration is not None
    assert record.duration > 0
    assert record.tools is None
    assert record.tt_first_token is None  # nothing streamed
    assert record.error is None
    assert step.generation is not None  # as the chat, the history and the page get it
    assert (step.generation["provider"], step.generation["tokenCount"]) == ("openai", 16)
    assert step.generation["messageCompletion"] == record.message_completion


async def test_a_streamed_answer_is_streamed_into_the_step(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply(["It is ", "sunny ", "in Paris."], usage=Usage(9, 3)))

    async def main(message: cl.Message) -> None:
        answer = cl.Message(content="")
        async with async_client(llm) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=QUESTION,
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.choices:
                    await answer.stream_token(chunk.choices[0].delta.content or "")
        await answer.send()

    events = await events_of(await chat(main))
    assert contents(events) == ["It is sunny in Paris."]
    step = llm_step(events)
    assert "".join(streamed(events, step.id)) == "It is sunny in Paris."
    assert (step.status, step.output) == ("done", "It is sunny in Paris.")
    record = generation(instrumented)
    assert record.settings == {"model": "gpt-4o-mini"}
    assert record.message_completion == {"role": "assistant", "content": "It is sunny in Paris."}
    assert (record.input_token_count, record.output_token_count, record.token_count) == (9, 3, 12)
    assert record.tt_first_token is not None
    assert record.duration is not None
    assert 0 < record.tt_first_token <= record.duration * 1000
    assert record.token_throughput is not None


async def test_the_steps_text_arrives_live_in_order_before_the_end(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    reply = Reply(["Once ", "upon ", "a ", "time."], hold_after=2)
    llm.script(reply)

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            )
            async for _ in stream:
                pass

    app = LightChat()
    app.on_message(main)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        done = session.send_user_message("a story")

        def first_pieces_shown(events: list[Event]) -> bool:
            return "".join(e.delta for e in events if isinstance(e, TokenEvent)) == "Once upon "

        events = await wait_for_log(session.bus, session.id, first_pieces_shown)
        (step,) = last_states(events).values()
        assert (step.type, step.status) == ("llm", "running")
        assert reply.holding.is_set()
        reply.release()
        await done
        events = await wait_for_log(session.bus, session.id, idle)
    step = llm_step(events)
    assert streamed(events, step.id)[0] == "Once "
    assert "".join(streamed(events, step.id)) == "Once upon a time."
    assert (step.status, step.output) == ("done", "Once upon a time.")


async def test_tool_definitions_and_streamed_tool_calls(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply(tool_calls=[ToolCall("weather", {"city": "Paris"}, id="call_42")]))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=QUESTION, tools=[WEATHER], tool_choice="auto", stream=True
            )
            async for _ in stream:
                pass

    step = llm_step(await events_of(await chat(main)))
    call = {
        "id": "call_42",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
    }
    assert json.loads(step.output) == [call]  # no text: the step shows the calls
    record = generation(instrumented)
    assert record.tools == [WEATHER]
    assert record.settings == {"model": "gpt-4o", "tool_choice": "auto"}
    assert record.message_completion == {"role": "assistant", "content": None, "tool_calls": [call]}


async def test_a_whole_answer_with_tool_calls_and_a_tool_result_in_the_prompt(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(
        Reply(tool_calls=[ToolCall("weather", {"city": "Paris"})]),
        Reply("Sunny in Paris."),
    )

    async def main(message: cl.Message) -> None:
        messages = list(QUESTION)
        async with async_client(llm) as client:
            first = await client.chat.completions.create(
                model="gpt-4o", messages=messages, tools=[WEATHER]
            )
            asked = first.choices[0].message
            (call,) = asked.tool_calls or []
            messages += [asked, {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]  # type: ignore[list-item]
            await client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])

    events = await events_of(await chat(main))
    first, second = [s for s in last_states(events).values() if s.type == "llm"]
    assert json.loads(first.output)[0]["function"]["name"] == "weather"
    assert second.output == "Sunny in Paris."
    later = instrumented[1].generation
    assert isinstance(later, ChatGeneration)
    assistant, tool = later.messages[2:]
    assert assistant["role"] == "assistant"
    assert assistant.get("tool_calls", [{}])[0]["function"]["name"] == "weather"
    assert tool == {"role": "tool", "content": "sunny", "tool_call_id": "call_1_0"}


async def test_a_call_nests_under_the_step_open_where_it_is_made(llm: LLMServer) -> None:
    llm.script(Reply("Fine."))

    async def main(message: cl.Message) -> None:
        async with cl.Step(name="agent", type="run"), async_client(llm) as client:
            await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)

    states = last_states(await events_of(await chat(main)))
    agent, call = states.values()
    assert (agent.name, call.type, call.parent_id) == ("agent", "llm", agent.id)


async def test_the_stream_helper_and_parse(llm: LLMServer, instrumented: list[cl.Step]) -> None:
    class Weather(BaseModel):
        city: str
        sky: str

    llm.script(Reply(["Cloudy ", "today."]), Reply('{"city": "Paris", "sky": "clear"}'))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            async with client.chat.completions.stream(
                model="gpt-4o-mini", messages=QUESTION
            ) as stream:
                async for _ in stream:
                    pass
            parsed = await client.chat.completions.parse(
                model="gpt-4o-mini", messages=QUESTION, response_format=Weather
            )
        assert parsed.choices[0].message.parsed == Weather(city="Paris", sky="clear")

    events = await events_of(await chat(main))
    helper, parse = [s for s in last_states(events).values() if s.type == "llm"]
    assert "".join(streamed(events, helper.id)) == "Cloudy today."
    assert helper.output == "Cloudy today."
    assert json.loads(parse.output) == {"city": "Paris", "sky": "clear"}
    settings = instrumented[1].generation.settings if instrumented[1].generation else {}
    assert settings["response_format"] == "Weather"


async def test_the_sync_client_in_a_sync_callback_streams_live(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Hello", usage=Usage(4, 1)), Reply(["Bon", "jour"]))

    def main(message: cl.Message) -> None:  # a sync callback: it runs in a worker thread
        with sync_client(llm) as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
            for _ in client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            ):
                pass

    events = await events_of(await chat(main))
    whole, stream = [s for s in last_states(events).values() if s.type == "llm"]
    assert (whole.status, whole.output) == ("done", "Hello")
    assert streamed(events, stream.id) != []
    assert "".join(streamed(events, stream.id)) == "Bonjour"
    assert (stream.status, stream.output) == ("done", "Bonjour")
    assert instrumented[0].generation is not None
    assert instrumented[0].generation.token_count == 5


async def test_the_sync_client_blocking_an_async_callback(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Blocking"), Reply(["Still ", "blocking"]))

    async def main(message: cl.Message) -> None:
        with sync_client(llm) as client:  # blocks the loop: shown once it returns
            client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
            for _ in client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            ):
                pass

    session = await chat(main)

    def both_done(events: list[Event]) -> bool:
        states = [s for s in last_states(events).values() if s.type == "llm"]
        return len(states) == 2 and all(s.status == "done" for s in states)

    events = await wait_for_log(session.bus, session.id, both_done)
    whole, stream = [s for s in last_states(events).values() if s.type == "llm"]
    assert (whole.output, stream.output) == ("Blocking", "Still blocking")
    message = generation(instrumented[1:]).message_completion
    assert message == {"role": "assistant", "content": "Still blocking"}


async def test_the_responses_api_whole_and_streamed(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    tool = {"type": "function", "name": "weather", "parameters": {"type": "object"}}
    llm.script(
        Reply("Let me look.", tool_calls=[ToolCall("weather", {"city": "Oslo"}, id="call_7")]),
        Reply(["Snow ", "in Oslo."], usage=Usage(20, 4)),
    )

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            first = await client.responses.create(
                model="gpt-4.1",
                instructions="Be brief.",
                input="Weather in Oslo?",
                tools=[tool],  # type: ignore[list-item]
                temperature=0.5,
            )
            call = first.output[1]
            assert call.type == "function_call"
            follow_up: Any = [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                call,
                {"type": "function_call_output", "call_id": call.call_id, "output": "snow"},
            ]
            async with client.responses.stream(model="gpt-4.1", input=follow_up) as stream:
                async for _ in stream:
                    pass

    events = await events_of(await chat(main))
    first, second = [s for s in last_states(events).values() if s.type == "llm"]
    assert first.output == "Let me look."
    assert "".join(streamed(events, second.id)) == "Snow in Oslo."
    assert (second.status, second.output) == ("done", "Snow in Oslo.")
    asked = instrumented[0].generation
    assert isinstance(asked, ChatGeneration)
    assert asked.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]
    assert asked.tools == [tool]
    assert asked.settings == {"model": "gpt-4.1", "temperature": 0.5}
    function = {"name": "weather", "arguments": '{"city": "Oslo"}'}
    call = {"id": "call_7", "type": "function", "function": function}
    assert asked.message_completion == {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [call],
    }
    answered = generation(instrumented[1:])
    assert answered.messages == [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_7", "content": "snow"},
    ]
    assert (answered.input_token_count, answered.output_token_count) == (20, 4)
    assert answered.tt_first_token is not None


async def test_an_api_error_fails_the_step_and_reaches_the_app_as_raised(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply(status=429, error="Rate limit reached for gpt-4o-mini."))
    raised: list[BaseException] = []

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            try:
                await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
            except openai.RateLimitError as error:
                raised.append(error)
                raise

    events = await events_of(await chat(main))
    assert [type(e) for e in raised] == [openai.RateLimitError]
    step = llm_step(events)
    assert step.status == "failed"
    assert "Rate limit reached for gpt-4o-mini." in step.output
    record = generation(instrumented)
    assert record.error is not None
    assert "Rate limit reached" in record.error
    assert any("Rate limit reached" in text for text in contents(events, "error"))


async def test_a_stream_cut_short_fails_the_step_and_keeps_what_came(llm: LLMServer) -> None:
    llm.script(Reply(["one ", "two ", "three"], cut_after=2))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            )
            async for _ in stream:
                pass

    events = await events_of(await chat(main))
    step = llm_step(events)
    assert (step.status, step.output) == ("failed", "one two ")
    assert len(contents(events, "error")) == 1


async def test_a_stream_the_app_stops_reading_ends_the_step(llm: LLMServer) -> None:
    llm.script(Reply(["one ", "two ", "three"]))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content == "two ":
                    break
            await stream.close()

    step = llm_step(await events_of(await chat(main)))
    assert (step.status, step.output) == ("done", "one two ")


async def test_calls_outside_a_chat_are_left_alone(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Plain."), Reply(["Plain ", "stream."]))
    async with async_client(llm) as client:
        whole = await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=QUESTION, stream=True
        )
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert whole.choices[0].message.content == "Plain."
    assert "".join(p or "" for p in pieces) == "Plain stream."
    assert instrumented == []


async def test_instrumenting_twice_makes_one_step_per_call(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    assert cl.instrument_openai is instrument_openai  # Chainlit's name, loaded on first use
    instrument_openai()
    instrument_openai()
    llm.script(Reply("Once."))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)

    states = last_states(await events_of(await chat(main)))
    assert [s.type for s in states.values()] == ["llm"]
    assert len(instrumented) == 1


async def test_a_generator_of_messages_still_reaches_the_api(
    llm: LLMServer, instrumented: list[cl.Step]
) -> None:
    llm.script(Reply("Got them."))

    async def main(message: cl.Message) -> None:
        async with async_client(llm) as client:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=(m for m in QUESTION)
            )

    await chat(main)
    assert llm.requests[0].body["messages"] == QUESTION
    assert generation(instrumented).messages == QUESTION


# -- the example --------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "19_openai" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_chats_offline_showing_each_model_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    app = load_app(str(EXAMPLE))
    example, demo_model = sys.modules["app"], sys.modules["demo_model"]
    questions = ["Why is the sky blue?", "Tips for learning the piano"]
    try:
        session = new_session(app, app.settings)
        async with asyncio.timeout(WAIT_S * 2):
            await session.start()
            for question in questions:
                await session.send_user_message(question)
        events = await events_of(session)
        sent = example.offline.requests
    finally:
        await example.client.close()
        example.offline.close()
    answers = [demo_model.answer(question) for question in questions]
    assert contents(events) == answers
    steps = [s for s in last_states(events).values() if s.type == "llm"]
    assert [(s.name, s.status, s.output) for s in steps] == [
        ("gpt-4o-mini", "done", answer) for answer in answers
    ]
    assert "".join(streamed(events, steps[1].id)) == answers[1]
    assert [m["role"] for m in json.loads(steps[1].input)] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert sent[1].body["messages"][2] == {"role": "assistant", "content": answers[0]}
