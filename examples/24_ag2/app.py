"""AG2 in the chat: an agent with a tool, handing forecasts over to another agent.

`cl.instrument_ag2(assistant)` makes each turn the agents take in a chat a step holding
its model calls (the model's text streaming in, its generation recorded) and tool calls;
the hand-off to the forecaster (AG2's delegation tool, `agent.as_tool`) is a step holding
the forecaster's turn. The answer streams into a message. It runs offline on a scripted
model; with OPENAI_API_KEY set, on OpenAI's gpt-4o-mini. Serve it with
`lightchat serve examples/24_ag2/app.py`, and ask "What's the weather in Paris?", or
"What about tomorrow in Oslo?".
"""

import os
import re

from ag2 import Agent, MemoryStream, tool
from ag2.events import ModelMessageChunk, ModelRequest, ToolResultEvent, ToolResultsEvent

import lightchat as cl
from lightchat.integrations.ag2_testing import ScriptedConfig

WEATHER = {"paris": "sunny, 21 °C", "oslo": "snowing, -3 °C", "lima": "overcast, 17 °C"}


@tool
def get_weather(city: str) -> str:
    """The weather in a city now."""
    return f"{city}: {WEATHER.get(city.lower(), 'cloudy, 12 °C')}"


def text_of(event):
    """The text of a request or of a tool's result."""
    parts = event.result.parts if isinstance(event, ToolResultEvent) else event.parts
    return "".join(getattr(part, "content", "") for part in parts)


def assistant_reply(conversation):
    """The offline assistant: the tool (or the forecaster, for tomorrow) for the city in
    the question, then an answer with what it said."""
    last = conversation[-1]
    if isinstance(last, ToolResultsEvent):
        return f"Here is what I found. {' '.join(text_of(result) for result in last.results)}"
    question = text_of(last) if isinstance(last, ModelRequest) else ""
    city = re.search(r"\bin ([A-Z][a-z]+)", question)
    if city is None:
        return "Ask me about the weather in a city, say Paris or Oslo."
    if "tomorrow" in question.lower():
        return [("task_forecaster", {"objective": f"Tomorrow's weather in {city.group(1)}"})]
    return [("get_weather", {"city": city.group(1)})]


def forecaster_reply(conversation):
    """The offline forecaster: a forecast for the city it is asked about."""
    city = re.search(r"\bin ([A-Z][a-z]+)", text_of(conversation[0]))
    return f"Tomorrow in {city.group(1) if city else 'your city'}: clearing up, 15 °C."


def config(offline):
    if os.environ.get("OPENAI_API_KEY"):
        from ag2.config import OpenAIConfig

        return OpenAIConfig(model="gpt-4o-mini", streaming=True)
    return ScriptedConfig(offline, delay=0.02)


forecaster = Agent(
    "forecaster", prompt="You forecast tomorrow's weather.", config=config(forecaster_reply)
)
assistant = Agent(
    "assistant",
    prompt="You answer weather questions with get_weather; ask the forecaster about tomorrow.",
    config=config(assistant_reply),
    tools=[get_weather, forecaster.as_tool(description="Forecast tomorrow's weather.")],
)
cl.instrument_ag2(assistant)  # the forecaster too, through its delegation tool


@cl.on_chat_start
async def start():
    cl.user_session.set("stream", MemoryStream())  # the conversation, turn after turn


@cl.on_message
async def main(message: cl.Message):
    stream = cl.user_session.get("stream")
    answer = cl.Message(content="")

    async def write(chunk: ModelMessageChunk):
        await answer.stream_token(chunk.content)

    with stream.where(ModelMessageChunk).sub_scope(write):
        reply = await assistant.ask(message.content, stream=stream)
    answer.content = reply.body or ""
    await answer.send()
