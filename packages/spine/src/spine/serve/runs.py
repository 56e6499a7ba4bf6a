"""What the HTTP routes do with the agent: start, stream and resume runs, run them in the
background, and read sessions, with failures as `HTTPProblem`s (status + one-line detail).

A resume is streamed too: the decision is committed with a compare-and-set write on the
session (the same claim `Agent.resume` makes, so of several workers one wins and the others
get a 409), then the run continues with `Agent.stream(None, session_id=...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskGroup

from spine_core import (
    Agent,
    CheckpointConflict,
    CheckpointStore,
    Decision,
    InterruptRequest,
    Message,
    Result,
    RunStatus,
    RunStream,
    SpineError,
    State,
    tool_output_text,
)

__all__ = ["HTTPProblem", "Runner", "decision_from"]

_APPROVALS = frozenset({"approve", "approved", "yes", "true"})


class HTTPProblem(Exception):
    """A request the server refuses: `status` and a one-line `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def decision_from(
    pending: InterruptRequest, decision: Any, *, answer: Any = None, reason: str | None = None
) -> Decision:
    """The `Decision` a client's reply makes for `pending` (the rules of `Agent.resume`):
    for an approval, True / "approve" / "approved" / "yes" / `{"approved": true}` /
    `{"decision": "approve"}` approves and anything else rejects (with `reason`, or the value,
    shown to the model); for a tool's question the answer (or the decision) is the result.

    Raises:
        HTTPProblem: 422 for an `answer` on an approval pause.
    """
    if isinstance(decision, dict):
        reason = reason or decision.get("reason")
        answer = answer if answer is not None else decision.get("answer")
        if "approved" in decision:
            decision = bool(decision["approved"])
        elif "decision" in decision:
            decision = decision["decision"]
        elif pending.kind == "approval":
            decision = "reject"
    if pending.kind == "input":
        value = answer if answer is not None else decision
        return Decision(action="answer", answer=tool_output_text(value))
    if answer is not None:
        raise HTTPProblem(422, "answer: this pause asks for an approval; send a decision")
    approved = decision is True or (
        isinstance(decision, str) and decision.strip().lower() in _APPROVALS
    )
    if approved:
        return Decision(action="approve")
    if reason is None and decision not in ("reject", False, None):
        reason = decision if isinstance(decision, str) else f"decision {decision!r}"
    return Decision(action="reject", reason=reason)


class Runner:
    """The agent behind one app, and the runs it has in the background.

    Args:
        agent: The agent every route runs.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.task_group: TaskGroup | None = None
        self.background: dict[str, tuple[anyio.CancelScope, anyio.Event]] = {}

    @property
    def store(self) -> CheckpointStore:
        return self.agent.checkpoint

    async def session(self, session_id: str) -> State:
        """The stored session.

        Raises:
            HTTPProblem: 404 when there is none.
        """
        state: State | None = await self.store.get(session_id)
        if state is None:
            raise HTTPProblem(404, f"no session '{session_id}'")
        return state

    async def check_can_run(self, session_id: str | None) -> None:
        """Refuse new input for a session that waits on a human or runs in the background.

        Raises:
            HTTPProblem: 409.
        """
        if session_id is None:
            return
        if session_id in self.background:
            raise HTTPProblem(409, f"session '{session_id}' has a run in progress")
        state = await self.store.get(session_id)
        if state is not None and state.status is RunStatus.INTERRUPTED:
            raise HTTPProblem(
                409,
                f"session '{session_id}' is waiting for a human decision; "
                "resume it (POST /sessions/{id}/resume) first",
            )

    def stream(
        self,
        input: str | Sequence[Message],
        *,
        session_id: str,
        message_history: Sequence[Message] | None = None,
    ) -> RunStream:
        """A new run's live events (see `Agent.stream`)."""
        value: Any = input if isinstance(input, str) else list(input)
        return self.agent.stream(value, session_id=session_id, message_history=message_history)

    async def run(self, input: str, *, session_id: str) -> Result:
        """A new run to its end.

        Raises:
            HTTPProblem: 409 when another writer committed to the session first.
        """
        try:
            return await self.agent.run(input, session_id=session_id)
        except CheckpointConflict as exc:
            raise HTTPProblem(
                409, f"session '{session_id}' changed under this run: {exc}"
            ) from None
        except SpineError as exc:
            raise HTTPProblem(409, str(exc)) from None

    async def claim_resume(
        self,
        session_id: str,
        decision: Any,
        *,
        answer: Any = None,
        reason: str | None = None,
        interrupt_id: str | None = None,
    ) -> None:
        """Commit a human decision on a paused session (or reopen a cancelled one).

        Raises:
            HTTPProblem: 404 unknown session; 409 not paused, a stale interrupt id, or another
                worker resumed it first; 422 a bad decision.
        """
        state = await self.session(session_id)
        pending = state.pending
        if state.status is RunStatus.INTERRUPTED and pending is not None:
            if interrupt_id is not None and interrupt_id != pending.id:
                raise HTTPProblem(
                    409, f"interrupt '{interrupt_id}' of session '{session_id}' is stale"
                )
            chosen = decision_from(pending, decision, answer=answer, reason=reason)
            pending.decision = dataclasses.asdict(chosen)
        elif state.status is not RunStatus.CANCELLED or interrupt_id is not None:
            raise HTTPProblem(
                409,
                f"session '{session_id}' is not paused (it is {state.status.value}); "
                "nothing to resume",
            )
        state.status = RunStatus.RUNNING
        try:
            await self.store.put(state)
        except CheckpointConflict:
            raise HTTPProblem(
                409, f"session '{session_id}' was resumed by another request first"
            ) from None

    def continue_stream(self, session_id: str) -> RunStream:
        """The live events of a claimed session's continued run."""
        return self.agent.stream(None, session_id=session_id)

    async def resume(self, session_id: str) -> Result:
        """A claimed session's continued run, to its end."""
        try:
            return await self.agent.run(None, session_id=session_id)
        except CheckpointConflict as exc:
            raise HTTPProblem(
                409, f"session '{session_id}' changed under this run: {exc}"
            ) from None

    def start_background(self, session_id: str, input: str | None) -> None:
        """Run in the app's task group; `GET /sessions/{id}` shows the progress.

        Raises:
            HTTPProblem: 503 when the app is not running (no lifespan).
        """
        group = self.task_group
        if group is None:
            raise HTTPProblem(
                503, "background runs need the app's lifespan (serve it with uvicorn)"
            )
        scope, done = anyio.CancelScope(), anyio.Event()
        self.background[session_id] = (scope, done)

        async def go() -> None:
            try:
                with scope:
                    await self.agent.run(input, session_id=session_id)
            except Exception:  # recorded in the session's state (status error)
                pass
            finally:
                self.background.pop(session_id, None)
                done.set()

        group.start_soon(go)

    async def delete(self, session_id: str) -> None:
        """Cancel the session's background run, if any, and delete it.

        Raises:
            HTTPProblem: 404 unknown session.
        """
        running = self.background.get(session_id)
        if running is not None:  # it checkpoints itself as cancelled: wait, then delete
            running[0].cancel()
            await running[1].wait()
        if not await self.store.delete(session_id):
            raise HTTPProblem(404, f"no session '{session_id}'")
