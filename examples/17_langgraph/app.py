"""LangGraph in the chat, as Chainlit's docs write it: an agent graph streamed with
`stream_mode="messages"`, the graph's nodes shown as steps, and the final node's words
streamed into the answer.

The graph: an `agent` node (a chat model with a tool), a `tools` node, and a `final` node
that rewrites the answer in a weather presenter's voice. It runs offline on scripted
models; with OPENAI_API_KEY set and langchain-openai installed, on OpenAI's gpt-4o-mini.
Serve it with `lightchat serve examples/17_langgraph/app.py`, and ask "What's the weather
in Oslo?".
"""

import os
import re
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

import lightchat as cl
from lightchat.integrations.langchain_testing import ScriptedChatModel

try:
    from langchain_openai import ChatOpenAI
except ImportError:  # not installed: the scripted models answer
    ChatOpenAI = None

WEATHER = {"paris": "sunny, 21 °C", "oslo": "snowing, -3 °C", "lima": "overcast, 17 °C"}


@tool
def get_weather(city: str) -> str:
    """The weather in a city now."""
    return f"{city}: {WEATHER.get(city.lower(), 'cloudy, 12 °C')}"


def scripted_agent(messages: list[BaseMessage]) -> AIMessage:
    """The offline agent: it asks the tool about the city in the question, then says what
    the tool said."""
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return AIMessage(content=f"The weather in {last.text}.")
    city = re.search(r"\bin ([A-Z][a-z]+)", last.text)
    if city is None:
        return AIMessage(content="I can tell the weather in a city: Paris, Oslo, Lima...")
    call = ToolCall(name="get_weather", args={"city": city.group(1)}, id="call-1")
    return AIMessage(content="", tool_calls=[call])


def scripted_presenter(messages: list[BaseMessage]) -> str:
    return f"Good evening, weather fans! {messages[-1].text} Back to you!"


def chat_model(offline: ScriptedChatModel) -> BaseChatModel:
    if ChatOpenAI is not None and os.environ.get("OPENAI_API_KEY"):
        return ChatOpenAI(model="gpt-4o-mini", temperature=0)
    return offline


model = chat_model(ScriptedChatModel(replies=[scripted_agent])).bind_tools([get_weather])
# The tag lets the app tell the final model's words from the agent's in the stream.
final_model = chat_model(ScriptedChatModel(replies=[scripted_presenter])).with_config(
    tags=["final_node"]
)


def should_continue(state: MessagesState) -> Literal["tools", "final"]:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "final"


async def call_model(state: MessagesState):
    return {"messages": [await model.ainvoke(state["messages"])]}


async def call_final_model(state: MessagesState):
    last = state["messages"][-1]
    rewrite = [SystemMessage("Rewrite this as a TV weather presenter."), HumanMessage(last.text)]
    response = await final_model.ainvoke(rewrite)
    response.id = last.id  # replaces the agent's answer in the state
    return {"messages": [response]}


builder = StateGraph(MessagesState)
builder.add_node("agent", call_model)
builder.add_node("tools", ToolNode(tools=[get_weather]))
builder.add_node("final", call_final_model)
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", should_continue)
builder.add_edge("tools", "agent")
builder.add_edge("final", END)
graph = builder.compile()


@cl.on_message
async def on_message(msg: cl.Message):
    cb = cl.LangchainCallbackHandler()
    final_answer = cl.Message(content="")
    async for message, metadata in graph.astream(
        {"messages": [HumanMessage(content=msg.content)]},
        stream_mode="messages",
        config=RunnableConfig(callbacks=[cb]),
    ):
        if (
            message.content
            and not isinstance(message, HumanMessage)
            and metadata["langgraph_node"] == "final"
        ):
            await final_answer.stream_token(message.text)
    await final_answer.send()
