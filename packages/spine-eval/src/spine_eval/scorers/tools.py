"""Scorers on the tool trajectory: `ToolCalled` and `ToolTrajectory` (read from the trace)."""

from __future__ import annotations

from typing import Any, Literal

from spine_core import Result

from ..dataset import Case
from ..scoring import Score
from ..trajectory import ToolCallRecord, tool_calls

__all__ = ["ToolCalled", "ToolTrajectory", "tool_calls"]


def _args_match(expected: dict[str, Any] | None, actual: dict[str, Any]) -> bool:
    """Every expected argument is present with an equal value (extra arguments are allowed)."""
    return all(k in actual and actual[k] == v for k, v in (expected or {}).items())


class ToolCalled:
    """A tool was called between `min_times` and `max_times` times, optionally with arguments.

    Args:
        name: Tool name.
        arguments: Arguments the call must include (a subset match: equal values, extra
            arguments allowed). Only calls that match count.
        min_times: Fewest matching calls that pass (default 1).
        max_times: Most matching calls that pass (default unbounded); `min_times=0,
            max_times=0` asserts the tool was NOT called.
        succeeded: Count only calls whose result was not an error.

    Raises:
        ValueError: `min_times` > `max_times` or a negative bound.
    """

    name = "tool_called"

    def __init__(
        self,
        name: str,
        *,
        arguments: dict[str, Any] | None = None,
        min_times: int = 1,
        max_times: int | None = None,
        succeeded: bool = False,
    ) -> None:
        if min_times < 0 or (max_times is not None and (max_times < 0 or max_times < min_times)):
            raise ValueError(
                f"tool_called: bad bounds min_times={min_times}, max_times={max_times}"
            )
        self.tool = name
        self.arguments = arguments
        self.min_times = min_times
        self.max_times = max_times
        self.succeeded = succeeded

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        calls = [
            c
            for c in tool_calls(result)
            if c.name == self.tool
            and _args_match(self.arguments, c.arguments)
            and not (self.succeeded and c.is_error)
        ]
        count = len(calls)
        ok = count >= self.min_times and (self.max_times is None or count <= self.max_times)
        bound = (
            f">= {self.min_times}"
            if self.max_times is None
            else f"{self.min_times}..{self.max_times}"
        )
        with_args = f" with {self.arguments}" if self.arguments else ""
        reason = f"'{self.tool}'{with_args} called {count} time(s), wanted {bound}"
        return Score(name=self.name, value=float(ok), passed=ok, detail=reason)


Step = str | dict[str, Any]


class ToolTrajectory:
    """The tools called, in order, match an expected trajectory.

    Args:
        tools: Expected calls: tool names, or mappings `{name, arguments}` (arguments are a
            subset match). Default: the case's `expected` when it is a list.
        mode: "exact": the calls are exactly these, in this order; "in_order" (default): these
            calls appear in this order, other calls may come between; "any_order": each appears,
            in any order (a name listed twice needs two calls).

    The value is the fraction of expected calls matched (for "exact", a run with extra calls
    scores at most len(expected) / len(actual)).

    Raises:
        ValueError: unknown mode, or a step without a name.
    """

    name = "tool_trajectory"

    def __init__(
        self,
        tools: list[Step] | None = None,
        *,
        mode: Literal["exact", "in_order", "any_order"] = "in_order",
    ) -> None:
        if mode not in ("exact", "in_order", "any_order"):
            raise ValueError(f"tool_trajectory: unknown mode {mode!r}")
        self.tools = None if tools is None else [self._step(s) for s in tools]
        self.mode = mode

    @staticmethod
    def _step(step: Step) -> tuple[str, dict[str, Any] | None]:
        if isinstance(step, str):
            return step, None
        if not isinstance(step, dict) or "name" not in step:
            raise ValueError(f"tool_trajectory: a step needs a tool name, got {step!r}")
        return str(step["name"]), step.get("arguments")

    def _expected(self, case: Case) -> list[tuple[str, dict[str, Any] | None]]:
        if self.tools is not None:
            return self.tools
        if isinstance(case.expected, list):
            return [self._step(s) for s in case.expected]
        raise ValueError(
            f"tool_trajectory: no tools given and case '{case.id}' has no list 'expected'"
        )

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        expected = self._expected(case)
        actual = tool_calls(result)
        matched = self._matched(expected, actual)
        total = max(len(expected), 1)
        if self.mode == "exact":
            ok = matched == len(expected) == len(actual)
            value = matched / max(len(expected), len(actual), 1)
        else:
            ok = matched == len(expected)
            value = matched / total
        names = " -> ".join(c.name for c in actual) or "(no tool calls)"
        want = " -> ".join(n for n, _ in expected) or "(none)"
        reason = f"called {names}; expected {self.mode.replace('_', ' ')}: {want}"
        return Score(name=self.name, value=value, passed=ok, detail=reason)

    def _matched(
        self, expected: list[tuple[str, dict[str, Any] | None]], actual: list[ToolCallRecord]
    ) -> int:
        def hit(step: tuple[str, dict[str, Any] | None], call: ToolCallRecord) -> bool:
            return call.name == step[0] and _args_match(step[1], call.arguments)

        if self.mode == "exact":
            return sum(1 for s, c in zip(expected, actual, strict=False) if hit(s, c))
        if self.mode == "in_order":
            count, position = 0, 0
            for step in expected:
                while position < len(actual) and not hit(step, actual[position]):
                    position += 1
                if position == len(actual):
                    break
                count += 1
                position += 1
            return count
        free = list(actual)
        count = 0
        for step in expected:
            found = next((c for c in free if hit(step, c)), None)
            if found is not None:
                free.remove(found)
                count += 1
        return count
