"""Semantic Kernel in the chat: a kernel with a weather plugin, each function call shown.

`cl.SemanticKernelFilter(kernel=kernel)` makes each function the kernel invokes a step
with its arguments and result: here, the plugin function the model calls (auto function
calling) while the answer streams into a message. It runs offline on a scripted chat
completion service; with OPENAI_API_KEY set, on OpenAI's gpt-4o-mini. Serve it with
`lightchat serve examples/21_semantic_kernel/app.py`, and ask "What's the weather in Paris?".
"""

import os
import re

from semantic_kernel import Kernel
from semantic_kernel.connectors.ai import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import AuthorRole, ChatHistory, FunctionResultContent
from semantic_kernel.functions import kernel_function

import lightchat as cl
from lightchat.integrations.semantic_kernel_testing import ScriptedChatCompletion

WEATHER = {"paris": "sunny, 21 °C", "oslo": "snowing, -3 °C", "lima": "overcast, 17 °C"}
SETTINGS = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())


class WeatherPlugin:
    @kernel_function(name="get_weather", description="The weather in a city now.")
    def get_weather(self, city: str) -> str:
        return f"{city}: {WEATHER.get(city.lower(), 'cloudy, 12 °C')}"


def scripted_reply(history: ChatHistory):
    """What the offline model says: it calls the plugin for the city in the question, then
    answers with what the plugin said."""
    last = history.messages[-1]
    if last.role == AuthorRole.TOOL:
        results = [item.result for item in last.items if isinstance(item, FunctionResultContent)]
        return f"Here is the weather. {' '.join(str(r) for r in results)}."
    city = re.search(r"\bin ([A-Z][a-z]+)", last.content or "")
    if city is None:
        return "Ask me about the weather in a city, say Paris or Oslo."
    return [("weather-get_weather", {"city": city.group(1)})]


def chat_service() -> ChatCompletionClientBase:
    if os.environ.get("OPENAI_API_KEY"):
        from semantic_kernel.connectors.ai.open_ai import OpenAIChatCompletion

        return OpenAIChatCompletion(ai_model_id="gpt-4o-mini")
    return ScriptedChatCompletion(replies=[scripted_reply], delay=0.02)


@cl.on_chat_start
async def start():
    kernel = Kernel()
    kernel.add_service(chat_service())
    kernel.add_plugin(WeatherPlugin(), plugin_name="weather")
    cl.SemanticKernelFilter(kernel=kernel)
    cl.user_session.set("kernel", kernel)
    cl.user_session.set("history", ChatHistory(system_message="You answer weather questions."))


@cl.on_message
async def main(message: cl.Message):
    kernel = cl.user_session.get("kernel")
    history = cl.user_session.get("history")
    history.add_user_message(message.content)
    service = kernel.get_service(type=ChatCompletionClientBase)
    answer = cl.Message(content="")
    async for chunk in service.get_streaming_chat_message_content(
        chat_history=history, settings=SETTINGS, kernel=kernel
    ):
        if chunk is not None and chunk.content:
            await answer.stream_token(chunk.content)
    history.add_assistant_message(answer.content)
    await answer.send()
