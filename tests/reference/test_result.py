"""`Result` and `StopReason` as the reference documents them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from spine_core import Result, State, StopReason, Usage

REFERENCE_REASONS = {
    "FINAL": "final",
    "MAX_STEPS": "max_steps",
    "MAX_COST": "max_cost",
    "MAX_TOKENS": "max_tokens",
    "TIMEOUT": "timeout",
    "MAX_DEPTH": "max_depth",
    "LOOP": "loop",
    "GUARDRAIL": "guardrail",
    "INTERRUPT": "interrupt",
    "ERROR": "error",
    "CANCELLED": "cancelled",
}


def test_stop_reason_members() -> None:
    assert issubclass(StopReason, StrEnum)
    assert {m.name: m.value for m in StopReason} == REFERENCE_REASONS
    assert StopReason("max_steps") is StopReason.MAX_STEPS
    assert StopReason.FINAL == "final"


def test_result_fields_and_defaults() -> None:
    state = State(session_id="s")
    result = Result(state=state)

    assert isinstance(result, BaseModel)
    assert result.answer is None
    assert result.stopped_reason is StopReason.FINAL
    assert result.state is state
    assert result.trace == []
    assert result.usage == Usage()
    assert result.resume_token is None
    assert result.interrupt is None
    assert result.error is None


def test_result_documented_field_names() -> None:
    assert {
        "answer",
        "stopped_reason",
        "state",
        "trace",
        "usage",
        "resume_token",
        "interrupt",
        "error",
    } <= set(Result.model_fields)
    assert Result.model_fields["state"].is_required()


def test_result_answer_and_error_are_optional_text() -> None:
    state = State(session_id="s")
    assert Result(state=state, answer="hi").answer == "hi"
    failed = Result(state=state, stopped_reason=StopReason.ERROR, error="provider down")
    assert failed.error == "provider down"


def test_result_ok() -> None:
    state = State(session_id="s")
    assert Result(state=state).ok is True
    for reason in StopReason:
        if reason is not StopReason.FINAL:
            assert Result(state=state, stopped_reason=reason).ok is False


def test_result_interrupted() -> None:
    state = State(session_id="s")
    paused = Result(state=state, stopped_reason=StopReason.INTERRUPT, resume_token="s")

    assert paused.interrupted is True and paused.ok is False
    assert paused.resume_token == "s"
    for reason in StopReason:
        if reason is not StopReason.INTERRUPT:
            assert Result(state=state, stopped_reason=reason).interrupted is False


def test_result_interrupt_accepts_any_payload() -> None:
    payload = {"tool": "transfer", "arguments": {"amount": 5}}
    result = Result(state=State(session_id="s"), stopped_reason="interrupt", interrupt=payload)
    assert result.interrupt == payload
    assert result.stopped_reason is StopReason.INTERRUPT
