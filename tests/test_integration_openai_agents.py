"""The OpenAI Agents SDK in a chat (``cl.instrument_openai_agents``): real agents, tools,
guardrails and hand-offs run by the SDK's ``Runner``, answered by a scripted model
(``ScriptedModel``, from lightchat.integrations.openai_agents_testing, which records its
calls in spans as the SDK's own models do: a Chat Completions model's generation span, a
Responses model's response span when streamed). Each span of a run made in a chat becomes
a step, nested as the run goes; errors fail their step and the chat goes on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    ModelSettings,
    RunContextWrapper,
    Runner,
    TResponseInputItem,
    function_tool,
    input_guardrail,
)
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from agents.tracing import set_trace_processors
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

import lightchat as cl
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import MessageData, StepData, TokenEvent
from lightchat.integrations.openai_agents import StepTracingProcessor, instrument_openai_agents
from lightchat.integrations.openai_agents_testing import Reply, ScriptedModel
from tests.helpers import WAIT_S, contents, events_of, new_session, steps_in
from tests.llm_server import LLMServer, ToolCall, Usage
from tests.llm_server import Reply as ServerReply

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MODEL = "scripted-model"


@pytest.fixture(autouse=True)
def steps_only() -> None:
    """Spans go to lightchat's processor only: the SDK's own would export them to OpenAI."""
    set_trace_processors([StepTracingProcessor()])


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def tell_the_model(context: RunContextWrapper[Any], error: Exception) -> str:
    return f"The tool failed: {error}"


@function_tool(failure_error_function=tell_the_model)
def get_forecast(city: str) -> str:
    """Tomorrow's weather in a city (its service is down)."""
    raise RuntimeError(f"the forecast service for {city} is down")


@function_tool
def get_pollen(city: str) -> str:
    """The pollen count in a city (its service is down)."""
    raise RuntimeError(f"the pollen service for {city} is down")


@cl.step(type="tool", name="lookup")
async def lookup(city: str) -> str:
    return f"{city} has 3 parks"


@function_tool
async def parks(city: str) -> str:
    """The parks of a city."""
    return await lookup(city)


@input_guardrail
async def polite(
    context: RunContextWrapper[None], agent: Agent[None], input: str | list[TResponseInputItem]
) -> GuardrailFunctionOutput:
    rude = "stupid" in str(input)
    return GuardrailFunctionOutput(output_info={"rude": rude}, tripwire_triggered=rude)


Handler = Callable[[Message], Coroutine[Any, Any, None]]


async def chat_with(handler: Handler, *questions: str) -> ChatSession:
    app = LightChat()
    app.on_message(handler)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S * 2):  # the first call of a kind imports its types
        for question in questions:
            await session.send_user_message(question)
    return session


def final_steps(session: ChatSession) -> list[StepData]:
    return [item for item in session.transcript.items.values() if isinstance(item, StepData)]


def answers(session: ChatSession) -> list[MessageData]:
    items = session.transcript.items.values()
    return [m for m in items if isinstance(m, MessageData) and m.type == "assistant_message"]


def triage_agents(*triage: Reply, spanish: tuple[Reply, ...] = ()) -> Agent[None]:
    spanish_agent = Agent[None](
        name="Spanish", instructions="Answer in Spanish.", model=ScriptedModel(*spanish)
    )
    return Agent[None](
        name="Triage",
        instructions="Hand Spanish speakers over.",
        model=ScriptedModel(*triage),
        model_settings=ModelSettings(temperature=0.2),
        tools=[get_weather, get_forecast, get_pollen, parks],
        handoffs=[spanish_agent],
        input_guardrails=[polite],
    )


async def test_a_run_shows_its_agents_model_calls_tools_guardrail_and_hand_off_nested() -> None:
    agent = triage_agents(
        [("get_weather", {"city": "Paris"})],
        [("transfer_to_spanish", {})],
        spanish=("Hace sol en París.",),
    )

    async def answer(message: Message) -> None:
        result = await Runner.run(agent, message.content)
        await cl.Message(content=str(result.final_output)).send()

    session = await chat_with(answer, "Weather in Paris, in Spanish?")
    steps = final_steps(session)
    by_id = {step.id: step for step in steps}

    def path(step: StepData) -> str:
        names = [step.name]
        while step.parent_id is not None:
            step = by_id[step.parent_id]
            names.insert(0, step.name)
        return " / ".join(names)

    assert [path(step) for step in steps] == [
        "Agent workflow",
        "Agent workflow / Triage",
        "Agent workflow / Triage / polite",
        f"Agent workflow / Triage / {MODEL}",
        "Agent workflow / Triage / get_weather",
        f"Agent workflow / Triage / {MODEL}",
        "Agent workflow / Triage / Triage → Spanish",
        "Agent workflow / Spanish",
        f"Agent workflow / Spanish / {MODEL}",
    ]
    assert all(step.status == "done" for step in steps)
    workflow, triage, guardrail, first_call, tool, second_call, handoff, _, last_call = steps
    assert [s.type for s in (workflow, triage, guardrail, first_call, tool, handoff)] == [
        "run", "run", "undefined", "llm", "tool", "tool",
    ]  # fmt: skip
    assert json.loads(guardrail.output) == {"triggered": False}
    assert json.loads(tool.input) == {"city": "Paris"}
    assert tool.output == "sunny in Paris"
    assert json.loads(first_call.output)[0]["function"]["name"] == "get_weather"
    assert last_call.output == "Hace sol en París."
    generation = first_call.generation
    assert generation is not None
    assert generation["model"] == MODEL
    assert generation["settings"]["temperature"] == 0.2
    assert generation["messages"][:2] == [
        {"role": "system", "content": "Hand Spanish speakers over."},
        {"role": "user", "content": "Weather in Paris, in Spanish?"},
    ]
    assert generation["messageCompletion"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    # The scripted model counts words: 4 + 5 in the prompt, the call and its 2 in the answer.
    assert (generation["inputTokenCount"], generation["outputTokenCount"]) == (9, 3)
    assert generation["tokenCount"] == 12
    second = second_call.generation
    assert second is not None
    call_id = generation["messageCompletion"]["tool_calls"][0]["id"]
    assert {"role": "tool", "tool_call_id": call_id, "content": "sunny in Paris"} in second[
        "messages"
    ]
    assert [a.content for a in answers(session)] == ["Hace sol en París."]


async def test_each_step_shows_running_as_soon_as_its_span_starts() -> None:
    agent = triage_agents([("get_weather", {"city": "Rome"})], "Sunny in Rome.")

    async def answer(message: Message) -> None:
        result = await Runner.run(agent, message.content)
        await cl.Message(content=str(result.final_output)).send()

    session = await chat_with(answer, "Rome?")
    shown = steps_in(await events_of(session))
    tool = next(s for s in shown if s.name == "get_weather")
    agent_step = next(s for s in shown if s.name == "Triage")
    states = [(s.id, s.status) for s in shown]
    # The agent's step showed running before its tool ran, and ended after it.
    assert states.index((agent_step.id, "running")) < states.index((tool.id, "running"))
    assert states.index((tool.id, "done")) < states.index((agent_step.id, "done"))


async def test_a_streamed_run_shows_the_responses_call_with_its_generation() -> None:
    agent = triage_agents([("get_weather", {"city": "Lima"})], "It is sunny in Lima.")

    async def answer(message: Message) -> None:
        result = Runner.run_streamed(agent, message.content)
        reply = cl.Message(content="")
        async for event in result.stream_events():
            if event.type == "raw_response_event" and isinstance(
                event.data, ResponseTextDeltaEvent
            ):
                await reply.stream_token(event.data.delta)
        await reply.send()

    session = await chat_with(answer, "Lima?")
    calls = [step for step in final_steps(session) if step.type == "llm"]
    assert [call.name for call in calls] == [MODEL, MODEL]
    generation = calls[1].generation
    assert generation is not None
    assert generation["provider"] == "openai"
    assert generation["messages"][0] == {"role": "user", "content": "Lima?"}
    assert generation["messageCompletion"] == {
        "role": "assistant",
        "content": "It is sunny in Lima.",
    }
    assert generation["outputTokenCount"] == 5  # words
    assert generation["tokenCount"] == generation["inputTokenCount"] + 5
    assert calls[1].output == "It is sunny in Lima."
    assert [a.content for a in answers(session)] == ["It is sunny in Lima."]


async def test_a_tool_that_raises_fails_its_step_and_the_model_answers_anyway() -> None:
    agent = triage_agents([("get_forecast", {"city": "Oslo"})], "No forecast today, sorry.")

    async def answer(message: Message) -> None:
        result = await Runner.run(agent, message.content)
        await cl.Message(content=str(result.final_output)).send()

    session = await chat_with(answer, "Forecast for Oslo?")
    (tool,) = [step for step in final_steps(session) if step.name == "get_forecast"]
    assert tool.status == "failed"
    # What the model was told, and the error's own text, which the SDK keeps in its trace
    # for a tool with its own failure_error_function.
    assert tool.output.startswith("The tool failed: the forecast service for Oslo is down")
    assert tool.output.endswith("the forecast service for Oslo is down")
    assert [a.content for a in answers(session)] == ["No forecast today, sorry."]


async def test_a_tool_whose_error_the_sdk_redacts_still_fails_its_step() -> None:
    agent = triage_agents([("get_pollen", {"city": "Bern"})], "No pollen count today.")

    async def answer(message: Message) -> None:
        result = await Runner.run(agent, message.content)
        await cl.Message(content=str(result.final_output)).send()

    session = await chat_with(answer, "Pollen in Bern?")
    (tool,) = [step for step in final_steps(session) if step.name == "get_pollen"]
    assert tool.status == "failed"
    assert "pollen service" not in tool.output  # the SDK keeps the details out of its trace
    assert [a.content for a in answers(session)] == ["No pollen count today."]


async def test_a_tripped_guardrail_fails_its_step_shows_the_error_and_the_chat_goes_on() -> None:
    agent = triage_agents("Fine, thanks.")

    async def answer(message: Message) -> None:
        result = await Runner.run(agent, message.content)
        await cl.Message(content=str(result.final_output)).send()

    session = await chat_with(answer, "you stupid bot", "How are you?")
    guardrails = [step for step in final_steps(session) if step.name == "polite"]
    assert [(g.status, json.loads(g.output)) for g in guardrails] == [
        ("failed", {"triggered": True}),
        ("done", {"triggered": False}),
    ]
    errors = contents(await events_of(session), "error")
    assert len(errors) == 1
    assert InputGuardrailTripwireTriggered.__name__ in errors[0]
    assert [a.content for a in answers(session)] == ["Fine, thanks."]
    assert all(step.status != "running" for step in final_steps(session))


async def test_a_step_the_tool_opens_nests_in_the_tools_step() -> None:
    agent = triage_agents([("parks", {"city": "Vienna"})], "Vienna has 3 parks.")

    async def answer(message: Message) -> None:
        result = await Runner.run(agent, message.content)
        await cl.Message(content=str(result.final_output)).send()

    session = await chat_with(answer, "Parks in Vienna?")
    steps = final_steps(session)
    tool = next(step for step in steps if step.name == "parks")
    inner = next(step for step in steps if step.name == "lookup")
    assert inner.parent_id == tool.id
    assert tool.output == "Vienna has 3 parks"
    (reply,) = answers(session)
    assert reply.parent_id is None  # the app's own message is outside every step


async def test_runs_outside_a_chat_show_nothing_and_run_as_usual() -> None:
    agent = triage_agents("Hello.")
    result = await Runner.run(agent, "Hi")
    assert result.final_output == "Hello."


def test_instrument_openai_agents_is_cl_instrument_openai_agents_and_runs_once() -> None:
    assert cl.instrument_openai_agents is instrument_openai_agents
    instrument_openai_agents()
    instrument_openai_agents()  # a second call changes nothing
    set_trace_processors([StepTracingProcessor()])  # back to this module's one processor


async def test_the_scripted_model_repeats_its_last_reply_and_raises_its_errors() -> None:
    model = ScriptedModel(lambda items: f"{len(items)} items", "Again.", name="m")
    agent = Agent[None](name="A", model=model)
    outputs = [(await Runner.run(agent, "Hi")).final_output for _ in range(3)]
    assert outputs == ["1 items", "Again.", "Again."]
    assert model.inputs[0] == [{"content": "Hi", "role": "user"}]
    failing = Agent[None](name="F", model=ScriptedModel(ConnectionError("the API is down")))
    with pytest.raises(ConnectionError, match="the API is down"):
        await Runner.run(failing, "Hi")


# -- the example -------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "22_openai_agents" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_answers_offline_showing_its_agents_tools_and_hand_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = load_app(str(EXAMPLE))
    session = new_session(app, app.settings)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("What's the weather in Paris?")
        await session.send_user_message("¿Qué tiempo hace en Lima?")
    steps = final_steps(session)
    names = [step.name for step in steps]
    assert names == [
        "Agent workflow", "Weather", MODEL, "get_weather", MODEL,
        "Agent workflow", "Weather", MODEL, "Weather → Spanish", "Spanish", MODEL,
        "get_weather", MODEL,
    ]  # fmt: skip
    assert all(step.status == "done" for step in steps)  # each shown once, and ended
    assert [a.content for a in answers(session)] == [
        "Here is the weather. Paris: sunny, 21 °C.",
        "Este es el tiempo: Lima: overcast, 17 °C.",
    ]
    events = await events_of(session)
    first = answers(session)[0]
    assert any(isinstance(e, TokenEvent) and e.id == first.id for e in events)  # streamed


# -- the SDK's own OpenAI models, against the scripted API server -----------------------------


def openai_client(llm: LLMServer) -> AsyncOpenAI:
    """An OpenAI client of the scripted server (close it: ``async with``)."""
    return AsyncOpenAI(base_url=llm.openai_url, api_key="test", max_retries=0)


async def test_the_sdks_chat_completions_model_shows_its_generation_span() -> None:
    with LLMServer() as llm:
        llm.script(
            ServerReply(tool_calls=[ToolCall("get_weather", {"city": "Rome"})], usage=Usage(30, 6)),
            ServerReply("Sunny in Rome.", usage=Usage(42, 4)),
        )
        async with openai_client(llm) as client:
            model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
            agent = Agent[None](
                name="Weather", instructions="Be brief.", tools=[get_weather], model=model
            )

            async def answer(message: Message) -> None:
                result = await Runner.run(agent, message.content)
                await cl.Message(content=str(result.final_output)).send()

            session = await chat_with(answer, "Rome?")
    calls = [step for step in final_steps(session) if step.type == "llm"]
    assert [(c.name, c.status) for c in calls] == [("gpt-4o-mini", "done")] * 2
    first, second = (call.generation for call in calls)
    assert first is not None
    assert second is not None
    assert first["model"] == "gpt-4o-mini"
    assert first["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Rome?"},
    ]
    (tool_call,) = first["messageCompletion"]["tool_calls"]
    assert tool_call["function"]["name"] == "get_weather"
    assert (first["inputTokenCount"], first["outputTokenCount"]) == (30, 6)
    assert second["messageCompletion"]["content"] == "Sunny in Rome."
    assert calls[1].output == "Sunny in Rome."
    assert [a.content for a in answers(session)] == ["Sunny in Rome."]


async def test_the_sdks_responses_model_streamed_shows_its_response_span() -> None:
    with LLMServer() as llm:
        llm.script(
            ServerReply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})], usage=Usage(25, 5)),
            ServerReply("Snow in Oslo.", usage=Usage(40, 4)),
        )
        async with openai_client(llm) as client:
            model = OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client)
            agent = Agent[None](name="Weather", tools=[get_weather], model=model)

            async def answer(message: Message) -> None:
                result = Runner.run_streamed(agent, message.content)
                reply = cl.Message(content="")
                async for event in result.stream_events():
                    data = event.data if event.type == "raw_response_event" else None
                    if isinstance(data, ResponseTextDeltaEvent):
                        await reply.stream_token(data.delta)
                await reply.send()

            session = await chat_with(answer, "Oslo?")
    calls = [step for step in final_steps(session) if step.type == "llm"]
    assert [(c.name, c.status) for c in calls] == [("gpt-4o-mini", "done")] * 2
    generation = calls[1].generation
    assert generation is not None
    assert generation["provider"] == "openai"
    assert generation["messages"][0] == {"role": "user", "content": "Oslo?"}
    assert {"role": "tool", "content": "sunny in Oslo"} in [
        {k: m.get(k) for k in ("role", "content")} for m in generation["messages"]
    ]
    assert generation["messageCompletion"] == {"role": "assistant", "content": "Snow in Oslo."}
    assert (generation["inputTokenCount"], generation["outputTokenCount"]) == (40, 4)
    assert [a.content for a in answers(session)] == ["Snow in Oslo."]
