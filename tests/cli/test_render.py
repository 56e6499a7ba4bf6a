"""How `spine run` reports a run that did not answer: the error text, a `StopRun`'s message
(`Result.answer` for non-error reasons), and a guard trip's partial answer."""

from __future__ import annotations

import pytest

from spine import render
from spine_core import Result, State, StopReason


def result(reason: StopReason, *, answer: str | None = None, error: str | None = None) -> Result:
    return Result(answer=answer, stopped_reason=reason, state=State(session_id="s"), error=error)


@pytest.mark.parametrize(
    ("stopped", "detail"),
    [
        (result(StopReason.ERROR, error="model down"), "model down"),
        (result(StopReason.GUARDRAIL, answer="blocked by policy"), "blocked by policy"),
        (result(StopReason.LOOP, answer="same call 3 times"), "same call 3 times"),
        (result(StopReason.MAX_STEPS, answer="partial so far"), ""),
        (result(StopReason.CANCELLED), ""),
    ],
)
def test_stop_detail(stopped: Result, detail: str) -> None:
    assert render.stop_detail(stopped) == detail


def test_print_result_shows_the_stop_and_a_guard_trips_partial_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render.print_result(result(StopReason.ERROR, error="model down"), spec="a.yaml")
    assert "stopped: error: model down" in capsys.readouterr().out

    render.print_result(result(StopReason.MAX_STEPS, answer="partial so far"), spec="a.yaml")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["stopped: max_steps", "last answer so far:", "partial so far"]
    assert lines[3].startswith("[max_steps] steps 0")
