"""The OpenAI Agents SDK in the chat: an agent whose tool waits for the user's go-ahead
(an AskActionMessage), then hands over to another agent, so the page shows the run's
steps, nested, while it is under way."""

from __future__ import annotations

from typing import Any

from agents import Agent, Runner, TResponseInputItem, function_tool, set_trace_processors
from openai.types.responses import ResponseTextDeltaEvent

import lightchat as cl
from lightchat.integrations.openai_agents import StepTracingProcessor
from lightchat.integrations.openai_agents_testing import ScriptedModel, ToolCalls


@function_tool
async def get_weather(city: str) -> str:
    """The weather in a city, once the user agrees to look it up."""
    go = cl.Action(name="look_up", payload={}, label="Look it up")
    agreed = await cl.AskActionMessage(
        content=f"Look up the weather in {city}?", actions=[go], timeout=120
    ).send()
    return f"sunny in {city}" if agreed else "not looked up"


def weather_reply(items: list[TResponseInputItem]) -> str | ToolCalls:
    last: Any = items[-1]
    if last.get("type") == "function_call_output":
        return [("transfer_to_spanish", {})]
    return [("get_weather", {"city": "Paris"})]


# A word every 50 ms: the page sees the Spanish agent's model call while it streams.
spanish = Agent(name="Spanish", model=ScriptedModel("Hace sol en París.", delay=0.05))
weather = Agent(
    name="Weather",
    tools=[get_weather],
    handoffs=[spanish],
    model=ScriptedModel(weather_reply),
)
# Only the steps: the SDK's own processor would export the traces to OpenAI.
set_trace_processors([StepTracingProcessor()])


@cl.on_message
async def main(message: cl.Message) -> None:
    result = Runner.run_streamed(weather, message.content)
    answer = cl.Message(content="")
    async for event in result.stream_events():
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
            await answer.stream_token(event.data.delta)
    await answer.send()
