"""`LLMJudge`: the prompt it sends, tolerant verdict parsing, and its own usage."""

from __future__ import annotations

import pytest
from evalkit import make_case, make_result

from spine_core import Message, ModelResponse, ScriptedProvider, Usage
from spine_eval import LLMJudge
from spine_eval.scorers import parse_verdict

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("text", "score", "passed"),
    [
        ('{"score": 0.8, "passed": true, "reason": "good"}', 0.8, True),
        ('Sure!\n```json\n{"score": 9, "reason": "fine",}\n```', 0.9, None),
        ("{'Score': '7/10', 'verdict': 'FAIL'}", 0.7, False),
        ('{"rating": 85, "result": "pass"}', 0.85, True),
        ("Score: 3/5. Verdict: PASS", 0.6, True),
    ],
)
def test_parse_verdict_tolerates_real_model_replies(
    text: str, score: float, passed: bool | None
) -> None:
    got_score, got_passed, _ = parse_verdict(text)
    assert got_score == pytest.approx(score)
    assert got_passed is passed


def test_parse_verdict_without_score_or_verdict_raises() -> None:
    with pytest.raises(ValueError, match="no score or verdict"):
        parse_verdict("I think it is nice.")


async def test_judge_sends_rubric_answer_and_tools_and_counts_its_usage_apart() -> None:
    reply = ModelResponse(
        message=Message.assistant('{"score": 0.4, "reason": "misses the city"}'),
        usage=Usage(input_tokens=120, output_tokens=15, cost_usd=0.002, requests=1),
    )
    provider = ScriptedProvider([reply])
    judge = LLMJudge(provider, rubric="Names the city.", threshold=0.5)
    result = make_result("It is sunny.", calls=[("weather", {"city": "Oslo"})], cost_usd=0.01)
    score = await judge.score(make_case("Sunny in Oslo"), result, latency_s=0.1)
    assert score.value == pytest.approx(0.4) and not score.passed
    assert score.reason == "misses the city"
    assert score.usage is not None and score.usage.cost_usd == pytest.approx(0.002)
    system, user = provider.prompts[0]
    assert "Names the city." in system.text
    assert "It is sunny." in user.text and "weather" in user.text and "Sunny in Oslo" in user.text


async def test_unparseable_verdict_scores_zero_with_the_reason() -> None:
    judge = LLMJudge(ScriptedProvider(["no idea"]))
    score = await judge.score(make_case(), make_result("x"), latency_s=0.1)
    assert score.value == 0.0 and not score.passed and "no score or verdict" in score.reason
