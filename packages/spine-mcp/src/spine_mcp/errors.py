"""Errors raised by spine_mcp."""

from __future__ import annotations

from spine_core import SpineError

__all__ = ["MCPConnectError", "MCPToolError"]


class MCPToolError(SpineError):
    """An MCP tool returned a result with `isError: true`.

    Raised from the Spine tool function so that the kernel records the call as a tool error
    (`Message.tool(..., is_error=True)`) and the model sees the server's text and can react;
    it never ends a run.

    Attributes:
        tool: The MCP tool name.
        text: The text of the error result's content.
    """

    def __init__(self, tool: str, text: str) -> None:
        super().__init__(text or f"MCP tool '{tool}' failed without a message")
        self.tool = tool
        self.text = text


class MCPConnectError(SpineError):
    """Connecting to an MCP server failed: the command did not start, the URL did not answer,
    or the protocol handshake (`server/discover`, then `initialize`) failed."""
