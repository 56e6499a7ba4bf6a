"""How a run ended: `StopReason` and the `Result` object."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .messages import Usage
from .state import InterruptRequest, State
from .stop import StopReason
from .tracing import TraceEvent

__all__ = ["Result", "StopReason"]


class Result(BaseModel):
    """The outcome of `Agent.run` / `resume`.

    Attributes:
        answer: The final assistant text ("" when the run did not finish).
        output: The validated typed output when the agent has an `output_type`.
        stopped_reason: Why the run stopped.
        state: The session state as checkpointed at the end.
        trace: This invocation's events, in order.
        usage: Tokens and cost (USD) of the current turn, across resumes.
        resume_token: Pass to `Agent.resume` to continue (set on interrupt and cancel).
        interrupt: What the human is asked, when `stopped_reason` is interrupt.
        error: JSON-ready description of the error, when `stopped_reason` is error
            (`{"type", "message", ...}`; provider errors add kind / status / retry_after_s).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)
    answer: str = ""
    output: Any = None
    stopped_reason: StopReason
    state: State
    trace: list[TraceEvent] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    resume_token: str | None = None
    interrupt: InterruptRequest | None = None
    error: dict[str, Any] | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the run ended with a final answer."""
        return self.stopped_reason is StopReason.FINAL

    @property
    def interrupted(self) -> bool:
        return self.stopped_reason is StopReason.INTERRUPT

    @property
    def session_id(self) -> str:
        return self.state.session_id
