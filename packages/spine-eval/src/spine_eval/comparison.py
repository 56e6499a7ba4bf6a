"""Comparing an evaluation with a baseline: regressions and improvements per case and overall.

Rules: cases are matched by id. A case regresses when its pass rate (fraction of trials that
passed) drops below the baseline's, and improves when it rises. Cases only in the current
report are "new", only in the baseline "removed"; neither counts as a regression. The aggregate
regresses when the overall pass rate drops by more than `tolerance` (a fraction, default 0).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .report import EvalReport

__all__ = ["CaseDelta", "Comparison", "compare"]

Status = Literal["regression", "improvement", "unchanged", "new", "removed"]


class CaseDelta(BaseModel):
    """How one case changed against the baseline.

    Attributes:
        id: Case id.
        status: "regression", "improvement", "unchanged", "new" or "removed".
        baseline_pass_rate, pass_rate: Fraction of trials that passed (None when absent).
        scores: Scorer name -> change of its mean value (current - baseline).
    """

    id: str
    status: Status
    baseline_pass_rate: float | None = None
    pass_rate: float | None = None
    scores: dict[str, float] = Field(default_factory=dict)


class Comparison(BaseModel):
    """A report compared with its baseline.

    Attributes:
        cases: One `CaseDelta` per case id of either report (current order, then removed ones).
        pass_rate, baseline_pass_rate: Overall pass rates.
        pass_rate_delta: Current - baseline.
        cost_usd_delta: Change of the total cost, USD.
        latency_p95_delta_s: Change of the p95 latency, seconds.
        scorer_deltas: Scorer name -> change of its mean value.
        aggregate_regression: The overall pass rate dropped by more than the tolerance.
    """

    cases: list[CaseDelta]
    pass_rate: float
    baseline_pass_rate: float
    pass_rate_delta: float
    cost_usd_delta: float
    latency_p95_delta_s: float
    scorer_deltas: dict[str, float] = Field(default_factory=dict)
    aggregate_regression: bool = False

    @property
    def regressions(self) -> list[CaseDelta]:
        return [c for c in self.cases if c.status == "regression"]

    @property
    def improvements(self) -> list[CaseDelta]:
        return [c for c in self.cases if c.status == "improvement"]

    @property
    def has_regressions(self) -> bool:
        """Some case regressed or the aggregate pass rate dropped (what should fail CI)."""
        return bool(self.regressions) or self.aggregate_regression

    def describe(self) -> str:
        """A few plain-text lines: the aggregate change and each regressed / improved case."""
        lines = [
            f"pass rate {self.baseline_pass_rate:.1%} -> {self.pass_rate:.1%} "
            f"({self.pass_rate_delta:+.1%}); {len(self.regressions)} regression(s), "
            f"{len(self.improvements)} improvement(s)"
        ]
        for delta in self.cases:
            if delta.status in ("regression", "improvement"):
                lines.append(
                    f"  {delta.status}: {delta.id} "
                    f"({delta.baseline_pass_rate:.0%} -> {delta.pass_rate:.0%})"
                )
        return "\n".join(lines)


def _means(report: EvalReport, case_id: str) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for trial in report.case(case_id).trials:
        for score in trial.scores:
            sums.setdefault(score.name, []).append(score.value)
    return {name: sum(v) / len(v) for name, v in sums.items()}


def compare(current: EvalReport, baseline: EvalReport, *, tolerance: float = 0.0) -> Comparison:
    """Compare `current` with `baseline` (rules in the module docstring).

    Args:
        current: The new report.
        baseline: The earlier report (e.g. `EvalReport.load("baseline.json")`).
        tolerance: Allowed drop of the overall pass rate before it counts as a regression
            (a fraction: 0.05 = five percentage points).
    """
    before = {c.id: c for c in baseline.cases}
    now_ids = {c.id for c in current.cases}
    deltas: list[CaseDelta] = []
    for case in current.cases:
        old = before.get(case.id)
        if old is None:
            deltas.append(CaseDelta(id=case.id, status="new", pass_rate=case.pass_rate))
            continue
        status: Status = "unchanged"
        if case.pass_rate < old.pass_rate:
            status = "regression"
        elif case.pass_rate > old.pass_rate:
            status = "improvement"
        new_means, old_means = _means(current, case.id), _means(baseline, case.id)
        deltas.append(
            CaseDelta(
                id=case.id,
                status=status,
                baseline_pass_rate=old.pass_rate,
                pass_rate=case.pass_rate,
                scores={k: v - old_means[k] for k, v in new_means.items() if k in old_means},
            )
        )
    for case in baseline.cases:
        if case.id not in now_ids:
            deltas.append(
                CaseDelta(id=case.id, status="removed", baseline_pass_rate=case.pass_rate)
            )
    now, then = current.stats, baseline.stats
    delta = now.pass_rate - then.pass_rate
    return Comparison(
        cases=deltas,
        pass_rate=now.pass_rate,
        baseline_pass_rate=then.pass_rate,
        pass_rate_delta=delta,
        cost_usd_delta=now.cost_usd_total - then.cost_usd_total,
        latency_p95_delta_s=now.latency_p95_s - then.latency_p95_s,
        scorer_deltas={
            name: s.mean - then.scorers[name].mean
            for name, s in now.scorers.items()
            if name in then.scorers
        },
        aggregate_regression=delta < -tolerance - 1e-12,
    )
