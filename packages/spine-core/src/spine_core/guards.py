"""Run ceilings checked before each step."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Usage
from .stop import StopReason

__all__ = ["Guards"]


@dataclass(slots=True, frozen=True)
class Guards:
    """Limits on one run, checked before each step in this priority order.

    Args:
        max_steps: Model calls per turn.
        max_cost_usd: Spend per turn, US dollars.
        max_tokens: Input + output tokens per turn.
        timeout_s: Wall-clock seconds per invocation; also cancels a model or tool call in
            flight when it runs out.
        max_depth: Deepest sub-agent delegation allowed (`Agent.as_tool`); the top-level
            agent is depth 0.
        max_retries_per_step: Model-call attempts a step may spend on `ErrorAction.retry` /
            `fallback` before the run fails.

    Cost and token ceilings are checked between calls, so a run may overshoot them by the
    one call in flight.
    """

    max_steps: int = 12
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    timeout_s: float | None = None
    max_depth: int = 8
    max_retries_per_step: int = 8

    def check(self, *, steps: int, usage: Usage, elapsed_s: float, depth: int) -> StopReason | None:
        """The first ceiling reached, or None."""
        if steps >= self.max_steps:
            return StopReason.MAX_STEPS
        if self.max_cost_usd is not None and usage.cost_usd >= self.max_cost_usd:
            return StopReason.MAX_COST
        if self.max_tokens is not None and usage.total_tokens >= self.max_tokens:
            return StopReason.MAX_TOKENS
        if self.timeout_s is not None and elapsed_s >= self.timeout_s:
            return StopReason.TIMEOUT
        if depth > self.max_depth:
            return StopReason.MAX_DEPTH
        return None
