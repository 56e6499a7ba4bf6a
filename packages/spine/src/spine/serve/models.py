"""The REST API's request bodies and the JSON views of results and sessions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from spine_core import CheckpointInfo, Result, State

from ..timeline import entries

__all__ = [
    "ResumeRequest",
    "RunRequest",
    "result_view",
    "session_view",
    "summary_view",
]


class RunRequest(BaseModel):
    """`POST /runs`: run the agent on `input`.

    Attributes:
        input: The user's message (1 to 1,000,000 characters).
        session_id: Continue this session (created when missing); default a new one.
        mode: "sync" answers with the result; "stream" answers with server-sent events (each
            trace event, then a `result` event); "background" answers 202 at once, and
            `GET /sessions/{id}` shows the progress.
    """

    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=1_000_000)
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    mode: Literal["sync", "stream", "background"] = "sync"


class ResumeRequest(BaseModel):
    """`POST /sessions/{id}/resume`: continue a paused (or cancelled) session.

    Attributes:
        decision: For an approval: "approve" (or true) runs the tool; anything else rejects it
            (the model sees `reason`, or the value).
        reason: Why the call was rejected.
        answer: For a tool's own question: its answer (the tool's result).
        mode: "sync" or "stream", as for `POST /runs`.
    """

    model_config = ConfigDict(extra="forbid")

    decision: str | bool = "approve"
    reason: str | None = Field(default=None, max_length=10_000)
    answer: Any = None
    mode: Literal["sync", "stream"] = "sync"


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return TypeAdapter(type(value)).dump_python(value, mode="json")


def _pending(state: State) -> dict[str, Any] | None:
    pause = state.pending
    if pause is None:
        return None
    return {
        "id": pause.id,
        "kind": pause.kind,
        "question": pause.question,
        "tool_call": pause.tool_call.model_dump(mode="json"),
        "data": pause.data,
        "resume_token": f"{state.session_id}:{pause.id}",
    }


def result_view(result: Result) -> dict[str, Any]:
    """A `Result` as JSON: session_id, status, stopped_reason, answer, output, usage (tokens,
    cost_usd in USD), resume_token, interrupt, error, error_detail."""
    state = result.state
    return {
        "session_id": state.session_id,
        "status": state.status.value,
        "stopped_reason": result.stopped_reason.value,
        "answer": result.answer,
        "output": _jsonable(result.output),
        "usage": result.usage.model_dump(mode="json"),
        "resume_token": result.resume_token,
        "interrupt": _pending(state) if result.interrupted else None,
        "error": result.error,
        "error_detail": result.error_detail,
    }


def summary_view(info: CheckpointInfo) -> dict[str, Any]:
    """A session's header as JSON (no messages)."""
    return info.model_dump(mode="json")


def session_view(state: State) -> dict[str, Any]:
    """A stored session as JSON: its header, messages, pending pause, usage and the
    timeline `spine trace` shows (turns, model calls with tokens, cost and seconds, tool
    calls and results, errors)."""
    return {
        "session_id": state.session_id,
        "agent": state.agent,
        "tenant_id": state.tenant_id,
        "status": state.status.value,
        "stopped_reason": state.stopped_reason.value if state.stopped_reason else None,
        "revision": state.revision,
        "step": state.step,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "usage": state.usage.model_dump(mode="json"),
        "pending": _pending(state),
        "messages": [m.model_dump(mode="json", exclude_none=True) for m in state.messages],
        "timeline": entries(state),
    }
