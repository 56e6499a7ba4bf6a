"""Small builders for scripted runs against MCP tools."""

from __future__ import annotations

from typing import Any

from spine_core import Message, ModelResponse, ToolCall


def call(name: str, arguments: dict[str, Any] | None = None, id: str = "c1") -> ModelResponse:
    """An assistant turn that calls one tool."""
    tool_call = ToolCall(id=id, name=name, arguments=arguments or {})
    return ModelResponse(message=Message.assistant(None, [tool_call]))


def calls(*items: tuple[str, str, dict[str, Any]]) -> ModelResponse:
    """An assistant turn calling several tools: (id, name, arguments) each."""
    return ModelResponse(
        message=Message.assistant(None, [ToolCall(id=i, name=n, arguments=a) for i, n, a in items])
    )


def tool_messages(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role == "tool"]
