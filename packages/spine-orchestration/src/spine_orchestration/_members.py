"""Driving one member agent durably: start it, continue it after a crash, or hand it a human
decision — whichever its checkpointed session calls for — through `Agent`'s public API only."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spine_core import (
    Agent,
    Decision,
    InterruptRequest,
    Result,
    Role,
    RunStatus,
    State,
    StopReason,
    TraceEvent,
    tool_output_text,
)

_APPROVALS = frozenset({"approve", "approved", "yes"})


@dataclass(slots=True, frozen=True)
class Human:
    """A human's reply to a pause, as `resume(token, decision, answer=, reason=)` took it."""

    decision: Any = "approve"
    answer: Any = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": _jsonable(self.decision),
            "answer": _jsonable(self.answer),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Human | None:
        if not data:
            return None
        return cls(data.get("decision", "approve"), data.get("answer"), data.get("reason"))

    def for_pause(self, kind: str) -> Decision:
        """The `Decision` this reply makes for a pause of `kind` ("approval" or "input"), by
        the rules of `Agent.resume`: an input pause takes `answer` (else `decision`) as text;
        an approval needs True / "approve" / "approved" / "yes", anything else rejects."""
        if kind == "input":
            value = self.answer if self.answer is not None else self.decision
            return Decision(action="answer", answer=tool_output_text(value))
        decision = self.decision
        if decision is True or (
            isinstance(decision, str) and decision.strip().lower() in _APPROVALS
        ):
            return Decision(action="approve")
        reason = self.reason
        if reason is None and decision != "reject":
            reason = decision if isinstance(decision, str) else f"decision {decision!r}"
        return Decision(action="reject", reason=reason)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return tool_output_text(value)
    return value


def token_of(state: State) -> str | None:
    """The resume token of a paused session (`"<session>:<interrupt id>"`)."""
    pending = state.pending
    return f"{state.session_id}:{pending.id}" if pending is not None else None


def last_answer(state: State) -> str | None:
    """The text of the last assistant message with text, or None."""
    for message in reversed(state.messages):
        if message.role is Role.ASSISTANT and message.text:
            return message.text
    return None


def stored_result(state: State) -> Result:
    """A `Result` rebuilt from a checkpointed session that is not running (no trace)."""
    if state.status is RunStatus.INTERRUPTED and state.pending is not None:
        return Result(
            stopped_reason=StopReason.INTERRUPT,
            state=state,
            usage=state.run_usage,
            resume_token=token_of(state),
            interrupt=state.pending,
        )
    reason = state.stopped_reason or StopReason.FINAL
    last = state.messages[-1] if state.messages else None
    answer: str | None
    if reason is StopReason.FINAL:
        answer = last.text if last is not None and last.role is Role.ASSISTANT else ""
    else:
        answer = None if reason is StopReason.ERROR else last_answer(state)
    error = f"the run stopped with {reason.value}" if reason is StopReason.ERROR else None
    return Result(
        answer=answer, stopped_reason=reason, state=state, usage=state.run_usage, error=error
    )


async def drive_agent(
    agent: Agent,
    session_id: str,
    input: Any,
    *,
    human: Human | None = None,
    deps: Any = None,
    on_event: Callable[[TraceEvent], None] | None = None,
    retry_failed: bool = True,
) -> Result:
    """Bring the member session `session_id` of `agent` as far as it goes, once.

    - no session yet: run `input` in it;
    - paused: with `human`, resume it with that reply (the agent claims the pause with a
      compare-and-set write); without, return the pause as it stands (nothing runs);
    - running or cancelled (a crashed or cancelled run): continue it from its checkpoint,
      re-running no completed tool call;
    - failed: continue it likewise when `retry_failed`, else return the failure;
    - finished: return its stored result (nothing runs).

    `on_event` receives the agent's trace events live (the run is streamed) when given.

    Raises:
        CheckpointConflict: another worker advanced the session first.
        ResumeError: another worker resumed the pause first.
    """
    state = await agent.checkpoint.get(session_id)
    if state is None:
        return await _run(agent, input, session_id, deps, on_event)
    status = state.status
    if status is RunStatus.INTERRUPTED:
        token = token_of(state)
        if human is None or token is None:
            return stored_result(state)
        result = await agent.resume(
            token, human.decision, answer=human.answer, reason=human.reason, deps=deps
        )
        if on_event is not None:
            for event in result.trace:
                on_event(event)
        return result
    if status in (RunStatus.RUNNING, RunStatus.CANCELLED) or (
        status is RunStatus.ERROR and retry_failed
    ):
        return await _run(agent, None, session_id, deps, on_event)
    return stored_result(state)


async def _run(
    agent: Agent,
    input: Any,
    session_id: str,
    deps: Any,
    on_event: Callable[[TraceEvent], None] | None,
) -> Result:
    if on_event is None:
        return await agent.run(input, session_id=session_id, deps=deps)
    stream = agent.stream(input, session_id=session_id, deps=deps)
    async for event in stream:
        on_event(event)
    assert stream.result is not None
    return stream.result


def pass_up(
    member: str, session_id: str, pause: InterruptRequest, **routing: Any
) -> InterruptRequest:
    """The pattern's own pause for a member's pause: the same id, kind, question and call,
    with `data` naming the paused agent and its session (the innermost ones, when the pause
    came up through sub-agents) plus `routing`."""
    data = {"agent": member, "session_id": session_id, **pause.data, **routing}
    return InterruptRequest(
        id=pause.id,
        kind=pause.kind,
        tool_call=pause.tool_call,
        question=pause.question,
        data=data,
    )
