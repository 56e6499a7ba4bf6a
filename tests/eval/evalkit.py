"""Helpers for spine-eval tests: results built by hand and small offline tools."""

from __future__ import annotations

from typing import Any

from spine_core import (
    EventType,
    Result,
    State,
    StopReason,
    TraceEvent,
    Usage,
    tool,
)
from spine_eval import Case


def make_result(
    answer: str | None = "",
    *,
    calls: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    output: Any = None,
    stopped: StopReason = StopReason.FINAL,
    cost_usd: float = 0.0,
    tokens: tuple[int, int] = (0, 0),
    error: dict[str, Any] | None = None,
) -> Result:
    """A `Result` as the kernel builds it: tool calls appear in the trace as call + result."""
    trace = []
    for i, (name, arguments) in enumerate(calls):
        trace.append(
            TraceEvent(
                type=EventType.TOOL_CALL,
                data={"id": f"c{i}", "name": name, "arguments": arguments},
            )
        )
        trace.append(
            TraceEvent(
                type=EventType.TOOL_RESULT,
                data={"id": f"c{i}", "name": name, "result": "ok", "is_error": False},
            )
        )
    return Result(
        answer=answer,
        output=output,
        stopped_reason=stopped,
        state=State(session_id="s"),
        trace=trace,
        usage=Usage(input_tokens=tokens[0], output_tokens=tokens[1], cost_usd=cost_usd),
        error=None if error is None else str(error.get("message", "")),
        error_detail=error,
    )


def make_case(expected: Any = None, **fields: Any) -> Case:
    case_id, text = fields.pop("id", "c"), fields.pop("input", "q")
    return Case(id=case_id, input=text, expected=expected, **fields)


@tool
def weather(city: str = "Paris") -> str:
    """Current weather.

    Args:
        city: City name.
    """
    return f"sunny in {city}"


@tool
def clock() -> str:
    """The time."""
    return "12:00"
