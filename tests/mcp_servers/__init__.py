"""MCP servers for the tests, written with the official ``mcp`` SDK (``toolbox``), and
what serves them (``serving``)."""
