"""spine_eval called exactly as the Spine API reference shows: evaluate, load_dataset, Dataset,
Case, EvalReport (its aggregates, `results`, `from_results`), Score, LLMJudge and scorers
written to the reference's `score(case, result)` protocol; and the issue-13 fixes to reports
and sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import spine_eval
from spine_backends import SQLiteCheckpoint
from spine_core import Agent, Message, Result, State
from spine_eval import Case, Dataset, EvalReport, LLMJudge, Score, evaluate, load_dataset

from .refkit import EMPTY, KEEP, KW, POS, RefProvider, documented

pytestmark = pytest.mark.anyio


class Mentions:
    """A scorer written to the reference's protocol: `name` and `score(case, result)`."""

    name = "mentions"

    async def score(self, case: Case, result: Result) -> Score:
        ok = (case.expected or "").lower() in (result.answer or "").lower()
        return Score(name=self.name, value=float(ok), passed=ok, detail="" if ok else "missing")


def echo_agent() -> Agent:
    def reply(messages: list[Message], tools: Any) -> str:
        return f"You said: {messages[-1].content}"

    return Agent(RefProvider([reply] * 20))


def test_every_documented_eval_name_is_exported() -> None:
    for name in ("evaluate", "load_dataset", "EvalReport", "Case", "Dataset", "LLMJudge", "Score"):
        assert name in spine_eval.__all__


def test_evaluate_signature() -> None:
    assert documented(
        evaluate,
        ("agent", POS, EMPTY),
        ("dataset", POS, EMPTY),
        ("scorers", POS, None),
        ("concurrency", KW, 1),
    )


def test_case_fields_and_defaults() -> None:
    case = Case(id="c1", input="hello")
    assert (case.id, case.input, case.expected, case.metadata) == ("c1", "hello", None, {})
    with pytest.raises(ValueError):
        Case(input="no id")  # type: ignore[call-arg]


def test_score_fields() -> None:
    score = Score(name="exact", value=1.0, passed=True, detail="matched")
    assert (score.name, score.value, score.passed, score.detail) == ("exact", 1.0, True, "matched")
    assert Score(name="x", value=0.0, passed=False).detail == ""


async def test_evaluate_runs_every_case_with_a_reference_style_scorer() -> None:
    """Bug fix: a scorer written to the reference's protocol failed on the `latency_s`
    keyword Spine passed."""
    dataset = Dataset(
        cases=[
            Case(id="a", input="apples", expected="apples"),
            Case(id="b", input="pears", expected="plums"),
        ]
    )
    report = await evaluate(echo_agent(), dataset, [Mentions()], concurrency=2)
    assert isinstance(report, EvalReport)
    assert [r.passed for r in report.results] == [True, False]
    assert report.results[1].scores[0].detail == "missing"
    assert (report.total, report.passed, report.pass_rate) == (2, 1, 0.5)
    assert report.scorer_means == {"mentions": 0.5}
    assert report.error_rate == 0.0 and report.stop_reasons == {"final": 2}
    assert report.latency_avg_s >= 0 and report.latency_p95_s >= report.latency_avg_s * 0
    assert report.tokens_total == 4 and report.cost_total_usd == 0.0 == report.cost_avg_usd


async def test_evaluate_without_scorers_passes_on_a_final_answer() -> None:
    report = await evaluate(echo_agent(), Dataset(cases=[Case(id="a", input="hi")]))
    assert report.passed == 1 and report.total == 1


def test_eval_report_from_results_aggregates_like_the_reference() -> None:
    case_results = [
        spine_eval.CaseResult(
            id=f"c{i}",
            input="q",
            trials=[
                spine_eval.Trial(
                    stopped_reason="final" if i else "error",
                    error=None if i else {"type": "ProviderError", "message": "down"},
                    latency_s=float(i + 1),
                    usage={"input_tokens": 3, "output_tokens": 2, "cost_usd": 0.01},
                    scores=[Score(name="exact", value=float(i % 2), passed=bool(i % 2))],
                    passed=bool(i % 2),
                )
            ],
        )
        for i in range(4)
    ]
    report = EvalReport.from_results(case_results)
    assert report.results == case_results
    assert (report.total, report.passed, report.pass_rate) == (4, 2, 0.5)
    assert report.scorer_means == {"exact": 0.5}
    assert report.cost_total_usd == pytest.approx(0.04)
    assert report.cost_avg_usd == pytest.approx(0.01)
    assert report.tokens_total == 20
    assert report.latency_avg_s == pytest.approx(2.5)
    assert report.latency_p95_s == pytest.approx(3.85)
    assert report.error_rate == 0.25 and report.stop_reasons == {"final": 3, "error": 1}
    first = report.results[0]
    assert (first.latency_s, first.tokens, first.cost_usd) == (1.0, 5, 0.01)
    assert first.error == "ProviderError: down" and first.stopped_reason == "error"
    dumped = json.loads(report.to_json())
    assert dumped["pass_rate"] == 0.5 and dumped["total"] == 4
    assert EvalReport.model_validate_json(report.to_json()).passed == 2


def test_load_dataset_yaml_mapping_and_json_list(tmp_path: Path) -> None:
    assert documented(load_dataset, ("path", POS, EMPTY))
    yaml_file = tmp_path / "cases.yaml"
    yaml_file.write_text("cases:\n  - input: first\n    expected: one\n  - input: second\n")
    json_file = tmp_path / "cases.json"
    json_file.write_text(json.dumps([{"input": "x"}, {"id": "named", "input": "y"}]))
    from_yaml, from_json = load_dataset(yaml_file), load_dataset(str(json_file))
    assert [c.id for c in from_yaml.cases] == ["case-0", "case-1"]  # the reference's default ids
    assert from_yaml.cases[0].expected == "one"
    assert [c.id for c in from_json.cases] == ["case-0", "named"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases: 3\n")
    with pytest.raises(ValueError):
        load_dataset(bad)


# -- LLMJudge --------------------------------------------------------------------------------


def test_llm_judge_signature() -> None:
    assert documented(LLMJudge, ("provider", POS, KEEP), ("threshold", KW, 0.5))
    assert LLMJudge(RefProvider()).name == "llm_judge"
    with pytest.raises(TypeError):
        LLMJudge()


async def test_llm_judge_grades_with_another_model() -> None:
    judge_model = RefProvider(
        [
            '{"score": 0.9, "pass": true, "reason": "names the city"}',
            '{"score": 0.4, "reason": "vague"}',
            "I cannot grade this.",
        ]
    )
    judge = LLMJudge(judge_model, threshold=0.5)
    case = Case(id="c", input="Where is the Eiffel tower?", expected="Paris")
    answer = Result(answer="In Paris.", state=State(session_id="s"))
    good, vague, broken = [await judge.score(case, answer) for _ in range(3)]
    assert (good.name, good.value, good.passed, good.detail) == (
        "llm_judge",
        0.9,
        True,
        "names the city",
    )
    assert (vague.value, vague.passed) == (0.4, False)  # no explicit verdict: the threshold
    assert (broken.value, broken.passed) == (0.0, False)
    assert "unparseable judge reply" in broken.detail
    prompt = judge_model.prompts[0][-1].content or ""
    assert "Eiffel" in prompt and "Paris" in prompt and "In Paris." in prompt


async def test_llm_judge_with_provider_keyword_in_evaluate() -> None:
    judge = LLMJudge(provider=RefProvider(['{"score": 1, "pass": true, "reason": "ok"}']))
    report = await evaluate(echo_agent(), Dataset(cases=[Case(id="a", input="hi")]), [judge])
    assert report.scorer_means == {"llm_judge": 1.0}


# -- reports and sessions ----------------------------------------------------------------------


async def test_markdown_report_escapes_html_and_lists_failure_reasons() -> None:
    dataset = Dataset(
        cases=[Case(id="xss", input="<script>alert(1)</script>", expected="<b>never</b>")]
    )
    report = await evaluate(echo_agent(), dataset, [Mentions()])
    markdown = report.to_markdown()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "## Failures" in markdown and "mentions: missing" in markdown


async def test_terminal_report_shows_failure_reasons() -> None:
    from rich.console import Console

    report = await evaluate(
        echo_agent(), Dataset(cases=[Case(id="a", input="x", expected="zzz")]), [Mentions()]
    )
    console = Console(record=True, width=200)
    report.print_table(console)
    assert "missing" in console.export_text()


async def test_eval_runs_leave_no_sessions_in_a_persistent_store(tmp_path: Path) -> None:
    """Bug fix: every eval run left its session in the user's `.spine/state.db`."""
    store = SQLiteCheckpoint(tmp_path / ".spine" / "state.db")

    def reply(messages: list[Message], tools: Any) -> str:
        return "ok"

    agent = Agent(RefProvider([reply] * 10), checkpoint=store)
    await agent.run("a real conversation", session_id="keep-me")
    await evaluate(agent, Dataset(cases=[Case(id=str(i), input="q") for i in range(3)]))
    assert [i.session_id for i in await store.list()] == ["keep-me"]
    kept = await evaluate(agent, Dataset(cases=[Case(id="k", input="q")]), keep_sessions=True)
    assert len(await store.list()) == 2 and kept.total == 1
