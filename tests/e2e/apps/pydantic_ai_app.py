"""Pydantic AI in the chat: an agent whose tool waits for the user's go-ahead (an
AskActionMessage), so the page shows the run's steps while it is under way, then the
answer's model request filling as the model writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

import lightchat as cl
from lightchat.integrations.pydantic_ai import PydanticAISteps


async def get_weather(city: str) -> str:
    """The weather in a city, once the user agrees to look it up."""
    go = cl.Action(name="look_up", payload={}, label="Look it up")
    agreed = await cl.AskActionMessage(
        content=f"Look up the weather in {city}?", actions=[go], timeout=120
    ).send()
    return f"sunny in {city}" if agreed else "not looked up"


ANSWER = "The weather in Paris: sunny and warm."


async def model(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls]:
    if not any(part.part_kind == "tool-return" for m in messages for part in m.parts):
        yield {0: DeltaToolCall(name="get_weather", json_args='{"city": "Paris"}')}
        return
    for word in ANSWER.split(" "):
        await asyncio.sleep(0.05)  # a word every 50 ms: the page sees the step fill
        yield word + " "


agent = Agent(
    FunctionModel(stream_function=model, model_name="scripted-model"),
    name="forecaster",
    tools=[get_weather],
    capabilities=[PydanticAISteps()],
)


@cl.on_message
async def main(message: cl.Message) -> None:
    result = await agent.run(message.content)
    await cl.Message(content=result.output).send()
