"""LangGraph in the chat: a scripted agent whose tool waits for the user's go-ahead (an
AskActionMessage), so the page shows the graph's steps while the run is under way."""

from __future__ import annotations

from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

import lightchat as cl
from lightchat.integrations.langchain_testing import ScriptedChatModel


@tool
async def get_weather(city: str) -> str:
    """The weather in a city, once the user agrees to look it up."""
    go = cl.Action(name="look_up", payload={}, label="Look it up")
    agreed = await cl.AskActionMessage(
        content=f"Look up the weather in {city}?", actions=[go], timeout=120
    ).send()
    return f"sunny in {city}" if agreed else "not looked up"


def agent_reply(messages: list[BaseMessage]) -> AIMessage:
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return AIMessage(content=f"The weather: {last.text}.")
    call = ToolCall(name="get_weather", args={"city": "Paris"}, id="call-1")
    return AIMessage(content="", tool_calls=[call])


# A word every 50 ms: the page sees the answer's step while it streams.
model = ScriptedChatModel(replies=[agent_reply], delay=0.05).bind_tools([get_weather])


async def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
    return {"messages": [await model.ainvoke(state["messages"])]}


def route(state: MessagesState) -> Literal["tools", "__end__"]:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "__end__"


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode([get_weather]))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", route)
builder.add_edge("tools", "agent")
graph = builder.compile()


@cl.on_message
async def main(message: cl.Message) -> None:
    answer = cl.Message(content="")
    config = RunnableConfig(callbacks=[cl.LangchainCallbackHandler()])
    question: MessagesState = {"messages": [HumanMessage(content=message.content)]}
    async for item in graph.astream(question, stream_mode="messages", config=config):
        chunk, metadata = cast(tuple[BaseMessage, dict[str, Any]], item)
        if chunk.text and metadata["langgraph_node"] == "agent":
            await answer.stream_token(chunk.text)
    await answer.send()
