"""Pydantic AI in the chat: an agent with a tool, its run shown as steps.

`cl.PydanticAISteps()`, a Pydantic AI capability, makes each run of the agent in a chat a
step holding a step per model request (the model's text streaming in, its generation
recorded) and per tool call. The answer streams into a message. It runs offline on Pydantic
AI's FunctionModel, scripted here; with OPENAI_API_KEY set, on OpenAI's gpt-4o-mini. Serve
it with `lightchat serve examples/23_pydantic_ai/app.py`, and ask "What's the weather in
Paris?".
"""

import asyncio
import os
import re

from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ToolReturnPart
from pydantic_ai.models.function import DeltaToolCall, FunctionModel

import lightchat as cl

WEATHER = {"paris": "sunny, 21 °C", "oslo": "snowing, -3 °C", "lima": "overcast, 17 °C"}


async def scripted(messages, info):
    """The offline model: it calls the tool for the city in the question, then answers with
    what the tool said, a word at a time."""
    last = messages[-1]
    said = [p.content for p in last.parts if isinstance(p, ToolReturnPart)]
    if said:
        for word in f"Here is the weather. {said[0]}.".split(" "):
            await asyncio.sleep(0.02)
            yield word + " "
        return
    question = next(p.content for p in last.parts if p.part_kind == "user-prompt")
    city = re.search(r"\bin ([A-Z][a-z]+)", str(question))
    if city is None:
        yield "Ask me about the weather in a city, say Paris or Oslo."
        return
    yield {0: DeltaToolCall(name="get_weather", json_args=f'{{"city": "{city.group(1)}"}}')}


def model():
    if os.environ.get("OPENAI_API_KEY"):
        return "openai:gpt-4o-mini"
    return FunctionModel(stream_function=scripted, model_name="scripted-model")


agent = Agent(
    model(),
    name="weather",
    instructions="You answer weather questions with the get_weather tool.",
    capabilities=[cl.PydanticAISteps()],
)


@agent.tool_plain
def get_weather(city: str) -> str:
    """The weather in a city now."""
    return f"{city}: {WEATHER.get(city.lower(), 'cloudy, 12 °C')}"


@cl.on_chat_start
async def start():
    cl.user_session.set("history", [])


@cl.on_message
async def main(message: cl.Message):
    history: list[ModelRequest] = cl.user_session.get("history")
    answer = cl.Message(content="")
    async with agent.run_stream(message.content, message_history=history) as run:
        async for text in run.stream_text(delta=True):
            await answer.stream_token(text)
    cl.user_session.set("history", run.all_messages())
    await answer.send()
