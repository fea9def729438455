"""ScriptedOpenAI: the official ``openai`` clients answered in process from a FakeModel's
script (Chat Completions and the Responses API, whole and streamed, with tool calls, errors
and pauses), and an app built on ``cl.instrument_openai()`` tested with it through
ChatClient."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.integrations.openai import instrument_openai, uninstrument_openai
from lightchat.testing import ChatClient, FakeModel, ModelReply, ScriptedOpenAI, ToolCall

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Weather in Paris?"},
]
WEATHER = ToolCall("get_weather", {"city": "Paris"}, id="call_w")


async def test_a_whole_completion_carries_the_text_or_the_tool_calls() -> None:
    api = ScriptedOpenAI(FakeModel(["Sunny.", ModelReply("Checking.", tool_calls=[WEATHER])]))
    async with api.async_client() as client:
        first = await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        second = await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert first.choices[0].message.content == "Sunny."
    assert (first.choices[0].finish_reason, first.model) == ("stop", "gpt-4o-mini")
    assert first.usage is not None
    assert first.usage.completion_tokens == 1
    (call,) = second.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert (call.id, call.function.name) == ("call_w", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert second.choices[0].finish_reason == "tool_calls"
    assert second.choices[0].message.content == "Checking."
    assert [body["messages"] for body in api.requests] == [QUESTION, QUESTION]


async def test_a_streamed_completion_comes_in_the_scripts_pieces() -> None:
    model = FakeModel([ModelReply(["It is ", "sunny."], usage=(9, 2)), [WEATHER]])
    api = ScriptedOpenAI(model)
    async with api.async_client() as client:
        stream = await client.chat.completions.create(
            model="m", messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        pieces = [c.choices[0].delta.content for c in chunks if c.choices]
        assert pieces == ["", "It is ", "sunny.", None]
        assert chunks[-1].usage is not None
        assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (9, 2)
        stream = await client.chat.completions.create(model="m", messages=QUESTION, stream=True)
        deltas = [c.choices[0].delta for c in [chunk async for chunk in stream]]
    calls = [call for delta in deltas for call in delta.tool_calls or []]
    assert (calls[0].id, calls[0].function and calls[0].function.name) == ("call_w", "get_weather")
    arguments = "".join(call.function.arguments or "" for call in calls if call.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert model.prompts == ["Weather in Paris?", "Weather in Paris?"]


async def test_failing_replies_raise_the_clients_own_errors() -> None:
    api = ScriptedOpenAI(
        FakeModel(
            [
                ModelReply(error="Rate limit reached.", status=429),
                ModelReply(error="Overloaded.", status=503),
                TimeoutError(),
                ConnectionResetError("reset"),
                ModelReply("one two three", error="The model broke off.", fail_after=2),
            ]
        )
    )
    async with api.async_client() as client:
        with pytest.raises(openai.RateLimitError, match="Rate limit reached"):
            await client.chat.completions.create(model="m", messages=QUESTION)
        with pytest.raises(openai.InternalServerError, match="Overloaded"):
            await client.chat.completions.create(model="m", messages=QUESTION)
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=QUESTION)
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="m", messages=QUESTION)
        stream = await client.chat.completions.create(model="m", messages=QUESTION, stream=True)
        got: list[str] = []

        async def read() -> None:
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")

        with pytest.raises(openai.APIError, match="The model broke off"):
            await read()
        assert "".join(got) == "one two"
        with pytest.raises(openai.NotFoundError, match="chat completions and responses only"):
            await client.embeddings.create(model="m", input="x")


async def test_the_scripts_pauses_are_kept() -> None:
    loop = asyncio.get_running_loop()
    api = ScriptedOpenAI(FakeModel(["a b c"], delay=0.01))
    async with api.async_client() as client:
        began = loop.time()
        await client.chat.completions.create(model="m", messages=QUESTION)
        assert loop.time() - began >= 0.03
        began = loop.time()
        stream = await client.chat.completions.create(model="m", messages=QUESTION, stream=True)
        async for _ in stream:
            pass
        assert loop.time() - began >= 0.03


def test_the_sync_client_gets_the_same_answers() -> None:
    api = ScriptedOpenAI(FakeModel(["Whole answer.", "Streamed answer."]))
    with api.client() as client:
        whole = client.chat.completions.create(model="m", messages=QUESTION)
        stream = client.chat.completions.create(model="m", messages=QUESTION, stream=True)
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert whole.choices[0].message.content == "Whole answer."
    assert "".join(pieces) == "Streamed answer."


@pytest.fixture
def instrumented() -> Iterator[None]:
    instrument_openai()
    yield
    uninstrument_openai()


def weather_app(api: ScriptedOpenAI) -> LightChat:
    """An app as its author writes it: the openai client with its tool loop, instrumented."""
    app = LightChat(settings=Settings())
    client = api.async_client()
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]

    @app.on_message
    async def main(message: cl.Message) -> None:
        messages: list[Any] = [{"role": "user", "content": message.content}]
        while True:
            answer = cl.Message(content="")
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=tools, stream=True
            )
            calls: dict[int, dict[str, str]] = {}
            async for chunk in stream:
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is None:
                    continue
                await answer.stream_token(delta.content or "")
                for call in delta.tool_calls or []:
                    made = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    made["id"] = call.id or made["id"]
                    if call.function:
                        made["name"] += call.function.name or ""
                        made["arguments"] += call.function.arguments or ""
            if not calls:
                await answer.send()
                return
            messages.append({"role": "assistant", "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls.values()
            ]})  # fmt: skip
            for made in calls.values():
                async with cl.Step(name=made["name"], type="tool") as tool:
                    tool.input = made["arguments"]
                    tool.output = f"{json.loads(made['arguments'])['city']}: sunny"
                messages.append(
                    {"role": "tool", "tool_call_id": made["id"], "content": tool.output}
                )

    return app


@pytest.mark.usefixtures("instrumented")
async def test_an_instrumented_app_shows_the_scripted_calls_as_steps() -> None:
    api = ScriptedOpenAI(FakeModel([WEATHER, ModelReply(["It is ", "sunny in Paris."])]))
    async with ChatClient(weather_app(api)) as chat:
        reply = await chat.send("Weather in Paris?")
    assert reply.content == "It is sunny in Paris."
    assert reply.messages[0].tokens == ["It is ", "sunny in Paris."]
    assert reply.tokens == [
        "It is ",
        "It is ",
        "sunny in Paris.",
        "sunny in Paris.",
    ]  # step, message
    assert [(s.name, s.type, s.status) for s in reply.steps] == [
        ("gpt-4o-mini", "llm", "done"),
        ("get_weather", "tool", "done"),
        ("gpt-4o-mini", "llm", "done"),
    ]
    first, tool, second = reply.steps
    assert tool.output == "Paris: sunny"
    assert first.generation is not None
    assert first.generation["provider"] == "openai"
    assert first.generation["messageCompletion"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )
    assert second.output == "It is sunny in Paris."
    assert second.tokens == ["It is ", "sunny in Paris."]
    assert json.loads(second.input)[-1] == {
        "role": "tool",
        "tool_call_id": "call_w",
        "content": "Paris: sunny",
    }
    assert api.requests[1]["messages"][-1]["content"] == "Paris: sunny"


@pytest.mark.usefixtures("instrumented")
async def test_an_api_error_fails_the_step_and_shows_in_the_chat() -> None:
    api = ScriptedOpenAI(FakeModel([ModelReply(error="Rate limit reached.", status=429)]))
    async with ChatClient(weather_app(api)) as chat:
        reply = await chat.send("Weather?")
    (step,) = reply.steps
    assert (step.type, step.status) == ("llm", "failed")
    (error,) = reply.errors
    assert isinstance(error.exception, openai.RateLimitError)
    assert "Rate limit reached." in reply.messages[-1].content


# -- the Responses API ------------------------------------------------------------------


class Forecast(BaseModel):
    city: str
    sky: str


async def test_a_whole_response_carries_the_text_and_the_function_calls() -> None:
    model = FakeModel(["Sunny.", ModelReply("Checking.", tool_calls=[WEATHER], usage=(7, 3))])
    api = ScriptedOpenAI(model)
    async with api.async_client() as client:
        first = await client.responses.create(
            model="gpt-4.1-mini", instructions="Answer briefly.", input="Weather in Paris?"
        )
        second = await client.responses.create(
            model="gpt-4.1-mini", input=[{"role": "user", "content": "And now?"}]
        )
    assert (first.output_text, first.model, first.status) == ("Sunny.", "gpt-4.1-mini", "completed")
    assert first.usage is not None
    assert first.usage.output_tokens == 1
    message, call = second.output
    assert message.type == "message"
    assert second.output_text == "Checking."
    assert call.type == "function_call"
    assert (call.call_id, call.name) == ("call_w", "get_weather")
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert second.usage is not None
    assert (second.usage.input_tokens, second.usage.output_tokens) == (7, 3)
    assert model.prompts == ["Weather in Paris?", "And now?"]
    assert api.requests[0]["instructions"] == "Answer briefly."


async def test_a_streamed_response_sends_the_apis_events() -> None:
    api = ScriptedOpenAI(FakeModel([ModelReply(["It is ", "sunny."]), [WEATHER]]))
    async with api.async_client() as client:
        stream = await client.responses.create(model="m", input="Weather?", stream=True)
        events = [event async for event in stream]
        stream = await client.responses.create(model="m", input="Weather?", stream=True)
        calls = [event async for event in stream]
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["It is ", "sunny."]
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "It is sunny."
    arguments = "".join(
        e.delta for e in calls if e.type == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments) == {"city": "Paris"}
    assert calls[-1].type == "response.completed"
    (call,) = calls[-1].response.output
    assert call.type == "function_call"
    assert (call.call_id, call.name, call.arguments) == ("call_w", "get_weather", arguments)


async def test_the_stream_and_parse_helpers_work_off_the_same_answers() -> None:
    script = FakeModel(
        [
            ModelReply(["Sunny ", "day."]),
            '{"city": "Paris", "sky": "clear"}',
            ModelReply(["A ", "b."]),
        ]
    )
    api = ScriptedOpenAI(script)
    async with api.async_client() as client:
        async with client.responses.stream(model="m", input="Weather?") as stream:
            texts = [e.delta async for e in stream if e.type == "response.output_text.delta"]
            final = await stream.get_final_response()
        parsed = await client.responses.parse(model="m", input="Weather?", text_format=Forecast)
    assert texts == ["Sunny ", "day."]
    assert final.output_text == "Sunny day."
    assert parsed.output_parsed == Forecast(city="Paris", sky="clear")
    with api.client() as sync, sync.responses.stream(model="m", input="Weather?") as streamed:
        assert streamed.get_final_response().output_text == "A b."


def test_a_function_call_round_trip_on_the_sync_client() -> None:
    model = FakeModel([WEATHER, "Sunny in Paris."])
    api = ScriptedOpenAI(model)
    with api.client() as client:
        given: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.responses.create(model="m", input=given)
        for item in first.output:
            if item.type == "function_call":
                given += [
                    item.model_dump(exclude_none=True),
                    {"type": "function_call_output", "call_id": item.call_id, "output": "sunny"},
                ]
        second = client.responses.create(model="m", input=given)
    assert second.output_text == "Sunny in Paris."
    sent = api.requests[1]["input"]
    assert [item.get("type", "message") for item in sent] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    assert sent[2] == {"type": "function_call_output", "call_id": "call_w", "output": "sunny"}
    assert model.prompts == ["Weather in Paris?", "Weather in Paris?"]


async def test_failing_responses_raise_the_clients_errors_or_fail_the_stream() -> None:
    api = ScriptedOpenAI(
        FakeModel(
            [
                ModelReply(error="Rate limit reached.", status=429),
                TimeoutError(),
                ModelReply("one two three", error="The model broke off.", fail_after=2),
            ]
        )
    )
    async with api.async_client() as client:
        with pytest.raises(openai.RateLimitError, match="Rate limit reached"):
            await client.responses.create(model="m", input="Hi")
        with pytest.raises(openai.APITimeoutError):
            await client.responses.create(model="m", input="Hi")
        stream = await client.responses.create(model="m", input="Hi", stream=True)
        events = [event async for event in stream]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["one", " two"]
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed"
    assert last.response.error is not None
    assert last.response.error.message == "The model broke off."


def responses_app(api: ScriptedOpenAI) -> LightChat:
    """An app on the Responses API, streamed, with its tool loop, instrumented."""
    app = LightChat(settings=Settings())
    client = api.async_client()
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {}}]

    @app.on_message
    async def main(message: cl.Message) -> None:
        given: list[Any] = [{"role": "user", "content": message.content}]
        while True:
            answer = cl.Message(content="")
            stream = await client.responses.create(
                model="gpt-4.1-mini", input=given, tools=tools, stream=True
            )
            calls: list[Any] = []
            async for event in stream:
                if event.type == "response.output_text.delta":
                    await answer.stream_token(event.delta)
                elif event.type == "response.output_item.done" and (
                    event.item.type == "function_call"
                ):
                    calls.append(event.item)
            if not calls:
                await answer.send()
                return
            for call in calls:
                given.append(call.model_dump(exclude_none=True))
                async with cl.Step(name=call.name, type="tool") as tool:
                    tool.input = call.arguments
                    tool.output = f"{json.loads(call.arguments)['city']}: sunny"
                given.append(
                    {"type": "function_call_output", "call_id": call.call_id, "output": tool.output}
                )

    return app


@pytest.mark.usefixtures("instrumented")
async def test_an_instrumented_app_on_the_responses_api_shows_its_steps() -> None:
    api = ScriptedOpenAI(FakeModel([WEATHER, ModelReply(["It is ", "sunny in Paris."])]))
    async with ChatClient(responses_app(api)) as chat:
        reply = await chat.send("Weather in Paris?")
    assert reply.content == "It is sunny in Paris."
    assert [(s.name, s.type, s.status) for s in reply.steps] == [
        ("gpt-4.1-mini", "llm", "done"),
        ("get_weather", "tool", "done"),
        ("gpt-4.1-mini", "llm", "done"),
    ]
    first, tool, second = reply.steps
    assert tool.output == "Paris: sunny"
    assert first.generation is not None
    assert first.generation["provider"] == "openai"
    assert first.generation["messageCompletion"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )
    assert second.output == "It is sunny in Paris."
    assert second.tokens == ["It is ", "sunny in Paris."]
    assert json.loads(second.input)[-1] == {
        "role": "tool",
        "tool_call_id": "call_w",
        "content": "Paris: sunny",
    }
    assert api.requests[1]["input"][-1]["output"] == "Paris: sunny"
