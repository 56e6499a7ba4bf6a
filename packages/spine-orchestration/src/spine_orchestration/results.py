"""What a multi-agent run returns: `TeamResult`, one `MemberResult` per member run."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spine_core import Result, StopReason, Usage

__all__ = ["GraphResult", "MemberResult", "TeamResult"]


class MemberResult(BaseModel):
    """How one member of a pattern ended (one agent's run inside `Sequential`, `Parallel` or
    `Handoff`).

    Attributes:
        agent: The member's name (`Agent.label`).
        session_id: The member's own session in its agent's checkpoint store.
        stopped_reason: Why the member stopped; None while it has not run yet.
        answer: Its answer (None when it paused, failed, or handed off without one).
        error: The error text when it failed.
        handoff_to: For a `Handoff` visit: the peer it transferred the conversation to.
        usage: Tokens and cost (USD) of the member's run, across its resumes.
    """

    model_config = ConfigDict(defer_build=True)

    agent: str
    session_id: str
    stopped_reason: StopReason | None = None
    answer: str | None = None
    error: str | None = None
    handoff_to: str | None = None
    usage: Usage = Field(default_factory=Usage)

    @property
    def ok(self) -> bool:
        """True when the member ended with a final answer."""
        return self.stopped_reason is StopReason.FINAL


class TeamResult(Result):
    """A `Result` for a whole pattern run: `answer`, `stopped_reason`, `resume_token`,
    `interrupt`, `usage` (summed over the members, USD and tokens) and `state` (the pattern's
    own session) mean what they mean for one agent, plus the members.

    Attributes:
        members: One `MemberResult` per member run, in run order (`Parallel`: agent order).
    """

    members: list[MemberResult] = Field(default_factory=list)

    @property
    def path(self) -> list[str]:
        """The members' names in run order (for `Handoff`: who held the conversation)."""
        return [member.agent for member in self.members]


class GraphResult(Result):
    """A `Result` for a graph run: `stopped_reason`, `resume_token`, `interrupt`, `error`,
    `usage` (every agent node's tokens and USD) and `state` (the run's session, whose
    messages are its checkpoint log) mean what they mean for one agent, plus the state.

    Attributes:
        values: The graph state after the last finished step (an instance of the state
            type, or a dict for a TypedDict).
        step: The number of that step (see `Workflow.history`).
        next: The nodes the run goes on with (empty once it is complete).
    """

    values: Any = None
    step: int = 0
    next: list[str] = Field(default_factory=list)
