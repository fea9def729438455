"""Semantic Kernel in a chat (``cl.SemanticKernelFilter``): a real ``Kernel`` with real
plugins, answered by a scripted chat completion service (``ScriptedChatCompletion``, from
lightchat.integrations.semantic_kernel_testing): each function the kernel invokes becomes
a step with its arguments and result, a function that raises fails its step and the chat
goes on, prompt functions are ``llm`` steps with their generation, and a streamed
invocation streams into its step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import (
    ChatHistory,
)
from semantic_kernel.functions import KernelArguments, kernel_function

import lightchat as cl
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.api.step import Step
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import MessageData, StepData, TokenEvent
from lightchat.integrations.semantic_kernel import SemanticKernelFilter
from lightchat.integrations.semantic_kernel_testing import Reply, ScriptedChatCompletion
from tests.helpers import WAIT_S, contents, events_of, new_session, steps_in

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


class Weather:
    """A plugin: the weather, and a function whose service is down."""

    @kernel_function(name="get_weather", description="The weather in a city.")
    def get_weather(self, city: str) -> str:
        return f"sunny in {city}"

    @kernel_function(name="forecast", description="Tomorrow's weather (its service is down).")
    def forecast(self, city: str) -> str:
        raise RuntimeError(f"the forecast service for {city} is down")


class Clock:
    """Another plugin, to leave out of the chat."""

    @kernel_function(name="now", description="The time.")
    def now(self) -> str:
        return "noon"


AUTO = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())


def kernel_with(chat: ScriptedChatCompletion) -> Kernel:
    kernel = Kernel()
    kernel.add_service(chat)
    kernel.add_plugin(Weather(), plugin_name="weather")
    kernel.add_plugin(Clock(), plugin_name="clock")
    return kernel


def scripted(*replies: Reply) -> ScriptedChatCompletion:
    return ScriptedChatCompletion(replies=list(replies))


Handler = Callable[[Message], Coroutine[Any, Any, None]]


async def chat_with(handler: Handler, *questions: str) -> ChatSession:
    """A chat whose on_message is ``handler``; each question asked in turn, answered."""
    app = LightChat()
    app.on_message(handler)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        for question in questions:
            await session.send_user_message(question)
    return session


def answers(session: ChatSession) -> list[MessageData]:
    """The assistant's messages as they ended."""
    items = session.transcript.items.values()
    return [m for m in items if isinstance(m, MessageData) and m.type == "assistant_message"]


def final_steps(session: ChatSession) -> list[StepData]:
    """The steps of the chat as they ended, in the order they started."""
    return [item for item in session.transcript.items.values() if isinstance(item, StepData)]


async def test_auto_function_calls_become_steps_and_a_failing_one_fails_only_its_step() -> None:
    chat = scripted(
        [("weather-get_weather", {"city": "Paris"}), ("weather-forecast", {"city": "Paris"})],
        "Sunny today; no forecast for tomorrow.",
    )
    kernel = kernel_with(chat)
    SemanticKernelFilter(kernel=kernel)

    async def answer(message: Message) -> None:
        history = ChatHistory()
        history.add_user_message(message.content)
        async with cl.Step(name="assistant", type="run"):
            reply = await chat.get_chat_message_content(history, AUTO, kernel=kernel)
        await cl.Message(content=str(reply)).send()

    session = await chat_with(answer, "Weather in Paris?")
    outer, weather, forecast = final_steps(session)
    assert (weather.name, weather.type, weather.status) == ("weather-get_weather", "tool", "done")
    assert weather.parent_id == outer.id  # nested in the step the app opened
    assert weather.input == '{\n  "city": "Paris"\n}'
    assert weather.output == "sunny in Paris"
    assert (forecast.name, forecast.status, forecast.parent_id) == (
        "weather-forecast",
        "failed",
        outer.id,
    )
    assert forecast.output == "the forecast service for Paris is down"
    # The model was told the call failed, and answered anyway.
    assert "forecast service for Paris is down" in json.dumps(chat.histories[1])
    assert contents(await events_of(session)) == ["Sunny today; no forecast for tomorrow."]
    # Both steps were shown running before they ended.
    shown = steps_in(await events_of(session))
    assert next(s.status for s in shown if s.id == weather.id) == "running"


async def test_a_streamed_chat_with_function_calls_streams_the_answer_and_shows_the_calls() -> None:
    chat = scripted([("weather-get_weather", {"city": "Rome"})], "Hot in Rome today")
    kernel = kernel_with(chat)
    SemanticKernelFilter(kernel=kernel)

    async def answer(message: Message) -> None:
        history = ChatHistory()
        history.add_user_message(message.content)
        reply = cl.Message(content="")
        async for chunk in chat.get_streaming_chat_message_content(history, AUTO, kernel=kernel):
            if chunk is not None and chunk.content:
                await reply.stream_token(chunk.content)
        await reply.send()

    session = await chat_with(answer, "Weather in Rome?")
    (weather,) = final_steps(session)
    assert (weather.name, weather.output, weather.status) == (
        "weather-get_weather",
        "sunny in Rome",
        "done",
    )
    (reply,) = answers(session)
    assert (reply.content, reply.parent_id) == ("Hot in Rome today", None)


async def test_a_prompt_function_is_an_llm_step_with_its_generation() -> None:
    chat = scripted("Hello, Ada!")
    kernel = kernel_with(chat)
    SemanticKernelFilter(kernel=kernel)

    async def answer(message: Message) -> None:
        result = await kernel.invoke_prompt(
            "Greet {{$name}} warmly.", arguments=KernelArguments(name=message.content)
        )
        await cl.Message(content=str(result)).send()

    session = await chat_with(answer, "Ada")
    (llm,) = final_steps(session)
    assert (llm.name, llm.type, llm.status) == ("scripted-model", "llm", "done")
    assert llm.input == '{\n  "name": "Ada"\n}'
    assert llm.output == "Hello, Ada!"
    assert llm.generation is not None
    assert llm.generation["model"] == "scripted-model"
    assert llm.generation["messages"] == [{"role": "user", "content": "Greet Ada warmly."}]
    assert llm.generation["messageCompletion"] == {"role": "assistant", "content": "Hello, Ada!"}
    # The scripted service counts words: "Greet Ada warmly.", "Hello, Ada!"
    assert (llm.generation["inputTokenCount"], llm.generation["outputTokenCount"]) == (3, 2)
    assert llm.generation["tokenCount"] == 5
    assert contents(await events_of(session)) == ["Hello, Ada!"]


async def test_a_streamed_prompt_streams_into_its_step_with_its_calls_nested() -> None:
    chat = scripted([("weather-get_weather", {"city": "Oslo"})], "Oslo is sunny")
    kernel = kernel_with(chat)
    SemanticKernelFilter(kernel=kernel)

    async def answer(message: Message) -> None:
        reply = cl.Message(content="")
        arguments = KernelArguments(settings=AUTO, city=message.content)
        async for chunk in kernel.invoke_prompt_stream(
            "Weather in {{$city}}?", arguments=arguments
        ):
            text = str(chunk[0]) if isinstance(chunk, list) and chunk else ""
            if text:
                await reply.stream_token(text)
        await reply.send()

    session = await chat_with(answer, "Oslo")
    llm, weather = final_steps(session)
    assert (llm.type, llm.status, llm.output) == ("llm", "done", "Oslo is sunny")
    assert weather.parent_id == llm.id  # the call the model made while it streamed
    assert weather.output == "sunny in Oslo"
    assert llm.generation is not None
    assert llm.generation["messageCompletion"]["content"] == "Oslo is sunny"
    events = await events_of(session)
    tokens = [e.delta for e in events if isinstance(e, TokenEvent) and e.id == llm.id]
    assert "".join(tokens).strip() == "Oslo is sunny"  # streamed live, before it ended
    ends = [i for i, e in enumerate(events) if getattr(e, "step", None) == llm]
    first_token = next(
        i for i, e in enumerate(events) if isinstance(e, TokenEvent) and e.id == llm.id
    )
    assert first_token < ends[0]
    (reply,) = contents(events)
    assert reply == "Oslo is sunny"
    assert answers(session)[0].parent_id is None  # the app's message is not inside the step


async def test_a_function_the_app_invokes_that_raises_fails_its_step_and_the_chat_goes_on() -> None:
    kernel = kernel_with(scripted())
    SemanticKernelFilter(kernel=kernel)

    async def answer(message: Message) -> None:
        result = await kernel.invoke(
            plugin_name="weather", function_name=message.content, city="Lima"
        )
        await cl.Message(content=f"Got: {result}").send()

    session = await chat_with(answer, "forecast", "get_weather")
    failed, done = final_steps(session)
    assert (failed.name, failed.status) == ("weather-forecast", "failed")
    assert "forecast service for Lima is down" in failed.output
    assert (done.name, done.status, done.output) == ("weather-get_weather", "done", "sunny in Lima")
    errors = contents(await events_of(session), "error")
    assert len(errors) == 1
    assert "weather-forecast" in errors[0]  # the kernel's error, as it raised it
    assert contents(await events_of(session)) == ["Got: sunny in Lima"]


async def test_excluded_plugins_and_functions_run_without_a_step() -> None:
    kernel = kernel_with(scripted())
    SemanticKernelFilter(excluded_plugins=["clock"], excluded_functions=["forecast"], kernel=kernel)

    async def answer(message: Message) -> None:
        now = await kernel.invoke(plugin_name="clock", function_name="now")
        weather = await kernel.invoke(
            plugin_name="weather", function_name="get_weather", city="Kyiv"
        )
        await cl.Message(content=f"{now}, {weather}").send()

    session = await chat_with(answer, "go")
    assert [step.name for step in final_steps(session)] == ["weather-get_weather"]
    assert contents(await events_of(session)) == ["noon, sunny in Kyiv"]


class Place(BaseModel):
    city: str
    country: str | None = None


async def test_arguments_are_shown_as_json_and_parse_arguments_can_be_overridden() -> None:
    shown = SemanticKernelFilter()
    assert shown.parse_arguments(KernelArguments()) == ""
    assert shown.parse_arguments(KernelArguments(place=Place(city="Paris"), days=2)) == {
        "place": {"city": "Paris"},
        "days": 2,
    }

    class CitiesOnly(SemanticKernelFilter):
        def parse_arguments(self, arguments: KernelArguments) -> dict[str, Any] | str:
            return str(arguments.get("city", ""))

    kernel = kernel_with(scripted())
    CitiesOnly().add_to_kernel(kernel)  # added after the kernel was made

    async def answer(message: Message) -> None:
        await kernel.invoke(plugin_name="weather", function_name="get_weather", city="Accra")

    session = await chat_with(answer, "go")
    (step,) = final_steps(session)
    assert step.input == "Accra"


async def test_cl_semantic_kernel_filter_is_the_filter_and_runs_outside_a_chat() -> None:
    assert cl.SemanticKernelFilter is SemanticKernelFilter
    kernel = kernel_with(scripted("Hello there."))
    SemanticKernelFilter(kernel=kernel)
    result = await kernel.invoke(plugin_name="weather", function_name="get_weather", city="Cairo")
    assert result is not None
    assert str(result) == "sunny in Cairo"  # no chat: the function runs, nothing is shown
    chunks = [str(chunk[0]) async for chunk in kernel.invoke_prompt_stream("Hi")]  # type: ignore[index]
    assert "".join(chunks) == "Hello there."


def test_the_filter_takes_chainlits_arguments() -> None:
    kernel = Kernel()
    sk_filter = SemanticKernelFilter(
        excluded_plugins=["a"], excluded_functions=["b"], kernel=kernel
    )
    assert (sk_filter.excluded_plugins, sk_filter.excluded_functions) == (["a"], ["b"])
    assert len(kernel.function_invocation_filters) == 1
    assert isinstance(Step(name="x").id, str)


async def test_the_scripted_service_repeats_its_last_reply_and_raises_its_errors() -> None:
    chat = ScriptedChatCompletion(
        replies=[lambda history: f"{len(history.messages)} messages", "Again."]
    )
    history = ChatHistory()
    history.add_user_message("Hi")
    plain = PromptExecutionSettings()
    replies = [str(await chat.get_chat_message_content(history, plain)) for _ in range(3)]
    assert replies == ["1 messages", "Again.", "Again."]
    assert chat.histories[0] == [{"role": "user", "content": "Hi"}]
    failing = ScriptedChatCompletion(replies=[ConnectionError("the service is down")])
    with pytest.raises(ConnectionError, match="the service is down"):
        await failing.get_chat_message_content(history, plain)
    with pytest.raises(RuntimeError, match="no replies"):
        await ScriptedChatCompletion().get_chat_message_content(history, plain)


# -- the example -------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "21_semantic_kernel" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_answers_offline_showing_the_plugin_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = load_app(str(EXAMPLE))
    session = new_session(app, app.settings)
    async with asyncio.timeout(WAIT_S):
        await session.start()
        await session.send_user_message("What's the weather in Paris?")
        await session.send_user_message("And in Oslo?")
    steps = final_steps(session)
    assert [(s.name, s.type, s.status, s.output) for s in steps] == [
        ("weather-get_weather", "tool", "done", "Paris: sunny, 21 °C"),
        ("weather-get_weather", "tool", "done", "Oslo: snowing, -3 °C"),
    ]
    assert [a.content for a in answers(session)] == [
        "Here is the weather. Paris: sunny, 21 °C.",
        "Here is the weather. Oslo: snowing, -3 °C.",
    ]
    events = await events_of(session)
    first = answers(session)[0]
    assert any(isinstance(e, TokenEvent) and e.id == first.id for e in events)  # streamed
