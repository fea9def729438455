"""AG2 in the chat: an assistant that hands a question over to a researcher agent, whose
tool waits for the user's go-ahead (an AskActionMessage), so the page shows the turns,
the hand-off and the tool call, nested, while the run is under way."""

from __future__ import annotations

from collections.abc import Sequence

from ag2 import Agent, tool
from ag2.events import BaseEvent, ToolResultsEvent

import lightchat as cl
from lightchat.integrations.ag2 import instrument_ag2
from lightchat.integrations.ag2_testing import ScriptedConfig, ToolCalls


@tool
async def get_weather(city: str) -> str:
    """The weather in a city, once the user agrees to look it up."""
    go = cl.Action(name="look_up", payload={}, label="Look it up")
    agreed = await cl.AskActionMessage(
        content=f"Look up the weather in {city}?", actions=[go], timeout=120
    ).send()
    return f"sunny in {city}" if agreed else "not looked up"


def researcher_reply(events: Sequence[BaseEvent]) -> str | ToolCalls:
    if isinstance(events[-1], ToolResultsEvent):
        return "Sunny in Paris."
    return [("get_weather", {"city": "Paris"})]


def assistant_reply(events: Sequence[BaseEvent]) -> str | ToolCalls:
    if isinstance(events[-1], ToolResultsEvent):
        return "The researcher says: sunny in Paris."
    return [("task_researcher", {"objective": "The weather in Paris"})]


researcher = Agent("researcher", config=ScriptedConfig(researcher_reply), tools=[get_weather])
# A word every 50 ms: the page sees the answer's step fill.
assistant = Agent(
    "assistant",
    config=ScriptedConfig(assistant_reply, delay=0.05),
    tools=[researcher.as_tool(description="Research a question.")],
)
instrument_ag2(assistant)


@cl.on_message
async def main(message: cl.Message) -> None:
    reply = await assistant.ask(message.content)
    await cl.Message(content=reply.body or "").send()
