"""The report as a rich terminal table with a summary underneath."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .report import CaseResult, EvalReport

__all__ = ["print_report", "trajectory_text"]


def trajectory_text(case: CaseResult, limit: int = 6) -> str:
    """The first trial's tool calls as "a -> b -> c" ("-" for none)."""
    if not case.trials:
        return "-"
    names = [c.name for c in case.trials[0].tool_calls]
    if len(names) > limit:
        names = [*names[:limit], f"+{len(names) - limit}"]
    return " -> ".join(names) or "-"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status(case: CaseResult) -> str:
    if case.errored:
        return "[bold red]ERROR[/]"
    if case.passed:
        return "[green]PASS[/]"
    return "[red]FAIL[/]" if case.passes == 0 else f"[yellow]{case.passes}/{len(case.trials)}[/]"


def print_report(report: EvalReport, console: Console | None = None) -> None:
    """Print one row per case (status, scores, tools, latency, cost) and the summary."""
    console = console or Console()
    stats = report.stats
    table = Table(title=f"spine eval: {report.dataset} ({report.agent})", title_justify="left")
    for column in ("case", "result", "scores", "tools", "latency", "cost"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("latency", "cost") else "left"
        )
    for case in report.cases:
        trial = case.trials[0] if case.trials else None
        scores = " ".join(
            f"[green]{escape(s.name)}={s.value:.2f}[/]"
            if s.passed
            else f"[red]{escape(s.name)}={s.value:.2f}[/] {escape(_short(s.detail))}".rstrip()
            for s in (trial.scores if trial else [])
        )
        if trial is not None and trial.error is not None:
            error = f"{trial.error.get('type')}: {trial.error.get('message', '')}"
            scores = f"[red]{escape(error)}[/]"
        latency = sum(t.latency_s for t in case.trials) / max(len(case.trials), 1)
        cost = sum(t.usage.cost_usd for t in case.trials)
        table.add_row(
            escape(case.id),
            _status(case),
            scores,
            escape(trajectory_text(case)),
            f"{latency:.2f}s",
            f"${cost:.4f}",
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
