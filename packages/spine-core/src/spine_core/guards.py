"""Run ceilings checked before each step."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .state import State
from .stop import StopReason

__all__ = ["Guards"]


class Guards(BaseModel):
    """Declarative limits on one run, checked before each step; None means unlimited.

    Attributes:
        max_steps: Model calls per run.
        max_cost_usd: Spend per run, US dollars.
        max_tokens: Input + output tokens per run.
        timeout_s: Wall-clock seconds per invocation; also cancels a model or tool call in
            flight when it runs out.
        max_depth: Deepest sub-agent delegation allowed (`Agent.as_tool`); the top-level
            agent is depth 0.
        max_retries_per_step: Model-call attempts a step may spend on `ErrorAction.retry` /
            `fallback` before the run fails.

    Cost and token ceilings are checked before the next step, so a run may overshoot them by
    the one call in flight: they stop runaway spend, they are not exact-to-the-cent caps.
    """

    model_config = ConfigDict(defer_build=True)

    max_steps: int | None = 12
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    timeout_s: float | None = None
    max_depth: int | None = 8
    max_retries_per_step: int = 8

    def check(self, state: State, elapsed_s: float) -> StopReason | None:
        """The tripped `StopReason`, or None to continue.

        Checked in priority order, so the most specific budget wins the report: max_depth,
        max_steps, max_cost_usd, max_tokens, timeout_s. `elapsed_s` is seconds since the run
        started. Steps, cost and tokens count the current run (`State.run_usage`), so a long
        chat session is not stopped by its history.
        """
        if self.max_depth is not None and state.depth > self.max_depth:
            return StopReason.MAX_DEPTH
        if self.max_steps is not None and state.step >= self.max_steps:
            return StopReason.MAX_STEPS
        usage, start = state.usage, state.usage_at_run_start  # counted per run
        if self.max_cost_usd is not None and usage.cost_usd - start.cost_usd >= self.max_cost_usd:
            return StopReason.MAX_COST
        if (
            self.max_tokens is not None
            and usage.total_tokens - start.total_tokens >= self.max_tokens
        ):
            return StopReason.MAX_TOKENS
        if self.timeout_s is not None and elapsed_s >= self.timeout_s:
            return StopReason.TIMEOUT
        return None
