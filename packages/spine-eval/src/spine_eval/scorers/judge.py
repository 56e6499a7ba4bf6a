"""`LLMJudge`: a model grades the answer against a rubric and returns a JSON verdict."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from spine_core import Message, Provider, Result, resolve_provider

from ..dataset import Case
from ..scoring import Score
from ..trajectory import tool_calls

__all__ = ["LLMJudge", "parse_verdict"]

_INSTRUCTIONS = """You are a strict evaluator of an AI agent's answer.
Grade the answer against this rubric:

{rubric}

Reply with only a JSON object: {{"score": <number from 0 to 1>, "pass": <true|false>, \
"reason": "<one sentence>"}}"""

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_FRACTION = re.compile(r"score\W{0,3}(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?", re.IGNORECASE)
_VERDICT = re.compile(r"\b(pass|passed|fail|failed)\b", re.IGNORECASE)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.match(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?", value)
        if match:
            top, bottom = float(match.group(1)), match.group(2)
            return top / float(bottom) if bottom else top
    return None


def _scale(score: float) -> float:
    """Bring a 0-1, 0-10 or 0-100 score to [0, 1]."""
    if score > 10:
        score /= 100
    elif score > 1:
        score /= 10
    return min(max(score, 0.0), 1.0)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("pass", "passed", "true", "yes", "correct"):
            return True
        if word in ("fail", "failed", "false", "no", "incorrect"):
            return False
    return None


def _load_object(text: str) -> dict[str, Any] | None:
    match = _OBJECT.search(text)
    if match is None:
        return None
    raw = re.sub(r",\s*([}\]])", r"\1", match.group(0))  # trailing commas
    for loader in (json.loads, ast.literal_eval):
        try:
            value = loader(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
    return None


def parse_verdict(text: str) -> tuple[float | None, bool | None, str]:
    """Read a judge's verdict, tolerating what models actually send.

    Accepts a JSON object (optionally in a code fence, surrounded by prose, with trailing
    commas or Python-style quotes) with a score under "score" / "rating" / "grade" (0-1, 0-10
    or 0-100, or "7/10"), a verdict under "passed" / "pass" / "verdict" / "result" (bool or
    "pass" / "fail") and a reason under "reason" / "explanation" / "rationale"; or plain text
    such as "Score: 8/10 ... PASS".

    Returns:
        (score in [0, 1] or None, passed or None, reason).

    Raises:
        ValueError: neither a score nor a verdict can be found.
    """
    data = _load_object(text)
    score: float | None = None
    passed: bool | None = None
    reason = ""
    if data is not None:
        for key in ("score", "rating", "grade"):
            if key in data and (number := _number(data[key])) is not None:
                score = _scale(number)
                break
        for key in ("passed", "pass", "verdict", "result"):
            if key in data and (flag := _flag(data[key])) is not None:
                passed = flag
                break
        for key in ("reason", "explanation", "rationale", "reasoning"):
            if isinstance(data.get(key), str):
                reason = data[key]
                break
    else:
        fraction = _FRACTION.search(text)
        if fraction:
            top, bottom = float(fraction.group(1)), fraction.group(2)
            score = _scale(top / float(bottom)) if bottom else _scale(top)
        verdict = _VERDICT.search(text)
        if verdict:
            passed = verdict.group(1).lower().startswith("pass")
        reason = " ".join(text.split())[:200]
    if score is None and passed is None:
        raise ValueError(f"no score or verdict in the judge's reply: {text[:120]!r}")
    return score, passed, reason


class LLMJudge:
    """Grade the answer with another model (LLM-as-judge) against a rubric.

    The judge is sent the rubric, the case input, the expected answer (when the case has one),
    the tools the agent called and its answer, and must reply with a JSON verdict
    `{"score": 0-1, "pass": bool, "reason": "..."}` (the reference's keys; "passed" works
    too, and the reply is parsed tolerantly, see `parse_verdict`). Its tokens and cost (USD)
    are recorded on the `Score.usage`, apart from the agent's usage.

    Args:
        provider: The judge: a `Provider`, or "scheme:model" resolved through the provider
            registry.
        threshold: Least score that passes when the judge gives no explicit verdict
            (default 0.5).
        rubric: What a good answer does.
        name: Report name (default "llm_judge"; set it to tell several judges apart).
        settings: Provider settings for the judge's call (e.g. temperature).
        model: Alias of `provider` (Spine's earlier keyword, used by YAML datasets).

    An unparseable verdict ("unparseable judge reply: ...") or a failed judge call scores 0
    with the problem as the detail.

    Raises:
        TypeError: neither `provider` nor `model` given.
        PluginNotFoundError: the "scheme:model" names a scheme that is not installed.
    """

    def __init__(
        self,
        provider: str | Provider | None = None,
        *,
        threshold: float = 0.5,
        rubric: str = "The answer is correct, complete and answers the user's request.",
        name: str = "llm_judge",
        settings: dict[str, Any] | None = None,
        model: str | Provider | None = None,
    ) -> None:
        judge = provider if provider is not None else model
        if judge is None:
            raise TypeError("LLMJudge needs a provider (a Provider or 'scheme:model')")
        self.provider: Provider = resolve_provider(judge) if isinstance(judge, str) else judge
        self.rubric = rubric
        self.threshold = threshold
        self.name = name
        self.settings = dict(settings or {})

    def prompt(self, case: Case, result: Result) -> list[Message]:
        """The messages sent to the judge for one run."""
        tools = ", ".join(c.name for c in tool_calls(result)) or "(none)"
        parts = [f"## User request\n{case.input_text}"]
        if case.expected is not None:
            expected = (
                case.expected if isinstance(case.expected, str) else json.dumps(case.expected)
            )
            parts.append(f"## Reference answer\n{expected}")
        parts.append(f"## Tools the agent called\n{tools}")
        parts.append(f"## Agent's answer\n{result.answer or '(no answer)'}")
        return [
            Message.system(_INSTRUCTIONS.format(rubric=self.rubric)),
            Message.user("\n\n".join(parts)),
        ]

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        response = await self.provider.complete(self.prompt(case, result), None, **self.settings)
        usage = response.usage
        try:
            value, passed, reason = parse_verdict(response.message.text)
        except ValueError as exc:
            detail = f"unparseable judge reply: {exc}"
            return Score(name=self.name, value=0.0, passed=False, detail=detail, usage=usage)
        if value is None:
            value = 1.0 if passed else 0.0
        if passed is None:
            passed = value >= self.threshold
        return Score(name=self.name, value=value, passed=passed, detail=reason, usage=usage)
