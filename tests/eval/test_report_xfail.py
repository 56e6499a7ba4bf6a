"""Reports in the terminal, Markdown and HTML show expected failures as XFAIL (with the
reason) and an expected failure that passed as XPASS, every repeat of a case, and duplicate
scorers apart."""

from __future__ import annotations

import io

from rich.console import Console

from spine_eval import CaseResult, EvalReport, Trial
from spine_eval.report import expected_failure, score_labels
from spine_eval.scoring import Score


def _trial(repeat: int, *values: tuple[str, bool]) -> Trial:
    scores = [
        Score(name=n, value=float(ok), passed=ok, detail=f"{n} said {ok}") for n, ok in values
    ]
    return Trial(
        repeat=repeat,
        answer=f"answer {repeat}",
        stopped_reason="final",
        scores=scores,
        passed=all(ok for _, ok in values),
    )


def _report(provider: str | None = "test") -> EvalReport:
    ok = CaseResult(
        id="lists-files",
        input="What files?",
        trials=[_trial(0, ("contains", True), ("contains", True))],
    )
    flaky = CaseResult(
        id="flaky",
        input="Sometimes",
        trials=[_trial(0, ("contains", True)), _trial(1, ("contains", False))],
    )
    known = CaseResult(
        id="reads-the-question",
        input="Read setup.py",
        metadata={"xfail": {"provider": "test", "reason": "the test provider reads README.md"}},
        trials=[_trial(0, ("contains", True), ("contains", False))],
    )
    surprise = CaseResult(
        id="always-xfail",
        input="?",
        metadata={"xfail": "never works"},
        trials=[_trial(0, ("contains", True))],
    )
    return EvalReport(
        dataset="demo", repeats=2, provider=provider, cases=[ok, flaky, known, surprise]
    )


def test_expected_failure_reads_the_mark_for_the_provider() -> None:
    report = _report()
    known, surprise = report.cases[2], report.cases[3]
    assert report.expected_failure(known) == "the test provider reads README.md"
    assert expected_failure(known, "anthropic") is None
    assert expected_failure(known, None) is None
    assert expected_failure(surprise, "anthropic") == "never works"
    assert report.expected_failure(report.cases[0]) is None


def test_duplicate_scorers_are_numbered_within_a_run() -> None:
    scores = _trial(0, ("contains", True), ("contains", False), ("regex", True)).scores
    assert score_labels(scores) == ["contains", "contains #2", "regex"]
    failures = _report().cases[2].failures()
    assert failures == [(0, "contains #2: contains said False")]


def test_terminal_report_shows_xfail_xpass_every_run_and_numbered_scorers() -> None:
    out = io.StringIO()
    _report().print_table(Console(file=out, width=220, color_system=None))
    lines = out.getvalue().splitlines()
    known = next(line for line in lines if "reads-the-question" in line)
    assert "XFAIL" in known and "expected failure: the test provider reads README.md" in known
    assert "contains #2=0.00" in known
    assert "XPASS" in next(line for line in lines if "always-xfail" in line)
    assert any("flaky (run 1)" in line and "PASS" in line for line in lines)
    assert any("(run 2)" in line and "FAIL" in line for line in lines)


def test_markdown_report_shows_xfail_xpass_and_every_run() -> None:
    markdown = _report().to_markdown()
    row = {line.split(" | ")[0][2:]: line for line in markdown.splitlines() if " | " in line}
    assert "⚠️ xfail (the test provider reads README.md)" in row["reads-the-question"]
    assert r"contains \#2 0.00 ✗" in row["reads-the-question"]  # Markdown-escaped
    assert "❗ xpass 1/1 (never works)" in row["always-xfail"]
    assert "run 1 ✅ pass: contains 1.00; run 2 ❌ fail: contains 0.00 ✗" in row["flaky"]
    assert (
        r"- **reads-the-question** (run 1) (expected failure): contains \#2: contains said"
        in markdown
    )


def test_html_report_shows_xfail_and_every_run() -> None:
    html = _report().to_html()
    assert '<span class="xfail">xfail</span><br><span class="meta">the test provider' in html
    assert '<span class="err">xpass (1/1)</span>' in html
    assert "contains #2 0.00" in html
    assert html.count("answer 1") == 1  # the flaky case's second run has its own row


def test_without_a_provider_only_unconditional_marks_apply() -> None:
    markdown = _report(provider=None).to_markdown()
    assert "xfail (the test provider" not in markdown
    assert "❗ xpass 1/1 (never works)" in markdown
