"""The tool trajectory of a run: which tools were called, in which order, with which arguments."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from spine_core import EventType, Result

__all__ = ["ToolCallRecord", "tool_calls"]


class ToolCallRecord(BaseModel):
    """One tool call and its result, read from a run's trace.

    Attributes:
        id: The provider's call id.
        name: Tool name.
        arguments: The arguments the model sent.
        result: The tool's result as the model saw it (None when the call got no result).
        is_error: The call failed (invalid arguments, the tool raised, ...).
    """

    id: str = ""
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    is_error: bool = False


def tool_calls(result: Result) -> list[ToolCallRecord]:
    """The run's tool calls in call order (from its `TOOL_CALL` / `TOOL_RESULT` trace events)."""
    records: list[ToolCallRecord] = []
    by_id: dict[str, ToolCallRecord] = {}
    for event in result.trace:
        data = event.data
        if event.type is EventType.TOOL_CALL:
            record = ToolCallRecord(
                id=str(data.get("id", "")),
                name=str(data.get("name", "")),
                arguments=dict(data.get("arguments") or {}),
            )
            records.append(record)
            by_id[record.id] = record
        elif event.type is EventType.TOOL_RESULT:
            found = by_id.get(str(data.get("id", "")))
            if found is not None:
                found.result = data.get("result")
                found.is_error = bool(data.get("is_error", False))
    return records
