"""Every first-party scorer on a passing and a failing run."""

from __future__ import annotations

from typing import Any

import pytest
from evalkit import make_case, make_result
from pydantic import BaseModel

from spine_core import PluginNotFoundError
from spine_eval import (
    Contains,
    CostBudget,
    ExactMatch,
    JSONSchema,
    LatencyBudget,
    Regex,
    Scorer,
    StructuredMatch,
    ToolCalled,
    ToolTrajectory,
    build_scorer,
    parse_scorer_spec,
)

pytestmark = pytest.mark.anyio


async def run(scorer: Scorer, result: Any, expected: Any = None, latency_s: float = 0.1) -> Any:
    return await scorer.score(make_case(expected), result, latency_s=latency_s)


async def test_exact_match_uses_case_expected_and_strips_whitespace() -> None:
    assert (await run(ExactMatch(), make_result(" Paris\n"), "Paris")).passed
    score = await run(ExactMatch(), make_result("paris"), "Paris")
    assert not score.passed and score.value == 0.0 and "expected 'Paris'" in score.reason


async def test_exact_match_case_insensitive_option() -> None:
    assert (await run(ExactMatch("PARIS", case_sensitive=False), make_result("paris"))).passed


async def test_contains_all_scores_fraction_found() -> None:
    score = await run(Contains(["alpha", "beta"]), make_result("Alpha only"))
    assert not score.passed and score.value == 0.5 and "beta" in score.reason
    assert (await run(Contains(["alpha", "beta"]), make_result("alpha and BETA"))).passed


async def test_contains_any_and_case_sensitive() -> None:
    assert (await run(Contains(["x", "beta"], mode="any"), make_result("beta"))).passed
    score = await run(Contains("Beta", case_sensitive=True), make_result("beta"))
    assert not score.passed


async def test_contains_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        Contains("a", mode="some")  # type: ignore[arg-type]


async def test_regex_search_and_fullmatch() -> None:
    assert (await run(Regex(r"\d+ files"), make_result("found 12 files"))).passed
    assert not (await run(Regex(r"\d+ files", full=True), make_result("found 12 files"))).passed
    assert (await run(Regex(r"found", flags="i"), make_result("FOUND"))).passed


async def test_regex_invalid_pattern_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid pattern"):
        Regex("(")


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "number", "minimum": -90}},
    "required": ["city", "temp"],
    "additionalProperties": False,
}


async def test_json_schema_validates_typed_output_and_json_answers() -> None:
    assert (await run(JSONSchema(SCHEMA), make_result(output={"city": "Oslo", "temp": 3}))).passed
    answer = '```json\n{"city": "Oslo", "temp": 3.5}\n```'
    assert (await run(JSONSchema(SCHEMA), make_result(answer))).passed


async def test_json_schema_reports_each_violation() -> None:
    score = await run(JSONSchema(SCHEMA), make_result(output={"city": 1, "temp": -100, "x": 0}))
    assert not score.passed
    assert "$.city: 1 is not of type 'string'" in score.detail
    assert "$.temp: -100 is less than the minimum of -90" in score.detail
    assert "('x' was unexpected)" in score.detail
    assert not (await run(JSONSchema(SCHEMA), make_result("not json"))).passed


async def test_json_schema_checks_every_keyword_of_the_dialect() -> None:
    """Keywords a hand-written subset skipped: if/then/else, dependentRequired, $ref into
    $defs, and `format` (checked as an assertion)."""
    schema = {
        "$defs": {"when": {"type": "string", "format": "date"}},
        "type": "object",
        "properties": {"kind": {"enum": ["trip", "note"]}, "date": {"$ref": "#/$defs/when"}},
        "if": {"properties": {"kind": {"const": "trip"}}},
        "then": {"required": ["date"]},
        "dependentRequired": {"date": ["kind"]},
    }
    ok = await run(JSONSchema(schema), make_result(output={"kind": "trip", "date": "2026-01-31"}))
    assert ok.passed, ok.detail
    missing = await run(JSONSchema(schema), make_result(output={"kind": "trip"}))
    assert "'date' is a required property" in missing.detail
    bad_date = await run(JSONSchema(schema), make_result(output={"kind": "trip", "date": "soon"}))
    assert "$.date: 'soon' is not a 'date'" in bad_date.detail
    lonely = await run(JSONSchema(schema), make_result(output={"date": "2026-01-31"}))
    assert "'kind' is a dependency of 'date'" in lonely.detail


def test_json_schema_rejects_an_invalid_schema_up_front() -> None:
    import jsonschema

    with pytest.raises(jsonschema.SchemaError):
        JSONSchema({"type": "strnig"})


async def test_json_schema_accepts_a_pydantic_model() -> None:
    class Weather(BaseModel):
        city: str
        temp: float

    assert (await run(JSONSchema(Weather), make_result(output=Weather(city="a", temp=1)))).passed
    assert not (await run(JSONSchema(Weather), make_result(output={"city": "a"}))).passed


async def test_structured_match_compares_nested_fields_with_tolerance() -> None:
    expected = {"city": "Oslo", "stats": {"temp": 3.0, "wind": 5}}
    output = {"city": "Oslo", "stats": {"temp": 3.04, "wind": 7}, "extra": True}
    score = await run(StructuredMatch(tolerance=0.1), make_result(output=output), expected)
    assert score.value == pytest.approx(2 / 3) and not score.passed
    assert "stats.wind: expected 5, got 7" in score.reason
    only = StructuredMatch(fields=["city", "stats.temp"], tolerance=0.1)
    assert (await run(only, make_result(output=output), expected)).passed


async def test_structured_match_missing_field() -> None:
    score = await run(StructuredMatch({"a": 1}), make_result(output={}))
    assert not score.passed and "(missing)" in score.reason


async def test_tool_called_counts_matching_calls_and_arguments() -> None:
    result = make_result(calls=[("search", {"q": "x", "n": 3}), ("read", {})])
    assert (await run(ToolCalled("search", arguments={"q": "x"}), result)).passed
    assert not (await run(ToolCalled("search", arguments={"q": "y"}), result)).passed
    assert not (await run(ToolCalled("write"), result)).passed
    assert (await run(ToolCalled("write", min_times=0, max_times=0), result)).passed
    assert not (await run(ToolCalled("read", min_times=0, max_times=0), result)).passed


async def test_tool_trajectory_modes() -> None:
    result = make_result(calls=[("a", {}), ("b", {"x": 1}), ("c", {})])
    assert (await run(ToolTrajectory(["a", "c"]), result)).passed
    assert not (await run(ToolTrajectory(["c", "a"]), result)).passed
    assert (await run(ToolTrajectory(["c", "a"], mode="any_order"), result)).passed
    assert (await run(ToolTrajectory(["a", "b", "c"], mode="exact"), result)).passed
    exact = await run(ToolTrajectory(["a", "b"], mode="exact"), result)
    assert not exact.passed and exact.value == pytest.approx(2 / 3)
    assert (await run(ToolTrajectory([{"name": "b", "arguments": {"x": 1}}]), result)).passed
    assert not (await run(ToolTrajectory([{"name": "b", "arguments": {"x": 2}}]), result)).passed


async def test_tool_trajectory_reads_expected_list_from_case() -> None:
    result = make_result(calls=[("a", {})])
    assert (await run(ToolTrajectory(), result, ["a"])).passed
    score = await run(ToolTrajectory(), result, ["a", "a"])
    assert not score.passed and score.value == 0.5


async def test_cost_budget_usd_and_tokens() -> None:
    assert (await run(CostBudget(0.01), make_result(cost_usd=0.005))).passed
    over = await run(CostBudget(0.01), make_result(cost_usd=0.02))
    assert not over.passed and over.value == pytest.approx(0.5)
    tokens = await run(CostBudget(max_tokens=100), make_result(tokens=(150, 50)))
    assert not tokens.passed and tokens.value == pytest.approx(0.5)
    with pytest.raises(ValueError):
        CostBudget()


async def test_latency_budget() -> None:
    assert (await run(LatencyBudget(1.0), make_result(), latency_s=0.5)).passed
    slow = await run(LatencyBudget(1.0), make_result(), latency_s=4.0)
    assert not slow.passed and slow.value == pytest.approx(0.25)


def test_scorer_specs_parse_every_documented_form() -> None:
    assert parse_scorer_spec("exact_match").params == {}
    spec = parse_scorer_spec("contains:values=[a, b],mode=all")
    assert spec.params == {"values": ["a", "b"], "mode": "all"}
    assert parse_scorer_spec('regex:{"pattern": "a,b"}').params == {"pattern": "a,b"}
    assert parse_scorer_spec({"cost_budget": {"max_usd": 0.5}}).params == {"max_usd": 0.5}
    with pytest.raises(ValueError):
        parse_scorer_spec("contains:novalue")


def test_every_first_party_scorer_is_an_entry_point() -> None:
    names = {
        "exact_match": {},
        "contains": {"values": "a"},
        "regex": {"pattern": "a"},
        "json_schema": {"schema": {}},
        "structured_match": {},
        "tool_called": {"name": "t"},
        "tool_trajectory": {"tools": ["t"]},
        "cost_budget": {"max_usd": 1},
        "latency_budget": {"max_s": 1},
        "llm_judge": {"model": "test"},
    }
    for name, params in names.items():
        scorer = build_scorer({name: params})
        assert isinstance(scorer, Scorer) and scorer.name == name


def test_unknown_scorer_lists_installed_ones() -> None:
    with pytest.raises(PluginNotFoundError, match="exact_match"):
        build_scorer("nope")
