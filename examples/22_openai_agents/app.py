"""The OpenAI Agents SDK in the chat: an agent with a tool and a hand-off, every span shown.

`cl.instrument_openai_agents()` makes each run in a chat a tree of steps, shown as it
goes: the run, each agent, each model call (with its generation), the tool call and the
hand-off from the weather agent to the Spanish one. The answer streams into a message. It
runs offline on a scripted model; with OPENAI_API_KEY set, on OpenAI's gpt-4o-mini. Serve
it with `lightchat serve examples/22_openai_agents/app.py`, and ask "What's the weather in
Paris?", or "¿Qué tiempo hace en Lima?".
"""

import os
import re

from agents import Agent, Runner, function_tool
from openai.types.responses import ResponseTextDeltaEvent

import lightchat as cl
from lightchat.integrations.openai_agents_testing import ScriptedModel

WEATHER = {"paris": "sunny, 21 °C", "oslo": "snowing, -3 °C", "lima": "overcast, 17 °C"}


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city now."""
    return f"{city}: {WEATHER.get(city.lower(), 'cloudy, 12 °C')}"


def weather_said(items):
    """What get_weather said, if the conversation ends with its answer (a hand-off's
    answer is a tool call's too)."""
    calls = {i.get("call_id"): i.get("name") for i in items if i.get("type") == "function_call"}
    last = items[-1] if items else {}
    if last.get("type") == "function_call_output" and calls[last["call_id"]] == "get_weather":
        return last["output"]
    return None


def weather_reply(items):
    """The offline weather agent: the tool for the city in the question, then its answer;
    a question in Spanish goes to the Spanish agent."""
    said = weather_said(items)
    if said is not None:
        return f"Here is the weather. {said}."
    question = str(items[-1].get("content", ""))
    if "¿" in question:
        return [("transfer_to_spanish", {})]
    city = re.search(r"\b(?:in|en) ([A-Z][a-z]+)", question)
    if city is None:
        return "Ask me about the weather in a city, say Paris or Oslo."
    return [("get_weather", {"city": city.group(1)})]


def spanish_reply(items):
    """The offline Spanish agent: the tool for the city in the question, then its answer."""
    said = weather_said(items)
    if said is not None:
        return f"Este es el tiempo: {said}."
    question = next(str(i["content"]) for i in items if i.get("role") == "user")
    city = re.search(r"\ben ([A-Z][a-z]+)", question)
    return [("get_weather", {"city": city.group(1) if city else "Madrid"})]


def model(offline):
    return "gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else ScriptedModel(offline, delay=0.02)


spanish = Agent(
    name="Spanish",
    instructions="You answer weather questions in Spanish, with the get_weather tool.",
    tools=[get_weather],
    model=model(spanish_reply),
)
weather = Agent(
    name="Weather",
    instructions="You answer weather questions with the get_weather tool. "
    "Hand questions in Spanish over to the Spanish agent.",
    tools=[get_weather],
    handoffs=[spanish],
    model=model(weather_reply),
)
cl.instrument_openai_agents()


@cl.on_message
async def main(message: cl.Message):
    result = Runner.run_streamed(weather, message.content)
    answer = cl.Message(content="")
    async for event in result.stream_events():
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
            await answer.stream_token(event.data.delta)
    await answer.send()
