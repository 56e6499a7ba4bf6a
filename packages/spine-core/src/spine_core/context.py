"""What middleware hooks and tools see: `StepContext` for a step, `ToolContext` for a call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .messages import Message, ToolCall, Usage
from .providers import Provider
from .state import State
from .tracing import Tracer

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["Decision", "StepContext", "ToolContext"]


@dataclass(slots=True, frozen=True)
class Decision:
    """A human's answer to an interrupt: approve, reject (with a reason) or answer (text)."""

    action: Literal["approve", "reject", "answer"]
    reason: str | None = None
    answer: str | None = None

    @property
    def approved(self) -> bool:
        return self.action == "approve"


@dataclass(slots=True)
class StepContext:
    """One step of a run, as middleware sees it.

    `messages`, `tools`, `settings` and `provider` are what the next model call will use;
    `before_model` hooks may replace them (e.g. trim `messages`) without touching the stored
    history in `state.messages`. `scratch` is per-run storage for middleware (keep per-run data
    here, never on the middleware object, so one middleware instance serves concurrent runs).
    """

    agent: str
    state: State
    tracer: Tracer
    provider: Provider
    messages: list[Message]
    tools: list[Tool]
    settings: dict[str, Any]
    deadline: float | None = None
    attempt: int = 0
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return self.state.session_id

    @property
    def tenant_id(self) -> str | None:
        return self.state.tenant_id

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def depth(self) -> int:
        return self.state.depth

    @property
    def usage(self) -> Usage:
        """Tokens and USD of the current turn so far."""
        return self.state.usage

    def time_left(self) -> float | None:
        """Seconds until the run's timeout, or None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclass(slots=True)
class ToolContext:
    """One tool call, as `before_tool` / `after_tool` hooks and tools see it.

    `arguments` may be rewritten by `before_tool`. `decision` is the human's decision when
    the call resumes after an interrupt. `is_error` tells `after_tool` the result is an error;
    a `before_tool` hook that answers the call itself sets it to make its answer an error.
    `timeout_s` (seconds), when a `before_tool` hook sets it, bounds the call: running over
    it is a tool error.
    """

    run: StepContext
    call: ToolCall
    tool: Tool | None
    arguments: dict[str, Any]
    decision: Decision | None = None
    attempt: int = 0
    is_error: bool = False
    timeout_s: float | None = None

    @property
    def session_id(self) -> str:
        return self.run.state.session_id

    @property
    def tenant_id(self) -> str | None:
        return self.run.state.tenant_id

    @property
    def depth(self) -> int:
        return self.run.state.depth

    @property
    def state(self) -> State:
        return self.run.state

    @property
    def scratch(self) -> dict[str, Any]:
        return self.run.scratch
