"""The report as a rich terminal table with a summary underneath."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .report import CaseResult, EvalReport, Trial, score_labels

__all__ = ["print_report", "trajectory_text", "trial_verdict"]


def trajectory_text(case: CaseResult, limit: int = 6, *, trial: Trial | None = None) -> str:
    """The tool calls of `trial` (default: the case's first) as "a -> b -> c" ("-" for
    none)."""
    if trial is None:
        if not case.trials:
            return "-"
        trial = case.trials[0]
    names = [c.name for c in trial.tool_calls]
    if len(names) > limit:
        names = [*names[:limit], f"+{len(names) - limit}"]
    return " -> ".join(names) or "-"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def trial_verdict(trial: Trial, xfail: str | None) -> str:
    """One run's verdict: PASS, FAIL or ERROR; for a case expected to fail (`xfail` its
    reason), XFAIL when the run failed or errored as expected and XPASS when it passed."""
    if xfail is not None:
        return "XPASS" if trial.passed else "XFAIL"
    if trial.error is not None:
        return "ERROR"
    return "PASS" if trial.passed else "FAIL"


_STYLE = {
    "PASS": "green",
    "FAIL": "red",
    "ERROR": "bold red",
    "XFAIL": "yellow",
    "XPASS": "bold red",
}


def print_report(report: EvalReport, console: Console | None = None) -> None:
    """Print one row per run of each case (verdict, scores, tools, latency, cost; XFAIL /
    XPASS for expected failures, with the reason) and the summary."""
    console = console or Console()
    stats = report.stats
    table = Table(title=f"spine eval: {report.dataset} ({report.agent})", title_justify="left")
    for column in ("case", "result", "scores", "tools", "latency", "cost"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("latency", "cost") else "left"
        )
    for case in report.cases:
        xfail = report.expected_failure(case)
        for trial in case.trials:
            labels = score_labels(trial.scores)
            scores = " ".join(
                f"[green]{escape(label)}={s.value:.2f}[/]"
                if s.passed
                else f"[red]{escape(label)}={s.value:.2f}[/] {escape(_short(s.detail))}".rstrip()
                for label, s in zip(labels, trial.scores, strict=True)
            )
            if trial.error is not None:
                error = f"{trial.error.get('type')}: {trial.error.get('message', '')}"
                scores = f"[red]{escape(error)}[/]"
            if xfail is not None:
                scores += f" [yellow]expected failure: {escape(_short(xfail))}[/]"
            verdict = trial_verdict(trial, xfail)
            name = case.id if trial is case.trials[0] else ""
            if len(case.trials) > 1:
                name = f"{name} (run {trial.repeat + 1})".lstrip()
            table.add_row(
                escape(name),
                f"[{_STYLE[verdict]}]{verdict}[/]",
                scores.strip(),
                escape(trajectory_text(case, trial=trial)),
                f"{trial.latency_s:.2f}s",
                f"${trial.usage.cost_usd:.4f}",
            )
    console.print(table)
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row(
        "pass rate", f"{stats.pass_rate:.1%} ({stats.trials} runs, {stats.cases} cases)"
    )
    if report.repeats > 1:
        k = report.repeats
        summary.add_row(
            f"pass@{k} / pass^{k}", f"{stats.pass_at_k[k]:.1%} / {stats.pass_hat_k[k]:.1%}"
        )
    for name, scorer in stats.scorers.items():
        summary.add_row(f"  {name}", f"mean {scorer.mean:.2f}, pass {scorer.pass_rate:.1%}")
    summary.add_row("cost", f"${stats.cost_usd_total:.4f} total, ${stats.cost_usd_avg:.4f} per run")
    summary.add_row(
        "tokens", f"{stats.total_tokens} ({stats.input_tokens} in, {stats.output_tokens} out)"
    )
    summary.add_row(
        "latency",
        f"avg {stats.latency_avg_s:.2f}s, p50 {stats.latency_p50_s:.2f}s, "
        f"p95 {stats.latency_p95_s:.2f}s",
    )
    summary.add_row("errors", f"{stats.error_rate:.1%}")
    summary.add_row("stop reasons", ", ".join(f"{k}: {v}" for k, v in stats.stop_reasons.items()))
    if stats.judge_usage.requests:
        summary.add_row(
            "judge", f"{stats.judge_usage.total_tokens} tokens, ${stats.judge_usage.cost_usd:.4f}"
        )
    console.print(summary)
