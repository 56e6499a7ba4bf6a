"""The `spine.agent` workflow: one Spine run (a turn of a session), with its human pauses.

The workflow runs the agent loop itself, deterministically, on a per-run copy of the agent
whose model and tool calls are activities (`spine_temporal._remote`). A pause (an approval or
a tool's `Interrupt`) waits for a decision sent as the `decide` signal or the `decide` update,
holding no worker; the wait survives worker restarts because it is part of the workflow's
history. Queries: `status` (a `RunView`). Updates: `decide` (validated; returns the view) and
`wait` (returns the view once the run waits for a human or has ended).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from spine_core import Agent, Result, ResumeError, SpineError, State, StopReason

    from . import _registry
    from ._payloads import DecisionInput, PendingView, RunRequest, RunView, SaveRequest
    from ._remote import workflow_agent
    from .activities import LoadRequest

if TYPE_CHECKING:
    from .agent import TemporalAgent

__all__ = ["WORKFLOW_NAME", "SpineAgentWorkflow"]

WORKFLOW_NAME = "spine.agent"
"""The workflow type, stable across releases."""


@workflow.defn(name=WORKFLOW_NAME)
class SpineAgentWorkflow:
    """One run of a Spine agent (see the module docstring)."""

    @workflow.init
    def __init__(self, request: RunRequest) -> None:
        self._request = request
        self._decisions: list[DecisionInput] = []
        self._pending: PendingView | None = None
        self._phase: str = "running"
        self._steps = 0
        self._waited_s = 0.0

    @workflow.run
    async def run(self, request: RunRequest) -> Result:
        """Run the agent until a stop reason other than a pause that gets a decision."""
        spec = _registry.lookup(workflow.info().task_queue, request.agent)
        agent = workflow_agent(spec, self._count_step)
        session_id = request.session_id
        revision = await self._load(spec, agent, session_id) if spec.persist else 0
        timeout = spec.agent.guards.timeout_s

        async def first() -> Result:
            return await agent.run(
                request.input,
                session_id=session_id,
                message_history=request.message_history,
                settings=request.settings,
            )

        result = await self._bounded(agent, first, timeout)
        while result.stopped_reason is StopReason.INTERRUPT and result.state.pending is not None:
            pause = result.state.pending
            pause.id = workflow.uuid4().hex[:16]  # deterministic, unlike the loop's own id
            if spec.persist:
                revision = await self._save(spec, result.state, revision)
            self._pending = PendingView(
                id=pause.id,
                kind=pause.kind,
                question=pause.question,
                tool_call=pause.tool_call,
                data=pause.data,
            )
            self._phase = "waiting"
            decision = await self._next_decision(request.approval_timeout_s)
            if decision is None:  # nobody decided in time: the run ends interrupted
                break
            self._pending, self._phase = None, "running"

            async def resume(decision: DecisionInput = decision) -> Result:
                return await agent.resume(
                    session_id, decision.decision, answer=decision.answer, reason=decision.reason
                )

            result = await self._bounded(agent, resume, timeout)
        if result.stopped_reason is StopReason.INTERRUPT and self._pending is not None:
            result.resume_token = f"{session_id}:{self._pending.id}"
        self._phase = "done"
        if spec.persist:  # the Result carries the revision of the agent's store
            result.state.revision = await self._save(spec, result.state, revision)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    @workflow.query(name="status")
    def status(self) -> RunView:
        """Where the run stands."""
        return self._view()

    @workflow.signal(name="decide")
    def decide_signal(self, decision: DecisionInput) -> None:
        """A human decision on the pending pause (fire and forget; a decision that does not
        fit the current pause is ignored and logged)."""
        problem = self._misfit(decision)
        if problem is not None:
            workflow.logger.warning("decision ignored: %s", problem)
            return
        self._decisions.append(decision)

    @workflow.update(name="decide")
    def decide_update(self, decision: DecisionInput) -> RunView:
        """A human decision on the pending pause; rejected unless it fits it."""
        self._decisions.append(decision)
        return self._view()

    @decide_update.validator
    def _validate_decision(self, decision: DecisionInput) -> None:
        problem = self._misfit(decision)
        if problem is not None:
            raise ValueError(problem)

    @workflow.update(name="wait")
    async def wait(self) -> RunView:
        """The run's view once it waits for a human (with no decision queued) or ended."""
        await workflow.wait_condition(
            lambda: self._phase == "done" or (self._phase == "waiting" and not self._decisions)
        )
        return self._view()

    def _misfit(self, decision: DecisionInput) -> str | None:
        pending = self._pending
        if pending is None or self._phase != "waiting" or self._decisions:
            return "the run is not waiting for a decision"
        if decision.interrupt_id is not None and decision.interrupt_id != pending.id:
            return f"interrupt '{decision.interrupt_id}' is not the pending one ('{pending.id}')"
        if decision.answer is not None and pending.kind == "approval":
            return "this pause asks for an approval: send decision='approve' or a rejection"
        return None

    def _view(self) -> RunView:
        return RunView(
            session_id=self._request.session_id,
            phase=self._phase,  # type: ignore[arg-type]
            steps=self._steps,
            pending=self._pending if self._phase == "waiting" else None,
            waited_s=self._waited_s,
        )

    def _count_step(self) -> None:
        self._steps += 1

    async def _next_decision(self, timeout_s: float | None) -> DecisionInput | None:
        started = workflow.now()
        # No `finally` here: a workflow evicted from a worker's cache is closed with
        # GeneratorExit outside the workflow loop, where `workflow.now()` raises.
        try:
            await workflow.wait_condition(
                lambda: bool(self._decisions),
                timeout=timedelta(seconds=timeout_s) if timeout_s is not None else None,
                timeout_summary="approval timeout",
            )
        except TimeoutError:
            self._waited_s += (workflow.now() - started).total_seconds()
            return None
        self._waited_s += (workflow.now() - started).total_seconds()
        return self._decisions.pop(0)

    async def _bounded(
        self, agent: Agent, call: Callable[[], Awaitable[Result]], limit_s: float | None
    ) -> Result:
        """`call()`, stopped after `limit_s` seconds of workflow time (`Guards.timeout_s`),
        and any Spine error as a failed workflow (never a retried workflow task).

        The limit is a Temporal timer and a plain task cancel: anyio cancel scopes re-deliver
        their cancellation on every loop pass, which the workflow event loop reports as a
        deadlock."""
        ended: list[Result | None] = []

        async def bounded() -> Result:
            try:
                return await call()
            finally:  # the run's own context holds its Result, also after a cancel
                ended.append(agent.last_result)

        task = asyncio.ensure_future(bounded())
        try:
            await workflow.wait_condition(
                task.done,
                timeout=timedelta(seconds=limit_s) if limit_s is not None else None,
                timeout_summary="run timeout",
            )
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except asyncio.CancelledError:  # the workflow is cancelled: the run checkpoints first
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        try:
            if not task.cancelled():
                return task.result()
        except ResumeError as exc:
            raise ApplicationError(str(exc), type="ResumeError", non_retryable=True) from None
        except SpineError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        result = ended[0] if ended else None  # checkpointed as cancelled by the run itself
        if result is None:
            raise ApplicationError("the run timed out before it started", non_retryable=True)
        result.stopped_reason = StopReason.TIMEOUT
        result.state.stopped_reason = StopReason.TIMEOUT
        return result

    async def _load(self, spec: TemporalAgent, agent: Agent, session_id: str) -> int:
        stored: State | None = await workflow.execute_activity(
            "spine.load",
            LoadRequest(agent=spec.name, session_id=session_id),
            result_type=State | None,  # type: ignore[arg-type]
            start_to_close_timeout=timedelta(seconds=spec.activities.store_timeout_s),
            retry_policy=spec.activities.store_retry(),
        )
        if stored is None:
            return 0
        revision = stored.revision
        stored.revision = 0
        await agent.checkpoint.put(stored)
        return revision

    async def _save(self, spec: TemporalAgent, state: State, revision: int) -> int:
        new_revision: int = await workflow.execute_activity(
            "spine.save",
            SaveRequest(agent=spec.name, state=state, expected_revision=revision),
            result_type=int,
            start_to_close_timeout=timedelta(seconds=spec.activities.store_timeout_s),
            retry_policy=spec.activities.store_retry(),
        )
        return new_revision
