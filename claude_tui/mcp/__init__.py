"""``claude-tui mcp``: a stdio MCP server that gives agents the memory layer as tools.

Nothing here is imported unless the ``mcp`` command runs: the MCP SDK (and the
pydantic/anyio stack under it) stays out of the other commands and the app.
"""
