"""The OpenAI Agents SDK in a chat (``cl.instrument_openai_agents``): real agents, tools,
guardrails and hand-offs run by the SDK's ``Runner``, answered by a scripted model
(``ScriptedModel``, below: an ``agents.models.interface.Model`` that records its calls in
spans as the SDK's own models do: a Chat Completions model's generation span, a Responses
model's response span when streamed). Each span of a run made in a chat becomes a step,
nested as the run goes; errors fail their step and the chat goes on."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
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
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.chatcmpl_converter import Converter
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.tracing import generation_span, response_span, set_trace_processors
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

import lightchat as cl
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.chat.session import ChatSession
from lightchat.domain.events import MessageData, StepData
from lightchat.integrations.openai_agents import StepTracingProcessor, instrument_openai_agents
from tests.helpers import WAIT_S, contents, events_of, new_session, steps_in

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

Reply = str | list[tuple[str, dict[str, Any]]] | BaseException
"""One scripted answer: text, the tools to call (name, arguments), or an error."""

MODEL = "scripted-model"


class ScriptedModel(Model):
    """A model that answers from a script, recording each call in a span as the SDK's
    models do: a generation span (Chat Completions' shape) for a plain call, a response
    span (the Responses API's) for a streamed one, whose text it streams word by word."""

    calls = itertools.count()  # a tool call's id is unique in a run, as a real model's

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def _next(self) -> str | list[tuple[str, dict[str, Any]]]:
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        messages: list[Any] = list(Converter.items_to_messages(input))
        if system_instructions:
            messages.insert(0, {"role": "system", "content": system_instructions})
        with generation_span(
            model=MODEL, model_config={"temperature": 0.2}, input=messages
        ) as span:
            output = _output(self._next())
            span.span_data.output = [_chat_message(output)]
            span.span_data.usage = {"input_tokens": 11, "output_tokens": 5}
            usage = Usage(requests=1, input_tokens=11, output_tokens=5, total_tokens=16)
            return ModelResponse(output=output, usage=usage, response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        with response_span() as span:
            span.span_data.input = input
            reply = self._next()
            if isinstance(reply, str):
                for i, word in enumerate(reply.split(" ")):
                    yield ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        item_id="msg",
                        output_index=0,
                        content_index=0,
                        delta=word if i == 0 else " " + word,
                        logprobs=[],
                        sequence_number=i,
                    )
                    await asyncio.sleep(0)
            response = _response(_output(reply))
            span.span_data.response = response
            yield ResponseCompletedEvent(
                type="response.completed", response=response, sequence_number=99
            )


def _output(reply: str | list[tuple[str, dict[str, Any]]]) -> list[ResponseOutputItem]:
    if isinstance(reply, str):
        text = ResponseOutputText(type="output_text", text=reply, annotations=[])
        message = ResponseOutputMessage(
            id="msg", type="message", role="assistant", status="completed", content=[text]
        )
        return [message]
    numbers = [next(ScriptedModel.calls) for _ in reply]
    return [
        ResponseFunctionToolCall(
            type="function_call",
            id=f"fc{n}",
            call_id=f"call{n}",
            name=name,
            arguments=json.dumps(args),
        )
        for n, (name, args) in zip(numbers, reply, strict=True)
    ]


def _chat_message(output: list[ResponseOutputItem]) -> dict[str, Any]:
    """The answer as a Chat Completions message (what that API's model records)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in output:
        if isinstance(item, ResponseOutputMessage):
            texts.extend(p.text for p in item.content if isinstance(p, ResponseOutputText))
        elif isinstance(item, ResponseFunctionToolCall):
            function = {"name": item.name, "arguments": item.arguments}
            calls.append({"id": item.call_id, "type": "function", "function": function})
    return {"role": "assistant", "content": "".join(texts) or None, "tool_calls": calls or None}


def _response(output: list[ResponseOutputItem]) -> Response:
    return Response(
        id="resp",
        created_at=time.time(),
        model=MODEL,
        object="response",
        output=output,
        parallel_tool_calls=False,
        tool_choice="auto",
        tools=[],
        usage=ResponseUsage(
            input_tokens=9,
            output_tokens=4,
            total_tokens=13,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        ),
    )


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
    async with asyncio.timeout(WAIT_S):
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
    assert generation["settings"] == {"temperature": 0.2}
    assert generation["messages"][:2] == [
        {"role": "system", "content": "Hand Spanish speakers over."},
        {"role": "user", "content": "Weather in Paris, in Spanish?"},
    ]
    assert generation["messageCompletion"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert (generation["inputTokenCount"], generation["outputTokenCount"]) == (11, 5)
    assert generation["tokenCount"] == 16
    second = second_call.generation
    assert second is not None
    assert {"role": "tool", "tool_call_id": "call0", "content": "sunny in Paris"} in second[
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
    assert (generation["inputTokenCount"], generation["tokenCount"]) == (9, 13)
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
