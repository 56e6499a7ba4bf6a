"""How a run ended: `StopReason` and the `Result` object."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .messages import Usage
from .state import State
from .stop import StopReason
from .tracing import TraceEvent

__all__ = ["Result", "StopReason"]


class Result(BaseModel):
    """The outcome of an `agent.run()` / `agent.resume()` call.

    Attributes:
        answer: The final assistant text; on a guard trip, the last assistant text so far; a
            `StopRun`'s message for non-error reasons; None when there is none (interrupt,
            error).
        stopped_reason: Why the run stopped (`StopReason.FINAL` when the model answered).
        state: The session state as checkpointed at the end.
        trace: This invocation's events, in order.
        usage: Tokens and cost (USD) of the current run, across resumes.
        resume_token: Pass to `Agent.resume` to continue (set on interrupt and cancel).
        interrupt: What the human is asked (an `InterruptRequest`), when interrupted.
        error: The error text, when `stopped_reason` is error.
        output: The validated typed output when the agent has an `output_type`.
        error_detail: The error as JSON-ready data (`{"type", "message", ...}`; provider
            errors add kind, status, retryable, retry_after_s, provider and model).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)
    answer: str | None = None
    stopped_reason: StopReason = StopReason.FINAL
    state: State
    trace: list[TraceEvent] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    resume_token: str | None = None
    interrupt: Any = None
    error: str | None = None
    output: Any = None
    error_detail: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the run ended with a final answer."""
        return self.stopped_reason is StopReason.FINAL

    @property
    def interrupted(self) -> bool:
        """True when the run paused for a human (see `resume_token`)."""
        return self.stopped_reason is StopReason.INTERRUPT

    @property
    def session_id(self) -> str:
        return self.state.session_id
