"""The report as one self-contained HTML page: summary, charts drawn inline as SVG (pass rate
per scorer, latency histogram) and a per-case table with the answer, scores and tool trajectory.
No scripts, fonts or images are loaded from anywhere."""

from __future__ import annotations

import json
import time
from html import escape

from .report import CaseResult, EvalReport, Trial, score_labels

__all__ = ["latency_histogram_svg", "render_html", "scorer_bars_svg"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2328}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#59636e}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #d1d9e0;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}.charts{display:flex;flex-wrap:wrap;gap:32px}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d1d9e0;
padding:6px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
pre{white-space:pre-wrap;margin:0;max-height:14em;overflow:auto;font-size:12px}
.pass{color:#1a7f37}.fail{color:#d1242f}.err{color:#d1242f;font-weight:bold}.xfail{color:#9a6700}
.score{display:inline-block;margin:0 6px 2px 0}.tools{font-family:monospace;font-size:12px}
"""


def _bar_color(rate: float) -> str:
    return "#1a7f37" if rate >= 0.9 else "#bf8700" if rate >= 0.5 else "#d1242f"


def scorer_bars_svg(report: EvalReport) -> str:
    """A horizontal bar per scorer (plus "overall"), length = pass rate, as an inline SVG."""
    rows = [("overall", report.stats.pass_rate)]
    rows += [(name, s.pass_rate) for name, s in report.stats.scorers.items()]
    width, label, bar_h, gap = 460, 140, 18, 8
    height = len(rows) * (bar_h + gap) + gap
    span = width - label - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="pass rate per scorer">'
    ]
    for i, (name, rate) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        parts.append(
            f'<text x="{label - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{escape(name)}</text>"
            f'<rect x="{label}" y="{y}" width="{span}" height="{bar_h}" fill="#eef1f4"/>'
            f'<rect x="{label}" y="{y}" width="{span * rate:.1f}" height="{bar_h}" '
            f'fill="{_bar_color(rate)}"><title>{escape(name)}: {rate:.1%}</title></rect>'
            f'<text x="{label + span + 6}" y="{y + 13}" font-size="12">{rate:.0%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def latency_histogram_svg(report: EvalReport, bins: int = 10) -> str:
    """A histogram of per-run latency (seconds) with up to `bins` equal-width bins, as SVG."""
    values = [t.latency_s for c in report.cases for t in c.trials]
    width, height, pad = 460, 180, 28
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="latency histogram">'
    ]
    if values:
        low, high = min(values), max(values)
        count = max(1, min(bins, len(values)))
        step = (high - low) / count or 1.0
        counts = [0] * count
        for v in values:
            counts[min(int((v - low) / step), count - 1)] += 1
        top = max(counts)
        bar_w = (width - 2 * pad) / count
        for i, n in enumerate(counts):
            h = (height - 2 * pad) * n / top
            x, y = pad + i * bar_w, height - pad - h
            lo, hi = low + i * step, low + (i + 1) * step
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                f'fill="#0969da"><title>{lo:.3f}-{hi:.3f}s: {n} run(s)</title></rect>'
            )
            if n:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                    f'font-size="11">{n}</text>'
                )
        parts.append(
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
            f'stroke="#59636e"/>'
            f'<text x="{pad}" y="{height - 8}" font-size="11">{low:.3f}s</text>'
            f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">'
            f"{high:.3f}s</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _status(case: CaseResult, xfail: str | None) -> str:
    if xfail is not None:
        why = f'<br><span class="meta">{escape(xfail)}</span>'
        if case.passes:
            return f'<span class="err">xpass ({case.passes}/{len(case.trials)})</span>{why}'
        return f'<span class="xfail">xfail</span>{why}'
    if case.errored:
        return '<span class="err">error</span>'
    if case.passed:
        return '<span class="pass">pass</span>'
    return f'<span class="fail">fail ({case.passes}/{len(case.trials)})</span>'


def _trial_cells(trial: Trial) -> str:
    scores = "".join(
        f'<span class="score {"pass" if s.passed else "fail"}" title="{escape(s.detail)}">'
        f"{escape(label)} {s.value:.2f}</span>"
        for label, s in zip(score_labels(trial.scores), trial.scores, strict=True)
    )
    tools = "<br>".join(
        f"{escape(c.name)}({escape(json.dumps(c.arguments, ensure_ascii=False))})"
        + (' <span class="fail">error</span>' if c.is_error else "")
        for c in trial.tool_calls
    )
    answer = escape(trial.answer)
    if trial.error is not None:
        answer = (
            f'<span class="err">{escape(str(trial.error.get("type")))}</span>: '
            f"{escape(str(trial.error.get('message', '')))}"
        )
    return (
        f'<td>{scores or "-"}</td><td class="tools">{tools or "-"}</td>'
        f"<td><pre>{answer}</pre></td><td>{escape(trial.stopped_reason)}</td>"
        f"<td>{trial.latency_s:.3f}s</td><td>${trial.usage.cost_usd:.6f}</td>"
    )


def render_html(report: EvalReport) -> str:
    """The whole page as a string (UTF-8, no external references)."""
    s = report.stats
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.created_at))
    cards = [
        ("pass rate", f"{s.pass_rate:.1%}"),
        ("cases", str(s.cases)),
        ("error rate", f"{s.error_rate:.1%}"),
        ("cost", f"${s.cost_usd_total:.4f}"),
        ("tokens", str(s.total_tokens)),
        ("latency p50 / p95", f"{s.latency_p50_s:.2f}s / {s.latency_p95_s:.2f}s"),
    ]
    if report.repeats > 1:
        k = report.repeats
        cards.append((f"pass@{k} / pass^{k}", f"{s.pass_at_k[k]:.0%} / {s.pass_hat_k[k]:.0%}"))
    rows = []
    for case in report.cases:
        span = max(len(case.trials), 1)
        first = True
        for trial in case.trials:
            head = ""
            if first:
                head = (
                    f'<td rowspan="{span}"><b>{escape(case.id)}</b><br>'
                    f'<span class="meta">{escape(case.input)}</span></td>'
                    f'<td rowspan="{span}">{_status(case, report.expected_failure(case))}</td>'
                )
            rows.append(f"<tr>{head}{_trial_cells(trial)}</tr>")
            first = False
    cards_html = "".join(f"<div class='card'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in cards)
    stops = ", ".join(f"{escape(k)}: {v}" for k, v in s.stop_reasons.items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Evaluation: {escape(report.dataset)}</title>
<style>{_CSS}</style></head>
<body>
<h1>Evaluation: {escape(report.dataset)}</h1>
<p class="meta">agent {escape(report.agent)} · {s.cases} cases x {report.repeats} repeat(s) ·
concurrency {report.concurrency} · {when} · {report.duration_s:.2f}s · stop reasons: {stops}</p>
<div class="cards">{cards_html}</div>
<div class="charts">
<div><h2>Pass rate per scorer</h2>{scorer_bars_svg(report)}</div>
<div><h2>Latency</h2>{latency_histogram_svg(report)}</div>
</div>
<h2>Cases</h2>
<table>
<thead><tr><th>case</th><th>result</th><th>scores</th><th>tool trajectory</th><th>answer</th>
<th>stop</th><th>latency</th><th>cost</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>
</body>
</html>
"""
