"""The report as GitHub-flavoured Markdown."""

from __future__ import annotations

from html import escape

from .render_terminal import trajectory_text, trial_verdict
from .report import CaseResult, EvalReport, score_labels

__all__ = ["md_text", "render_markdown"]

_MARKUP = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|#"})


def md_text(text: str, limit: int | None = 120) -> str:
    """`text` as inert Markdown on one line: HTML (`<`, `>`, `&`) becomes entities, so an
    answer or input cannot inject tags into a rendered report; Markdown markup (`` ` * _ [ ]
    | # \\ ``) is backslash-escaped; whitespace runs become one space; cut to `limit`
    characters (None: no cut)."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return escape(text, quote=False).translate(_MARKUP)


def _cell(text: str, limit: int = 120) -> str:
    return md_text(text, limit)


def _status(case: CaseResult, xfail: str | None) -> str:
    """The case's verdict over all its runs."""
    runs = f"{case.passes}/{len(case.trials)}"
    if xfail is not None:
        status = "⚠️ xfail" if case.passes == 0 else f"❗ xpass {runs}"
        return f"{status} ({_cell(xfail, 80)})"
    if case.errored:
        return "💥 error"
    if case.passed:
        return "✅ pass"
    return f"❌ {runs}"


_MARK = {
    "PASS": "✅ pass",
    "FAIL": "❌ fail",
    "ERROR": "💥 error",
    "XFAIL": "⚠️ xfail",
    "XPASS": "❗ xpass",
}


def render_markdown(report: EvalReport) -> str:
    """Summary, scorer table and a row per case: its verdict over all runs (xfail / xpass with
    the reason for expected failures), every run's scores (duplicate scorers numbered), the
    first run's tools and answer; then every failing run and why."""
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
        "| case | result | scores | tools | input | answer |",
        "|---|---|---|---|---|---|",
    ]
    for case in report.cases:
        if not case.trials:
            continue
        xfail = report.expected_failure(case)
        many = len(case.trials) > 1
        runs = []
        for trial in case.trials:
            labels = score_labels(trial.scores)
            scores = ", ".join(
                f"{label} {x.value:.2f}{'' if x.passed else ' ✗'}"
                for label, x in zip(labels, trial.scores, strict=True)
            )
            if trial.error is not None:
                scores = f"{trial.error.get('type')}: {trial.error.get('message', '')}"
            prefix = (
                f"run {trial.repeat + 1} {_MARK[trial_verdict(trial, xfail)]}: " if many else ""
            )
            runs.append(prefix + (scores or "-"))
        first = case.trials[0]
        answer = _cell(first.answer)
        if first.error is not None:
            error = f"{first.error.get('type')}: {first.error.get('message', '')}"
            answer = f"**{_cell(error)}**"
        lines.append(
            f"| {_cell(case.id)} | {_status(case, xfail)} | {_cell('; '.join(runs), 400)} | "
            f"{_cell(trajectory_text(case))} | {_cell(case.input, 80)} | {answer} |"
        )
    failures = [(case, repeat, why) for case in report.cases for repeat, why in case.failures()]
    if failures:
        lines += ["", "## Failures", ""]
        for case, repeat, why in failures:
            run = f" (run {repeat + 1})" if report.repeats > 1 else ""
            expected = " (expected failure)" if report.expected_failure(case) else ""
            lines.append(f"- **{_cell(case.id)}**{run}{expected}: {md_text(why, 400)}")
    return "\n".join(lines) + "\n"
