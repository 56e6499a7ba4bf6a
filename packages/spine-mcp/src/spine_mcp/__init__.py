"""Spine MCP adapter: MCP servers' tools, resources and prompts for Spine agents."""

from .errors import MCPConnectError, MCPToolError
from .images import MCPImages
from .toolset import MCPToolset

__all__ = ["MCPConnectError", "MCPImages", "MCPToolError", "MCPToolset"]
