"""Semantic Kernel in the chat: a streamed prompt whose model calls a plugin function that
waits for the user's go-ahead (an AskActionMessage), so the page shows the prompt's step
and the function's step nested in it while the run is under way."""

from __future__ import annotations

from semantic_kernel import Kernel
from semantic_kernel.connectors.ai import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import AuthorRole, ChatHistory
from semantic_kernel.functions import KernelArguments, kernel_function

import lightchat as cl
from lightchat.integrations.semantic_kernel import SemanticKernelFilter
from lightchat.integrations.semantic_kernel_testing import FunctionCalls, ScriptedChatCompletion


class Weather:
    @kernel_function(name="get_weather", description="The weather in a city, once agreed.")
    async def get_weather(self, city: str) -> str:
        go = cl.Action(name="look_up", payload={}, label="Look it up")
        agreed = await cl.AskActionMessage(
            content=f"Look up the weather in {city}?", actions=[go], timeout=120
        ).send()
        return f"sunny in {city}" if agreed else "not looked up"


def reply(history: ChatHistory) -> str | FunctionCalls:
    if history.messages[-1].role == AuthorRole.TOOL:
        return "The weather in Paris: sunny and warm."
    return [("weather-get_weather", {"city": "Paris"})]


kernel = Kernel()
# A word every 50 ms: the page sees the prompt's step while it streams.
kernel.add_service(ScriptedChatCompletion(replies=[reply], delay=0.05))
kernel.add_plugin(Weather(), plugin_name="weather")
SemanticKernelFilter(kernel=kernel)
AUTO = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())


@cl.on_message
async def main(message: cl.Message) -> None:
    answer = cl.Message(content="")
    arguments = KernelArguments(settings=AUTO, question=message.content)
    async for chunk in kernel.invoke_prompt_stream("{{$question}}", arguments=arguments):
        text = str(chunk[0]) if isinstance(chunk, list) and chunk else ""
        if text:
            await answer.stream_token(text)
    await answer.send()
