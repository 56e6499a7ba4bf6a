"""The `spine eval` table: one row per case with its scores (scorers of the same name in a
case told apart by their parameters), why a failing case failed, and expected failures.

A case marks itself as an expected failure in its metadata::

    metadata:
      xfail: "why it fails"                 # always expected to fail
      xfail: {reason: "why", provider: test}  # only when the agent runs on this provider

An expected failure that fails is `XFAIL` and does not count against `--fail-under`; one that
passes is `XPASS`, which fails the evaluation (the mark no longer tells the truth).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from spine_eval import CaseResult, Dataset, EvalReport, ScorerSpec

__all__ = ["Verdicts", "expected_failures", "print_eval", "scorer_labels"]

_LABEL_VALUE = 24


def expected_failures(data: Dataset, provider: str) -> dict[str, str]:
    """Case id -> reason, for the cases expected to fail on `provider` (a provider name)."""
    found: dict[str, str] = {}
    for case in data.cases:
        mark = case.metadata.get("xfail")
        if isinstance(mark, str):
            found[case.id] = mark
        elif isinstance(mark, dict):
            only = mark.get("provider")
            if only is None or only == provider:
                found[case.id] = str(mark.get("reason") or "expected to fail")
    return found


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= _LABEL_VALUE else text[: _LABEL_VALUE - 3] + "..."


def scorer_labels(specs: Sequence[ScorerSpec]) -> list[str]:
    """A label per scorer: its name, plus as few `key=value` parameters as tell apart the
    scorers of the same name in `specs` (`#n` when their parameters are equal)."""
    labels = [s.name for s in specs]
    for name in {s.name for s in specs}:
        group = [i for i, s in enumerate(specs) if s.name == name]
        if len(group) < 2:
            continue
        keys: list[str] = []
        for key in dict.fromkeys(k for i in group for k in specs[i].params):
            values = {_short(specs[i].params.get(key)) for i in group}
            if len(values) > 1:
                keys.append(key)
                shown = {tuple(_short(specs[i].params.get(k)) for k in keys) for i in group}
                if len(shown) == len(group):
                    break
        for n, i in enumerate(group, 1):
            params = specs[i].params
            parts = [f"{k}={_short(params[k])}" for k in keys if k in params]
            labels[i] = f"{name}({','.join(parts)})" if parts else f"{name}#{n}"
    return labels


@dataclass(slots=True)
class Verdicts:
    """How the evaluation came out once expected failures are set aside.

    Attributes:
        runs: Runs of the cases that count (every case but the expected failures that
            failed).
        passed: Those of them that passed.
        xfailed: Expected failures that failed, as expected.
        xpassed: Ids of expected failures that passed (each fails the evaluation).
    """

    runs: int = 0
    passed: int = 0
    xfailed: int = 0
    xpassed: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        """Fraction of the counted runs that passed (1.0 when none count)."""
        return self.passed / self.runs if self.runs else 1.0


def _status(case: CaseResult, xfail: str | None) -> Text:
    if xfail is not None:
        return Text("XPASS", style="bold red") if case.passed else Text("XFAIL", style="yellow")
    if case.errored:
        return Text("ERROR", style="bold red")
    if case.passed:
        return Text("PASS", style="green")
    if case.passes == 0:
        return Text("FAIL", style="red")
    return Text(f"{case.passes}/{len(case.trials)}", style="yellow")


def _scores(case: CaseResult, labels: list[str], xfail: str | None) -> Text:
    trial = case.trials[0] if case.trials else None
    out = Text()
    if trial is None:
        return out
    if trial.error is not None:
        out.append(f"{trial.error.get('type')}: {trial.error.get('message', '')}", style="red")
        return out
    names = labels if len(labels) == len(trial.scores) else [s.scorer for s in trial.scores]
    for label, score in zip(names, trial.scores, strict=True):
        if out:
            out.append(" ")
        out.append(f"{label}={score.value:.2f}", style="green" if score.passed else "red")
    for label, score in zip(names, trial.scores, strict=True):
        if not score.passed and score.reason:
            out.append(f"\n✗ {label}: {score.reason}", style="red")
    if xfail is not None:
        out.append(f"\nexpected failure: {xfail}", style="yellow")
    return out


def _tools(case: CaseResult, limit: int = 6) -> str:
    if not case.trials:
        return "-"
    names = [c.name for c in case.trials[0].tool_calls]
    if len(names) > limit:
        names = [*names[:limit], f"+{len(names) - limit}"]
    return " -> ".join(names) or "-"


def print_eval(
    out: Console,
    report: EvalReport,
    labels: dict[str, list[str]],
    xfails: dict[str, str],
) -> Verdicts:
    """Print one row per case and the summary; returns the verdicts."""
    verdicts = Verdicts()
    table = Table(title=f"spine eval: {report.dataset} ({report.agent})", title_justify="left")
    for column in ("case", "result", "scores", "tools", "latency", "cost"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("latency", "cost") else "left"
        )
    for case in report.cases:
        xfail = xfails.get(case.id)
        if xfail is not None and not case.passed:
            verdicts.xfailed += 1
        else:
            if xfail is not None:
                verdicts.xpassed.append(case.id)
            verdicts.runs += len(case.trials)
            verdicts.passed += case.passes
        latency = sum(t.latency_s for t in case.trials) / max(len(case.trials), 1)
        cost = sum(t.usage.cost_usd for t in case.trials)
        table.add_row(
            case.id,
            _status(case, xfail),
            _scores(case, labels.get(case.id, []), xfail),
            _tools(case),
            f"{latency:.2f}s",
            f"${cost:.4f}",
        )
    out.print(table)
    _summary(out, report, verdicts)
    return verdicts


def _summary(out: Console, report: EvalReport, verdicts: Verdicts) -> None:
    stats = report.stats
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    counted = f"{verdicts.passed}/{verdicts.runs} runs"
    if verdicts.xfailed:
        counted += f"; {verdicts.xfailed} expected failure(s) failed as expected, not counted"
    grid.add_row("pass rate", f"{verdicts.pass_rate:.1%} ({counted})")
    grid.add_row("all runs", f"{stats.pass_rate:.1%} of {stats.trials} runs, {stats.cases} cases")
    if report.repeats > 1:
        k = report.repeats
        grid.add_row(
            f"pass@{k} / pass^{k}", f"{stats.pass_at_k[k]:.1%} / {stats.pass_hat_k[k]:.1%}"
        )
    for name, scorer in stats.scorers.items():
        grid.add_row(f"  {name}", f"mean {scorer.mean:.2f}, pass {scorer.pass_rate:.1%}")
    grid.add_row("cost", f"${stats.cost_usd_total:.4f} total, ${stats.cost_usd_avg:.4f} per run")
    grid.add_row(
        "tokens", f"{stats.total_tokens} ({stats.input_tokens} in, {stats.output_tokens} out)"
    )
    grid.add_row(
        "latency",
        f"avg {stats.latency_avg_s:.2f}s, p50 {stats.latency_p50_s:.2f}s, "
        f"p95 {stats.latency_p95_s:.2f}s",
    )
    grid.add_row("errors", f"{stats.error_rate:.1%}")
    grid.add_row("stop reasons", ", ".join(f"{k}: {v}" for k, v in stats.stop_reasons.items()))
    out.print(grid)
