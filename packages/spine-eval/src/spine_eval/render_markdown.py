"""The report as GitHub-flavoured Markdown."""

from __future__ import annotations

from .render_terminal import trajectory_text
from .report import CaseResult, EvalReport

__all__ = ["render_markdown"]


def _cell(text: str, limit: int = 120) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status(case: CaseResult) -> str:
    if case.errored:
        return "💥 error"
    if case.passed:
        return "✅ pass"
    return f"❌ {case.passes}/{len(case.trials)}"


def render_markdown(report: EvalReport) -> str:
    """Summary, scorer table and per-case table (first trial's answer, scores and tools)."""
    s = report.stats
    lines = [
        f"# Evaluation: {report.dataset}",
        "",
        f"Agent `{report.agent}` · {s.cases} cases x {report.repeats} repeat(s) · "
        f"concurrency {report.concurrency}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| pass rate | {s.pass_rate:.1%} |",
        f"| cases passed | {s.case_pass_rate:.1%} |",
    ]
    for k in sorted(s.pass_at_k):
        if k > 1:
            lines.append(f"| pass@{k} / pass^{k} | {s.pass_at_k[k]:.1%} / {s.pass_hat_k[k]:.1%} |")
    lines += [
        f"| error rate | {s.error_rate:.1%} |",
        f"| cost (USD) | {s.cost_usd_total:.6f} total · {s.cost_usd_avg:.6f} per run |",
        f"| tokens | {s.total_tokens} ({s.input_tokens} in · {s.output_tokens} out) |",
        f"| latency (s) | avg {s.latency_avg_s:.3f} · p50 {s.latency_p50_s:.3f} · "
        f"p95 {s.latency_p95_s:.3f} |",
        "| stop reasons | " + ", ".join(f"{k}: {v}" for k, v in s.stop_reasons.items()) + " |",
    ]
    if s.judge_usage.requests:
        lines.append(
            f"| judge usage | {s.judge_usage.total_tokens} tokens · "
            f"{s.judge_usage.cost_usd:.6f} USD |"
        )
    if s.scorers:
        lines += ["", "## Scorers", "", "| scorer | mean | pass rate | runs |", "|---|---|---|---|"]
        for name, scorer in s.scorers.items():
            lines.append(
                f"| {name} | {scorer.mean:.3f} | {scorer.pass_rate:.1%} | {scorer.count} |"
            )
    lines += [
        "",
        "## Cases",
        "",
        "| case | result | scores | tools | answer |",
        "|---|---|---|---|---|",
    ]
    for case in report.cases:
        trial = case.trials[0] if case.trials else None
        if trial is None:
            continue
        scores = ", ".join(
            f"{x.scorer} {x.value:.2f}{'' if x.passed else ' ✗'}" for x in trial.scores
        )
        answer = trial.answer
        if trial.error is not None:
            answer = f"**{trial.error.get('type')}**: {trial.error.get('message', '')}"
        lines.append(
            f"| {_cell(case.id)} | {_status(case)} | {_cell(scores) or '-'} | "
            f"{_cell(trajectory_text(case))} | {_cell(answer)} |"
        )
    return "\n".join(lines) + "\n"
