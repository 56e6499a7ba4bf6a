"""MCP for Spine."""
