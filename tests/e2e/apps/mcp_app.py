"""MCP servers in the chat, as Chainlit's docs use them: ``on_mcp_connect`` keeps each
server's tools, and a message calls one in a tool step. The "model" is a rule: a message
``TOOL arg...`` calls that tool (``add 2 3``, ``echo some text``) on the server offering it.
Users sign in (ada / lovelace); the browser tests turn MCP on with ``LIGHTCHAT_MCP*``.
"""

from typing import Any

import lightchat as cl


@cl.password_auth_callback
def auth(username: str, password: str):
    if (username, password) == ("ada", "lovelace"):
        return cl.User(identifier="ada", display_name="Ada")
    return None


@cl.on_mcp_connect
async def on_mcp_connect(connection, session):
    result = await session.list_tools()
    tools = cl.user_session.get("mcp_tools", {})
    tools[connection.name] = [tool.name for tool in result.tools]
    cl.user_session.set("mcp_tools", tools)


@cl.on_mcp_disconnect
async def on_mcp_disconnect(name: str, session):
    tools = cl.user_session.get("mcp_tools", {})
    tools.pop(name, None)
    cl.user_session.set("mcp_tools", tools)


def find_mcp_for_tool(tool_name: str):
    for name, tools in cl.user_session.get("mcp_tools", {}).items():
        if tool_name in tools:
            return name
    return None


@cl.step(type="tool")
async def call_tool(tool_use: dict[str, Any]):
    tool_name = tool_use["name"]
    current_step = cl.context.current_step
    if current_step is not None:
        current_step.name = tool_name
    mcp_name = find_mcp_for_tool(tool_name)
    if mcp_name is None:
        return f"No server offers the tool {tool_name}."
    mcp_session, _ = cl.context.session.mcp_sessions[mcp_name]
    result = await mcp_session.call_tool(tool_name, tool_use["input"])
    return "\n".join(getattr(part, "text", "") for part in result.content)


@cl.on_message
async def main(message: cl.Message):
    name, _, rest = message.content.partition(" ")
    if name == "add":
        first, second = rest.split()
        tool_use = {"name": "add", "input": {"a": int(first), "b": int(second)}}
    else:
        tool_use = {"name": name, "input": {"text": rest} if rest else {}}
    result = await call_tool(tool_use)
    await cl.Message(content=f"Result: {result}").send()
