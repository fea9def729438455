"""LangChain in the chat: a chat model that calls a tool, and every step of it shown.

`cl.LangchainCallbackHandler()` in the run's callbacks turns the model calls (their tokens
streaming in), the tool call and its answer into steps; the answer streams into a message.
It runs offline on a scripted model; with OPENAI_API_KEY set and langchain-openai
installed, on OpenAI's gpt-4o-mini. Serve it with
`lightchat serve examples/16_langchain/app.py`, and ask "What's the weather in Paris?".
"""

import os
import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

import lightchat as cl
from lightchat.integrations.langchain_testing import ScriptedChatModel

try:
    from langchain_openai import ChatOpenAI
except ImportError:  # not installed: the scripted model answers
    ChatOpenAI = None

WEATHER = {"paris": "sunny, 21 °C", "oslo": "snowing, -3 °C", "lima": "overcast, 17 °C"}


@tool
def get_weather(city: str) -> str:
    """The weather in a city now."""
    return f"{city}: {WEATHER.get(city.lower(), 'cloudy, 12 °C')}"


def scripted_reply(messages: list[BaseMessage]) -> AIMessage:
    """What the offline model says: it asks the tool about the city in the question, then
    answers with what the tool said."""
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return AIMessage(content=f"Here is the weather. {last.text}.")
    city = re.search(r"\bin ([A-Z][a-z]+)", last.text)
    if city is None:
        return AIMessage(content="Ask me about the weather in a city, say Paris or Oslo.")
    call = ToolCall(name="get_weather", args={"city": city.group(1)}, id="call-1")
    return AIMessage(content="", tool_calls=[call])


def chat_model() -> BaseChatModel:
    if ChatOpenAI is not None and os.environ.get("OPENAI_API_KEY"):
        return ChatOpenAI(model="gpt-4o-mini", streaming=True)
    return ScriptedChatModel(replies=[scripted_reply])


prompt = ChatPromptTemplate.from_messages(
    [
        ("system", "You answer questions about the weather; use the get_weather tool."),
        MessagesPlaceholder("messages"),
    ]
)


@cl.on_chat_start
async def start():
    cl.user_session.set("chain", prompt | chat_model().bind_tools([get_weather]))


@cl.on_message
async def main(message: cl.Message):
    chain = cl.user_session.get("chain")
    config = RunnableConfig(callbacks=[cl.LangchainCallbackHandler()])
    messages: list[BaseMessage] = [HumanMessage(content=message.content)]
    answer = cl.Message(content="")
    while True:  # until the model answers without calling a tool
        reply = None
        async for chunk in chain.astream({"messages": messages}, config=config):
            reply = chunk if reply is None else reply + chunk
            await answer.stream_token(chunk.text)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            messages.append(await get_weather.ainvoke(call, config=config))
    await answer.send()
