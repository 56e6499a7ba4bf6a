"""A stdio MCP server (the mcp SDK's MCPServer) whose `crash` tool kills its own process
mid-call, for the fault tests. Run as `python dying_server.py`."""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("dying", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Exit the server process before answering."""
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
