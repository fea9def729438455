"""Chainlit's import path for the shapes of an MCP connection (``from lightchat.mcp import
...``): what ``@on_mcp_connect`` receives, told apart by ``clientType``."""

from lightchat.chat.mcp import (
    HttpMcpConnection,
    McpConnection,
    SseMcpConnection,
    StdioMcpConnection,
)

__all__ = ["HttpMcpConnection", "McpConnection", "SseMcpConnection", "StdioMcpConnection"]
