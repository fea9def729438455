"""AG2 in a chat (``cl.instrument_ag2``): real ``ag2.Agent``s, tools and delegation tools,
answered by AG2's own scripted model (``ag2.testing.TestConfig``): each turn is a step
holding its model calls (streamed text live, generation recorded) and tool calls; a hand-off
to another agent holds that agent's turn; errors fail their steps and the chat goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from ag2 import Agent, tool
from ag2.events import ModelMessage as AG2Message
from ag2.events import ModelMessageChunk, ToolCallEvent, Usage
from ag2.events import ModelResponse as AG2Response
from ag2.testing import TestClient, TestConfig

import lightchat as cl
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import MessageData, StepData, TokenEvent
from lightchat.integrations.ag2 import AG2Steps, instrument_ag2
from lightchat.integrations.ag2_testing import ScriptedConfig
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


def asking(agent: Agent[Any]) -> Handler:
    async def answer(message: Message) -> None:
        reply = await agent.ask(message.content)
        await cl.Message(content=reply.body or "").send()

    return answer


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool
def forecast(city: str) -> str:
    """Tomorrow's weather in a city (its service is down)."""
    raise RuntimeError(f"the forecast service for {city} is down")


class Script(TestConfig):
    """AG2's scripted model, read on across the agent's turns (``TestConfig`` starts its
    script again at each one)."""

    __test__ = False
    client: TestClient | None = None

    def create(self) -> TestClient:
        if self.client is None:
            self.client = super().create()
        return self.client


def call(name: str, arguments: str) -> ToolCallEvent:
    return ToolCallEvent(name=name, arguments=arguments)


def answered(text: str) -> AG2Response:
    """A model's answer as a provider's client returns it: its model and token counts."""
    usage = Usage(prompt_tokens=12, completion_tokens=4, total_tokens=16)
    return AG2Response(AG2Message(text), usage=usage, model="scripted-model", provider="scripted")


async def test_a_turn_is_a_step_with_its_model_calls_and_tool_calls() -> None:
    config = TestConfig(
        call("weather", '{"city": "Paris"}'),
        ModelMessageChunk("It is "),
        ModelMessageChunk("sunny."),
        answered("It is sunny."),
    )
    agent = Agent("assistant", prompt="Say what the weather is.", config=config, tools=[weather])
    instrument_ag2(agent)

    session = await chat_with(asking(agent), "Weather in Paris?")
    turn, first, tool_step, second = final_steps(session)
    assert (turn.name, turn.type, turn.parent_id) == ("assistant", "run", None)
    assert (turn.input, turn.output) == ("Weather in Paris?", "It is sunny.")
    assert [(s.name, s.type, s.parent_id) for s in (first, tool_step, second)] == [
        ("assistant", "llm", turn.id),  # no model named yet: the agent's name
        ("weather", "tool", turn.id),
        ("scripted-model", "llm", turn.id),
    ]
    assert all(s.status == "done" for s in final_steps(session))
    assert tool_step.input == '{\n  "city": "Paris"\n}'
    assert tool_step.output == "sunny in Paris"
    assert first.input == "Weather in Paris?"
    assert second.output == "It is sunny."
    assert [a.content for a in answers(session)] == ["It is sunny."]

    generation = second.generation
    assert generation is not None
    assert (generation["provider"], generation["model"]) == ("scripted", "scripted-model")
    messages = generation["messages"]
    assert messages[0] == {"role": "system", "content": "Say what the weather is."}
    assert messages[1] == {"role": "user", "content": "Weather in Paris?"}
    assert messages[2]["tool_calls"][0]["function"]["name"] == "weather"
    assert messages[3]["role"] == "tool"
    assert messages[3]["content"] == "sunny in Paris"
    assert generation["messageCompletion"] == {"role": "assistant", "content": "It is sunny."}
    assert (generation["inputTokenCount"], generation["tokenCount"]) == (12, 16)
    assert generation["ttFirstToken"] is not None


async def test_the_models_text_streams_into_its_step_before_it_ends() -> None:
    config = TestConfig(ModelMessageChunk("Hel"), ModelMessageChunk("lo!"), "Hello!")
    agent = Agent("greeter", config=config)
    instrument_ag2(agent)

    session = await chat_with(asking(agent), "Hi")
    _, llm = final_steps(session)
    events = await events_of(session)
    tokens = [i for i, e in enumerate(events) if isinstance(e, TokenEvent) and e.id == llm.id]
    assert "".join(e.delta for e in events if isinstance(e, TokenEvent) and e.id == llm.id) == (
        "Hello!"
    )
    done = next(i for i, e in enumerate(events) if getattr(e, "step", None) == llm)
    assert tokens[0] < done
    first_states: dict[str, str] = {}
    for step in steps_in(events):
        first_states.setdefault(step.id, step.status)
    assert set(first_states.values()) == {"running"}  # every step showed while it ran


async def test_a_hand_off_to_another_agent_holds_that_agents_turn() -> None:
    researcher = Agent(
        "researcher", config=TestConfig(answered("Paris is sunny.")), tools=[weather]
    )
    planner = Agent(
        "planner",
        config=TestConfig(
            call("task_researcher", '{"objective": "Weather in Paris"}'),
            "The researcher says Paris is sunny.",
        ),
        tools=[researcher.as_tool(description="Ask the researcher.")],
    )
    instrument_ag2(planner)  # the researcher too, through the planner's delegation tool

    session = await chat_with(asking(planner), "Plan my day in Paris")
    steps = {(step.name, step.type): step for step in final_steps(session)}
    planner_turn, hand_off = steps["planner", "run"], steps["planner → researcher", "tool"]
    researcher_turn = steps["researcher", "run"]
    assert hand_off.parent_id == planner_turn.id
    assert researcher_turn.parent_id == hand_off.id
    assert (researcher_turn.input, researcher_turn.output) == (
        "Weather in Paris",
        "Paris is sunny.",
    )
    assert steps["scripted-model", "llm"].parent_id == researcher_turn.id
    assert hand_off.output == "Paris is sunny."
    assert [a.content for a in answers(session)] == ["The researcher says Paris is sunny."]


async def test_a_failing_tool_fails_its_step_and_the_model_answers_anyway() -> None:
    config = TestConfig(
        call("forecast", '{"city": "Oslo"}'), "No forecast today, sorry.", raise_tool_errors=False
    )
    agent = Agent("assistant", config=config, tools=[forecast])
    instrument_ag2(agent)

    session = await chat_with(asking(agent), "Forecast for Oslo?")
    (tool_step,) = [s for s in final_steps(session) if s.type == "tool"]
    assert (tool_step.name, tool_step.status) == ("forecast", "failed")
    assert tool_step.output == "the forecast service for Oslo is down"
    assert final_steps(session)[0].status == "done"
    assert [a.content for a in answers(session)] == ["No forecast today, sorry."]


async def test_a_failing_model_fails_its_steps_shows_the_error_and_the_chat_goes_on() -> None:
    config = Script(ConnectionError("the provider is unreachable"), "Back again.")
    agent = Agent("assistant", config=config)
    instrument_ag2(agent)

    session = await chat_with(asking(agent), "Hello?", "Hello again?")
    turn, llm, next_turn, _ = final_steps(session)
    assert (turn.status, llm.status, next_turn.status) == ("failed", "failed", "done")
    assert llm.output == "the provider is unreachable"
    assert contents(await events_of(session), "error") == [
        "ConnectionError: the provider is unreachable"
    ]
    assert [a.content for a in answers(session)] == ["Back again."]


async def test_instrumenting_twice_shows_each_step_once_and_ask_can_take_the_middleware() -> None:
    agent = Agent("assistant", config=Script("One.", "Two."))
    instrument_ag2(agent)
    instrument_ag2(agent)
    session = await chat_with(asking(agent), "One?")
    assert [s.name for s in final_steps(session)] == ["assistant", "assistant"]

    bare = Agent("bare", config=TestConfig("Only this ask."))

    async def answer(message: Message) -> None:
        reply = await bare.ask(message.content, middleware=[AG2Steps("bare", model="m")])
        await cl.Message(content=reply.body or "").send()

    session = await chat_with(answer, "Go")
    assert [(s.name, s.type) for s in final_steps(session)] == [("bare", "run"), ("m", "llm")]


async def test_turns_outside_a_chat_run_as_usual() -> None:
    agent = Agent("assistant", config=TestConfig("Hello."))
    instrument_ag2(agent)
    reply = await agent.ask("Hi")
    assert reply.body == "Hello."


def test_cl_instrument_ag2_is_the_function() -> None:
    assert cl.instrument_ag2 is instrument_ag2


async def test_the_scripted_config_reads_on_across_turns_and_raises_its_errors() -> None:
    config = ScriptedConfig(lambda events: f"{len(events)} events", "Again.", model="m")
    agent = Agent("assistant", config=config)
    bodies = [(await agent.ask("Hi")).body for _ in range(3)]
    assert bodies == ["1 events", "Again.", "Again."]  # TestConfig would start over each turn
    assert config.model == "m"
    failing = Agent("failing", config=ScriptedConfig(ConnectionError("the provider is down")))
    with pytest.raises(ConnectionError, match="the provider is down"):
        await failing.ask("Hi")


# -- the example -------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "24_ag2" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_answers_offline_showing_its_turns_and_hand_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = load_app(str(EXAMPLE))
    session = new_session(app, app.settings)
    async with asyncio.timeout(WAIT_S):
        await session.start()
        await session.send_user_message("What's the weather in Paris?")
        await session.send_user_message("What about tomorrow in Oslo?")
    steps = final_steps(session)
    by_id = {step.id: step for step in steps}

    def path(step: StepData) -> str:
        names = [step.name]
        while step.parent_id is not None:
            step = by_id[step.parent_id]
            names.insert(0, step.name)
        return " / ".join(names)

    assert [path(step) for step in steps] == [
        "assistant",
        "assistant / scripted-model",
        "assistant / get_weather",
        "assistant / scripted-model",
        "assistant",
        "assistant / scripted-model",
        "assistant / assistant → forecaster",
        "assistant / assistant → forecaster / forecaster",
        "assistant / assistant → forecaster / forecaster / scripted-model",
        "assistant / scripted-model",
    ]
    assert all(step.status == "done" for step in steps)
    assert [a.content for a in answers(session)] == [
        "Here is what I found. Paris: sunny, 21 °C",
        "Here is what I found. Tomorrow in Oslo: clearing up, 15 °C.",
    ]
    last_call = steps[-1].generation
    assert last_call is not None
    # The second turn carries on the conversation of the first (the chat's AG2 stream).
    assert last_call["messages"][1] == {"role": "user", "content": "What's the weather in Paris?"}
    events = await events_of(session)
    first = answers(session)[0]
    assert any(isinstance(e, TokenEvent) and e.id == first.id for e in events)  # streamed
