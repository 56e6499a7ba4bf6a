"""Report numbers and every rendering: JSON (through the model), HTML (through a parser),
Markdown and the terminal table; plus baseline comparison."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from spine_core import Agent, FunctionProvider, Message, Usage
from spine_eval import (
    Case,
    CaseResult,
    Contains,
    Dataset,
    EvalReport,
    ExactMatch,
    Score,
    Trial,
    evaluate,
)

pytestmark = pytest.mark.anyio


def trial(passed: bool, latency: float = 1.0, cost: float = 0.0, stop: str = "final") -> Trial:
    return Trial(
        stopped_reason=stop,
        passed=passed,
        latency_s=latency,
        usage=Usage(input_tokens=10, output_tokens=5, cost_usd=cost),
        scores=[Score(scorer="exact_match", value=float(passed), passed=passed)],
        error=None if stop != "error" else {"type": "RuntimeError", "message": "x"},
    )


def report_of(outcomes: dict[str, list[bool]]) -> EvalReport:
    return EvalReport(
        repeats=max(len(v) for v in outcomes.values()),
        cases=[
            CaseResult(id=cid, input="q", trials=[trial(p) for p in passes])
            for cid, passes in outcomes.items()
        ],
    )


def test_summary_aggregates() -> None:
    report = EvalReport(
        cases=[
            CaseResult(id="a", input="q", trials=[trial(True, 1.0, 0.01)]),
            CaseResult(id="b", input="q", trials=[trial(False, 2.0, 0.03)]),
            CaseResult(id="c", input="q", trials=[trial(False, 3.0, 0.02, stop="error")]),
            CaseResult(id="d", input="q", trials=[trial(True, 4.0, 0.0, stop="max_steps")]),
        ]
    )
    s = report.stats
    assert s.pass_rate == 0.5 and s.case_pass_rate == 0.5
    assert s.cost_usd_total == pytest.approx(0.06) and s.cost_usd_avg == pytest.approx(0.015)
    assert s.total_tokens == 60 and s.tokens_avg == 15
    assert s.latency_avg_s == 2.5 and s.latency_p50_s == 2.5
    assert s.latency_p95_s == pytest.approx(3.85)
    assert s.error_rate == 0.25
    assert s.stop_reasons == {"final": 2, "error": 1, "max_steps": 1}
    assert s.scorers["exact_match"].mean == 0.5 and s.scorers["exact_match"].count == 4


def echo(messages: Sequence[Message], tools: Any, settings: Any) -> str:
    return "<b>" + messages[-1].text + "</b>"


async def real_report(agent: Agent) -> EvalReport:
    data = Dataset(
        name="demo",
        cases=[Case(id="one", input="hello"), Case(id="two", input="world", expected="nope")],
    )
    return await evaluate(agent, data, [Contains("weather"), ExactMatch("never")], repeats=2)


async def test_json_round_trips_through_the_model(agent: Agent, tmp_path: Path) -> None:
    report = await real_report(agent)
    path = report.save(tmp_path / "r.json")
    loaded = EvalReport.load(path)
    assert loaded == report
    assert json.loads(path.read_text())["summary"]["pass_rate"] == report.pass_rate
    assert loaded.case("one").trials[1].tool_calls[0].name == "weather"


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_html_is_one_self_contained_page_with_charts_and_cases(tmp_path: Path) -> None:
    agent = Agent(FunctionProvider(echo))
    data = Dataset(cases=[Case(id="x<1>", input="<script>alert(1)</script>")])
    report = await evaluate(agent, data, [Contains("script")])
    page = report.save(tmp_path / "r.html").read_text()
    parser = Collector()
    parser.feed(page)
    parser.close()
    assert parser.tags.count("svg") == 2  # pass rate bars + latency histogram
    assert "rect" in parser.tags and "table" in parser.tags
    assert "script" not in parser.tags  # the answer is escaped, never markup
    assert parser.external == []
    text = "".join(parser.text)
    assert "x<1>" in text and "<b><script>alert(1)</script></b>" in text
    assert "contains 1.00" in text


async def test_markdown_has_summary_scorers_and_one_row_per_case(agent: Agent) -> None:
    report = await real_report(agent)
    markdown = report.to_markdown()
    assert "| pass rate | 0.0% |" in markdown
    assert "| contains | 1.000 | 100.0% | 4 |" in markdown
    assert "pass@2 / pass^2" in markdown
    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith("| one ") or line.startswith("| two ")
    ]
    assert len(rows) == 2 and "weather -&gt; clock" in rows[0]


async def test_terminal_table_lists_cases_and_summary(agent: Agent) -> None:
    report = await real_report(agent)
    out = io.StringIO()
    report.print_table(Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "one" in text and "two" in text and "pass rate" in text and "p95" in text


def test_save_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.json, \.md or \.html"):
        report_of({"a": [True]}).save(tmp_path / "r.txt")


def test_compare_marks_regressions_and_improvements() -> None:
    baseline = report_of(
        {"a": [True, True], "b": [False, False], "c": [True, True], "gone": [True]}
    )
    current = report_of({"a": [True, False], "b": [True, True], "c": [True, True], "new": [False]})
    comparison = current.compare(baseline)
    status = {c.id: c.status for c in comparison.cases}
    assert status == {
        "a": "regression",
        "b": "improvement",
        "c": "unchanged",
        "new": "new",
        "gone": "removed",
    }
    assert comparison.has_regressions
    assert comparison.cases[0].scores == {"exact_match": -0.5}
    assert "regression: a (100% -> 50%)" in comparison.describe()


def test_compare_without_regressions_passes_and_tolerance_applies() -> None:
    baseline = report_of({"a": [True], "b": [True]})
    assert not report_of({"a": [True], "b": [True]}).compare(baseline).has_regressions
    dropped = report_of({"a": [True], "b": [False]}).compare(baseline, tolerance=0.9)
    assert dropped.pass_rate_delta == -0.5 and not dropped.aggregate_regression
    assert dropped.has_regressions  # case b still regressed
