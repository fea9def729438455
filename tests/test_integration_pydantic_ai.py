"""Pydantic AI in a chat (``cl.PydanticAISteps``): real agents and tools, answered by
Pydantic AI's own test models (``FunctionModel`` scripted here, ``TestModel``): a run is
a step, holding a step per model request (its text streamed in live, its generation
recorded) and per tool call; errors fail their steps and the chat goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.models.test import TestModel

import lightchat as cl
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import MessageData, StepData, TokenEvent
from lightchat.integrations.pydantic_ai import PydanticAISteps
from tests.helpers import WAIT_S, contents, events_of, new_session, steps_in

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

Handler = Callable[[Message], Coroutine[Any, Any, None]]


async def chat_with(handler: Handler, *questions: str) -> ChatSession:
    app = LightChat()
    app.on_message(handler)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        for question in questions:
            await session.send_user_message(question)
    return session


def final_steps(session: ChatSession) -> list[StepData]:
    return [item for item in session.transcript.items.values() if isinstance(item, StepData)]


def answers(session: ChatSession) -> list[MessageData]:
    items = session.transcript.items.values()
    return [m for m in items if isinstance(m, MessageData) and m.type == "assistant_message"]


def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def forecast(city: str) -> str:
    """Tomorrow's weather in a city (its service is down)."""
    raise RuntimeError(f"the forecast service for {city} is down")


def pollen(city: str) -> str:
    """The pollen count in a city: asks for a country first."""
    if "," not in city:
        raise ModelRetry("Give the city with its country, as 'Bern, CH'.")
    return f"low in {city}"


def tool_returned(messages: list[ModelMessage]) -> bool:
    return any(part.part_kind == "tool-return" for m in messages for part in m.parts)


async def stream_weather(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls]:
    """A streaming model: calls the weather tool, then writes its answer word by word."""
    if not tool_returned(messages):
        yield {0: DeltaToolCall(name="weather", json_args='{"city": "Paris"}', tool_call_id="c1")}
        return
    for word in ["It ", "is ", "sunny ", "in ", "Paris."]:
        yield word


def weather_agent(**kwargs: Any) -> Agent[None, str]:
    return Agent(
        FunctionModel(stream_function=stream_weather, model_name="scripted"),
        name="forecaster",
        instructions="Say what the weather is.",
        tools=[weather],
        **kwargs,
    )


async def test_a_run_is_a_step_holding_its_model_requests_and_tool_calls() -> None:
    agent = weather_agent(capabilities=[PydanticAISteps()])

    async def answer(message: Message) -> None:
        result = await agent.run(message.content)
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "Weather in Paris?")
    run, first, tool, second = final_steps(session)
    assert (run.name, run.type, run.status, run.parent_id) == ("forecaster", "run", "done", None)
    assert (run.input, run.output) == ("Weather in Paris?", "It is sunny in Paris.")
    assert [(s.name, s.type, s.parent_id) for s in (first, tool, second)] == [
        ("scripted", "llm", run.id),
        ("weather", "tool", run.id),
        ("scripted", "llm", run.id),
    ]
    assert tool.input == '{\n  "city": "Paris"\n}'
    assert tool.output == "sunny in Paris"
    assert first.input == "Weather in Paris?"
    assert second.output == "It is sunny in Paris."
    assert all(step.status == "done" for step in (first, tool, second))
    assert [a.content for a in answers(session)] == ["It is sunny in Paris."]

    generation = first.generation
    assert generation is not None
    assert (generation["provider"], generation["model"]) == ("function", "scripted")
    assert generation["messages"] == [
        {"role": "system", "content": "Say what the weather is."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    (call,) = generation["messageCompletion"]["tool_calls"]
    assert call["function"] == {"name": "weather", "arguments": '{"city":"Paris"}'}
    assert generation["tools"][0]["function"]["name"] == "weather"
    assert generation["inputTokenCount"] > 0
    answered = second.generation
    assert answered is not None
    assert {"role": "tool", "tool_call_id": "c1", "content": "sunny in Paris"} in answered[
        "messages"
    ]
    assert answered["messageCompletion"] == {
        "role": "assistant",
        "content": "It is sunny in Paris.",
    }
    assert answered["ttFirstToken"] is not None


async def test_the_answer_streams_into_its_step_before_the_step_ends() -> None:
    agent = weather_agent(capabilities=[PydanticAISteps()])

    async def answer(message: Message) -> None:
        result = await agent.run(message.content)
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "Weather?")
    second = final_steps(session)[-1]
    events = await events_of(session)
    tokens = [
        (i, e.delta)
        for i, e in enumerate(events)
        if isinstance(e, TokenEvent) and e.id == second.id
    ]
    assert "".join(delta for _, delta in tokens).endswith("in Paris.")
    done = next(i for i, e in enumerate(events) if getattr(e, "step", None) == second)
    assert tokens[0][0] < done


async def test_the_capability_given_to_one_run_and_test_models_answer() -> None:
    agent = Agent(TestModel(), name="tester", tools=[weather])

    async def answer(message: Message) -> None:
        result = await agent.run(message.content, capabilities=[PydanticAISteps()])
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "hi")
    names = [(step.name, step.type) for step in final_steps(session)]
    assert names == [("tester", "run"), ("test", "llm"), ("weather", "tool"), ("test", "llm")]
    tool = final_steps(session)[2]
    assert tool.output == "sunny in a"  # TestModel's argument for a string
    assert answers(session)[0].content == '{"weather":"sunny in a"}'


async def test_a_tool_that_raises_fails_its_steps_shows_the_error_and_the_chat_goes_on() -> None:
    async def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if "Oslo" in str(messages[-1]) and not tool_returned(messages):
            return ModelResponse(parts=[ToolCallPart("forecast", {"city": "Oslo"})])
        return ModelResponse(parts=[TextPart("Fine, thanks.")])

    agent = Agent(FunctionModel(model), name="forecaster", tools=[forecast])
    agent_steps = PydanticAISteps(stream=False)  # a FunctionModel without a stream function

    async def answer(message: Message) -> None:
        result = await agent.run(message.content, capabilities=[agent_steps])
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "Forecast for Oslo?", "How are you?")
    steps = final_steps(session)
    failed_run, _, tool, next_run, _ = steps
    assert (tool.name, tool.status) == ("forecast", "failed")
    assert tool.output == "the forecast service for Oslo is down"
    assert failed_run.status == "failed"
    assert next_run.status == "done"
    errors = contents(await events_of(session), "error")
    assert errors == ["RuntimeError: the forecast service for Oslo is down"]
    assert [a.content for a in answers(session)] == ["Fine, thanks."]


async def test_a_model_that_fails_fails_its_step_and_its_run() -> None:
    async def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise ConnectionError("the model is unreachable")

    agent = Agent(FunctionModel(model), name="broken", capabilities=[PydanticAISteps(stream=False)])

    async def answer(message: Message) -> None:
        await agent.run(message.content)

    session = await chat_with(answer, "hello")
    run, request = final_steps(session)
    assert (run.status, request.status) == ("failed", "failed")
    assert request.output == "the model is unreachable"
    assert contents(await events_of(session), "error") == [
        "ConnectionError: the model is unreachable"
    ]


async def test_a_tool_asking_to_retry_fails_only_its_step() -> None:
    async def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answered = sum(isinstance(m, ModelResponse) for m in messages)
        if answered < 2:
            city = "Bern" if answered == 0 else "Bern, CH"  # told to retry with the country
            return ModelResponse(parts=[ToolCallPart("pollen", {"city": city})])
        return ModelResponse(parts=[TextPart("Pollen is low in Bern.")])

    agent = Agent(
        FunctionModel(model),
        name="pollen",
        tools=[pollen],
        capabilities=[PydanticAISteps(stream=False)],
    )

    async def answer(message: Message) -> None:
        result = await agent.run(message.content)
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "Pollen in Bern?")
    tools = [step for step in final_steps(session) if step.type == "tool"]
    assert [(t.status, t.output) for t in tools] == [
        ("failed", "Give the city with its country, as 'Bern, CH'."),
        ("done", "low in Bern, CH"),
    ]
    assert final_steps(session)[0].status == "done"
    second = [step for step in final_steps(session) if step.type == "llm"][1]
    assert second.generation is not None
    retry = second.generation["messages"][-1]  # what the model was told
    assert retry["role"] == "tool"
    assert "Give the city with its country" in retry["content"]
    assert [a.content for a in answers(session)] == ["Pollen is low in Bern."]


async def test_an_agent_a_tool_delegates_to_shows_its_run_inside_the_tools_step() -> None:
    steps = PydanticAISteps(stream=False)
    researcher = Agent(
        TestModel(custom_output_text="Paris is sunny."), name="researcher", capabilities=[steps]
    )

    async def research(ctx: RunContext[None], question: str) -> str:
        """Ask the researcher."""
        result = await researcher.run(question, usage=ctx.usage)
        return result.output

    async def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if not tool_returned(messages):
            return ModelResponse(parts=[ToolCallPart("research", {"question": "Paris?"})])
        return ModelResponse(parts=[TextPart("The researcher says: Paris is sunny.")])

    lead = Agent(FunctionModel(model), name="lead", tools=[research], capabilities=[steps])

    async def answer(message: Message) -> None:
        result = await lead.run(message.content)
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "Weather?")
    by_name = {step.name: step for step in final_steps(session)}
    assert by_name["research"].parent_id == by_name["lead"].id
    assert by_name["researcher"].parent_id == by_name["research"].id
    assert by_name["researcher"].output == "Paris is sunny."
    assert [a.content for a in answers(session)] == ["The researcher says: Paris is sunny."]


async def test_runs_outside_a_chat_run_as_usual() -> None:
    agent = weather_agent(capabilities=[PydanticAISteps()])
    result = await agent.run("Weather?")
    assert result.output == "It is sunny in Paris."


def test_cl_pydantic_ai_steps_is_the_capability() -> None:
    assert cl.PydanticAISteps is PydanticAISteps


async def test_every_step_was_shown_running_first() -> None:
    agent = weather_agent(capabilities=[PydanticAISteps()])

    async def answer(message: Message) -> None:
        result = await agent.run(message.content)
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "Weather?")
    shown = steps_in(await events_of(session))
    first_states: dict[str, str] = {}
    for step in shown:
        first_states.setdefault(step.id, step.status)
    assert set(first_states.values()) == {"running"}
    assert len(first_states) == 4


# -- the example -------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "23_pydantic_ai" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_answers_offline_showing_its_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = load_app(str(EXAMPLE))
    session = new_session(app, app.settings)
    async with asyncio.timeout(WAIT_S):
        await session.start()
        await session.send_user_message("What's the weather in Paris?")
        await session.send_user_message("And in Oslo?")
    steps = final_steps(session)
    assert [(s.name, s.type, s.status) for s in steps] == [
        ("weather", "run", "done"),
        ("scripted-model", "llm", "done"),
        ("get_weather", "tool", "done"),
        ("scripted-model", "llm", "done"),
    ] * 2
    assert steps[2].output == "Paris: sunny, 21 °C"
    assert [a.content.strip() for a in answers(session)] == [
        "Here is the weather. Paris: sunny, 21 °C.",
        "Here is the weather. Oslo: snowing, -3 °C.",
    ]
    second_request = steps[5].generation
    assert second_request is not None
    # The second question carries on the conversation of the first.
    assert second_request["messages"][1] == {
        "role": "user",
        "content": "What's the weather in Paris?",
    }
    events = await events_of(session)
    first = answers(session)[0]
    assert any(isinstance(e, TokenEvent) and e.id == first.id for e in events)  # streamed


async def test_a_nameless_agents_run_goes_by_its_models_name() -> None:
    async def answer(message: Message) -> None:
        result = await Agent(TestModel(), capabilities=[PydanticAISteps()]).run(message.content)
        await cl.Message(content=result.output).send()

    session = await chat_with(answer, "hi")
    assert [(s.name, s.type) for s in final_steps(session)] == [("test", "run"), ("test", "llm")]
