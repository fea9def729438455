"""MCP in the chat: a server the app ships, whose tools answer the question, each call a step.

The app declares its own MCP server in `lightchat.toml` (`[features.mcp.servers.weather]`,
`server.py` here, started over stdio); every chat connects to it. `@cl.on_mcp_connect`
keeps each server's tools, as Chainlit's docs do; a scripted model (`FakeModel`) picks the
tools that answer the question, and `call_tool` shows each call as a `tool` step, with
its arguments and its result. Users may add servers of their own from "MCP servers" in the
header. Serve it from lightchat's virtualenv (`python` runs the server) with
`lightchat serve examples/25_mcp/app.py`, and ask "What's the weather in Paris, in
Fahrenheit?".
"""

import json
import re

from mcp import ClientSession

import lightchat as cl
from lightchat.integrations.mcp import call_tool, result_text
from lightchat.testing import FakeModel, ToolCall

CITY = re.compile(r"\b(?:in|at|for) ([A-Z][a-z]+)")
CELSIUS = re.compile(r"(-?\d+(?:\.\d+)?) °C")


def plan(prompt: str):
    """What the offline model does with the conversation so far (one line per turn): call
    `get_weather` for the city asked about, then `to_fahrenheit` if asked, then answer
    with what the tools said."""
    lines = prompt.splitlines()
    question = next(line for line in reversed(lines) if line.startswith("user: "))
    asked = lines[lines.index(question) :]
    said = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in asked[1:]}
    city = CITY.search(question)
    if city is None:
        return "Ask me about the weather in a city: Paris, Oslo or Lima."
    weather = said.get("tool get_weather")
    if weather is None:
        return ToolCall("get_weather", {"city": city.group(1)})
    fahrenheit = said.get("tool to_fahrenheit")
    celsius = CELSIUS.search(weather)
    if "fahrenheit" in question.lower() and fahrenheit is None and celsius:
        return ToolCall("to_fahrenheit", {"celsius": float(celsius.group(1))})
    return f"{weather}" + (f" ({fahrenheit})." if fahrenheit else ".")


@cl.on_chat_start
async def start():
    cl.user_session.set("model", FakeModel([plan], delay=0.02))
    cl.user_session.set("history", [])


@cl.on_mcp_connect
async def connected(connection, session: ClientSession):
    """Keep the server's tools: which server offers each one."""
    listed = await session.list_tools()
    tools = cl.user_session.get("mcp_tools") or {}
    tools.update({tool.name: connection.name for tool in listed.tools})
    cl.user_session.set("mcp_tools", tools)


@cl.on_mcp_disconnect
async def disconnected(name: str, session: ClientSession):
    tools = cl.user_session.get("mcp_tools") or {}
    cl.user_session.set("mcp_tools", {k: v for k, v in tools.items() if v != name})


@cl.on_message
async def main(message: cl.Message):
    model: FakeModel = cl.user_session.get("model")
    history: list[str] = cl.user_session.get("history")
    tools: dict[str, str] = cl.user_session.get("mcp_tools") or {}
    history.append(f"user: {message.content}")
    for _ in range(5):  # a bounded number of tool rounds
        reply = await model.respond("\n".join(history))
        if not reply.tool_calls:
            break
        for tool_call in reply.tool_calls:
            if tool_call.name not in tools:
                history.append(f"tool {tool_call.name}: no server offers this tool")
                continue
            arguments = json.loads(tool_call.arguments_json)
            result = await call_tool(tools[tool_call.name], tool_call.name, arguments)
            history.append(f"tool {tool_call.name}: {result_text(result)}")
    answer = cl.Message(content="")
    for piece in reply.pieces:
        await answer.stream_token(piece)
    await answer.send()
    history.append(f"assistant: {answer.content}")
