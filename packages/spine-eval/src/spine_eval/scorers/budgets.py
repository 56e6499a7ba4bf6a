"""Budget scorers: `CostBudget` (USD and tokens) and `LatencyBudget` (seconds)."""

from __future__ import annotations

from spine_core import Result

from ..dataset import Case
from ..scoring import Score

__all__ = ["CostBudget", "LatencyBudget", "trace_seconds"]


def _graded(limit: float, actual: float) -> float:
    """1 within the budget, else budget / actual (how far over, as a fraction)."""
    if actual <= limit:
        return 1.0
    return limit / actual if actual > 0 else 0.0


class CostBudget:
    """The run's own spend stays within a budget (scorers' spend, e.g. a judge's, not counted).

    Args:
        max_usd: Most US dollars the run may cost (`Result.usage.cost_usd`).
        max_tokens: Most input + output tokens the run may use.

    The value is 1 within budget, else budget / actual (the smaller one when both are set).

    Raises:
        ValueError: neither limit is given, or a limit is negative.
    """

    name = "cost_budget"

    def __init__(self, max_usd: float | None = None, *, max_tokens: int | None = None) -> None:
        if max_usd is None and max_tokens is None:
            raise ValueError("cost_budget: give max_usd and/or max_tokens")
        if (max_usd is not None and max_usd < 0) or (max_tokens is not None and max_tokens < 0):
            raise ValueError("cost_budget: limits must be >= 0")
        self.max_usd = max_usd
        self.max_tokens = max_tokens

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        values, parts = [], []
        cost, tokens = result.usage.cost_usd, result.usage.total_tokens
        if self.max_usd is not None:
            values.append(_graded(self.max_usd, cost))
            parts.append(f"${cost:.6f} of ${self.max_usd:.6f}")
        if self.max_tokens is not None:
            values.append(_graded(self.max_tokens, tokens))
            parts.append(f"{tokens} of {self.max_tokens} tokens")
        value = min(values)
        ok = value >= 1.0
        return Score(name=self.name, value=value, passed=ok, detail=", ".join(parts))


class LatencyBudget:
    """The run finishes within `max_s` seconds of wall-clock time (measured by `evaluate`;
    called without `latency_s`, the span of the run's trace events).

    Args:
        max_s: Seconds.

    The value is 1 within budget, else max_s / latency.

    Raises:
        ValueError: `max_s` is not positive.
    """

    name = "latency_budget"

    def __init__(self, max_s: float) -> None:
        if max_s <= 0:
            raise ValueError("latency_budget: max_s must be > 0")
        self.max_s = max_s

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        seconds = trace_seconds(result) if latency_s is None else latency_s
        value = _graded(self.max_s, seconds)
        return Score(
            name=self.name,
            value=value,
            passed=value >= 1.0,
            detail=f"{seconds:.3f}s of {self.max_s:.3f}s",
        )


def trace_seconds(result: Result) -> float:
    """Seconds from the run's first trace event to its last (0.0 with fewer than two): the
    latency of a run scored without `evaluate`'s own measurement."""
    if len(result.trace) < 2:
        return 0.0
    return max(0.0, result.trace[-1].ts - result.trace[0].ts)
