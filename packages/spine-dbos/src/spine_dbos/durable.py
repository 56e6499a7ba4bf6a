"""`DurableAgent`: run a Spine agent as DBOS workflows, from a worker or from any client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from dbos import (
    DBOS,
    DBOSClient,
    SetWorkflowAttributes,
    SetWorkflowID,
    SetWorkflowTimeout,
    WorkflowStatus,
)
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSNonExistentWorkflowError

from spine_core import (
    Agent,
    InterruptRequest,
    Message,
    Result,
    ResumeError,
    State,
    StopReason,
    Usage,
)

from ._submitter import Submitter, cancelled_reason
from ._workflows import (
    RUN_WORKFLOW,
    WAIT_WORKFLOW,
    enqueue_options,
    register_agent,
    run_workflow,
)

if TYPE_CHECKING:
    from .durable_workflow import DurableWorkflow

__all__ = ["DEFAULT_APPROVAL_TIMEOUT_S", "DurableAgent", "RunInfo", "durable"]

DEFAULT_APPROVAL_TIMEOUT_S = 7 * 24 * 3600.0
"""Seconds a paused run waits for a decision before it continues with a rejection (7 days)."""

Input = str | Message | Sequence[Message]


@dataclass(slots=True, frozen=True)
class RunInfo:
    """One segment of a durable run, as `DurableAgent.list_runs` lists it.

    Attributes:
        run_id: The run's id (its first segment's DBOS workflow id).
        workflow_id: This segment's DBOS workflow id (`run_id`, then `run_id~1`, ...).
        segment: 0 for the first segment, n for the n-th continuation after a pause.
        session_id: The Spine session.
        agent: The durable agent's name.
        status: The DBOS status: ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, ...
        stopped_reason: The Spine stop reason once the segment finished (final, interrupt,
            ...), else None.
        queue: The DBOS queue it ran on (None: started directly).
        executor_id: The worker that ran it last.
        created_at: Unix time (seconds) it was enqueued or started.
        updated_at: Unix time (seconds) of its last status change.
    """

    run_id: str
    workflow_id: str
    segment: int
    session_id: str
    agent: str
    status: str
    stopped_reason: str | None
    queue: str | None
    executor_id: str | None
    created_at: float | None
    updated_at: float | None


class DurableAgent(Submitter):
    """A Spine agent whose runs are DBOS workflows.

    Each run is a workflow; each model call is a DBOS step named `spine.model` and each tool
    call a step named `spine.tool:<name>`. A worker killed at any point is recovered (on
    restart, or by a peer `Worker`); recovery replays the recorded steps, so a completed model
    or tool call is never repeated (a call in flight at the kill runs again: at-least-once).
    A human pause (an `approve=True` tool or a tool's `Interrupt`) ends the segment and waits
    in a separate workflow on `DBOS.recv`, holding no queue slot and no worker; `resume`
    sends the decision from any process.

    Wrap the agent in every process of the fleet, under the same `name`, before DBOS is
    launched there (`spine_dbos.launch` or `spine_dbos.Worker`).

    Args:
        agent: The Spine agent. Its checkpoint store holds the sessions across turns (read at
            the start of a run and written at each segment's end, both as steps); give it a
            shared store (e.g. spine-backends' Postgres) when several workers serve one
            session's turns.
        name: The key workers find the agent by (default `agent.name`, else "agent").
        queue: The DBOS queue runs are enqueued on (served by `Worker`s listening to it);
            None starts runs directly in this process (one-process mode).
        client: A `dbos.DBOSClient` to submit through, for a process that runs no workflows
            (a web server, a CLI); default: this process's launched DBOS.
        approval_timeout_s: Seconds a pause waits for a decision before the run continues
            with a rejection.
        poll_interval_s: Seconds between checks while waiting for a result.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        name: str | None = None,
        queue: str | None = "spine",
        client: DBOSClient | None = None,
        approval_timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S,
        poll_interval_s: float = 0.1,
    ) -> None:
        if queue is None and client is not None:
            raise ValueError("a DBOSClient can only enqueue: give DurableAgent a queue name")
        self.agent = agent
        self.name = name or agent.name or "agent"
        self.queue = queue
        super().__init__(client, poll_interval_s)
        self.approval_timeout_s = approval_timeout_s
        register_agent(self.name, agent)

    async def start(
        self,
        input: Input | None,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Submit a run and return its run id without waiting.

        Args:
            input: The user's message (string, `Message` or list); None continues the
                session from its stored state.
            session_id: The session (default a new one).
            run_id: The run's workflow id (default `<session>/<random>`). Idempotent:
                submitting a run id again attaches to the existing run, nothing runs twice.
            timeout_s: A deadline for the whole run in seconds, durable across crashes
                (DBOS cancels the workflow when it passes; `result` then has
                `StopReason.timeout`).
        """
        session = session_id or uuid.uuid4().hex
        run = run_id or f"{session}/{uuid.uuid4().hex[:12]}"
        job: dict[str, Any] = {
            "agent": self.name,
            "session_id": session,
            "run_id": run,
            "segment": 0,
            "queue": self.queue,
            "approval_timeout_s": self.approval_timeout_s,
            "input": _dump_input(input),
            "state": None,
            "decision": None,
        }
        if self.queue is None:
            attributes = {"spine_agent": self.name, "spine_session": session}
            with (
                SetWorkflowID(run),
                SetWorkflowAttributes(attributes),
                SetWorkflowTimeout(timeout_s),
            ):
                await DBOS.start_workflow_async(run_workflow, job)
            return run
        options = enqueue_options(job, run)
        if timeout_s is not None:
            options["workflow_timeout"] = timeout_s
        await self._enqueue(options, job)
        return run

    async def run(
        self,
        input: Input | None,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        timeout_s: float | None = None,
    ) -> Result:
        """Submit a run and wait for its `Result` (the arguments are `start`'s).

        The Result ends the run's first segment: final, a guard trip, an error, or an
        interrupt whose `resume_token` goes to `resume`. `Result.trace` is empty (the events
        stay in the worker); `output` is parsed when the agent has an `output_type`.
        """
        run = await self.start(input, session_id=session_id, run_id=run_id, timeout_s=timeout_s)
        return await self.result(run)

    async def result(self, workflow_id: str) -> Result:
        """Wait for a run (or a continuation segment, by its workflow id) and return its
        `Result`.

        Raises:
            ResumeError: no run by that id.
        """
        try:
            summary = await self._get_result(workflow_id)
        except DBOSNonExistentWorkflowError:
            raise ResumeError(f"no durable run '{workflow_id}'") from None
        except DBOSAwaitedWorkflowCancelledError:
            return await self._cancelled(workflow_id)
        return self._result(summary)

    async def resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
    ) -> Result:
        """Send the human decision for a paused run, from any process, and wait for the
        continued run's `Result` (which may pause again).

        Args:
            token: `Result.resume_token` (the waiting workflow's id).
            decision: For an approval: `True`, "approve", "approved" or "yes" runs the tool;
                anything else rejects it (the model sees the value, or `reason`). For a
                tool's `Interrupt`: the tool's result.
            answer: For a tool's `Interrupt`: the tool's result (over `decision`).
            reason: Why the call was rejected (shown to the model).

        Of several decisions sent for one pause the first to arrive wins; the others' callers
        get `ResumeError`.

        Raises:
            ResumeError: no pause by that token, the pause was already resolved, the run was
                cancelled, or another decision won.
        """
        status = await self._status(token)
        if status is None or status.name != WAIT_WORKFLOW:
            raise ResumeError(f"no paused durable run for token '{token}'")
        if status.status not in ("PENDING", "ENQUEUED"):
            raise ResumeError(f"resume token '{token}' is stale: that pause is {status.status}")
        message = {"decision": _json_ready(decision), "answer": _json_ready(answer)}
        message["reason"] = reason
        key = f"{token}:{uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(message, sort_keys=True))}"
        await self._send_decision(token, message, key)
        try:
            outcome = await self._get_result(token)
        except DBOSAwaitedWorkflowCancelledError:
            raise ResumeError(f"the run paused at '{token}' was cancelled") from None
        if outcome["decision"] != message:
            raise ResumeError(f"another decision resumed the pause '{token}' first")
        return await self.result(outcome["continuation"])

    async def cancel(self, run_id: str) -> int:
        """Cancel a run: every segment and waiter of it still enqueued, running or waiting.
        A running segment stops at its next step. Returns how many workflows were cancelled."""
        active = await self._list(
            workflow_id_prefix=run_id, status=["ENQUEUED", "PENDING", "DELAYED"]
        )
        ids = [s.workflow_id for s in active if _belongs(s.workflow_id, run_id)]
        for workflow_id in ids:
            await self._cancel(workflow_id)
        return len(ids)

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | list[str] | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        """The run segments of this agent, newest first.

        Args:
            session_id: Only this session's.
            status: Only these DBOS statuses ("ENQUEUED", "PENDING", "SUCCESS", "ERROR",
                "CANCELLED", ...).
            limit: At most this many.
        """
        found = await self._list(name=RUN_WORKFLOW, status=status, load_output=True)
        runs = [_info(s) for s in found]
        runs = [
            r
            for r in runs
            if r.agent == self.name and (session_id is None or r.session_id == session_id)
        ]
        return runs if limit is None else runs[:limit]

    async def _cancelled(self, workflow_id: str) -> Result:
        status = await self._status(workflow_id)
        job = _job(status) if status is not None else {}
        state = State(session_id=job.get("session_id", workflow_id), agent=self.name)
        return Result(stopped_reason=cancelled_reason(status), state=state)

    def _result(self, summary: dict[str, Any]) -> Result:
        state = State.model_validate(summary["state"])
        reason = StopReason(summary["stopped_reason"])
        output = None
        spec = self.agent.output_spec
        if spec is not None and reason is StopReason.FINAL and summary["answer"] is not None:
            output = spec.parse(summary["answer"])
        interrupt = summary.get("interrupt")
        return Result(
            answer=summary["answer"],
            output=output,
            stopped_reason=reason,
            state=state,
            usage=Usage.model_validate(summary["usage"]),
            resume_token=summary.get("resume_token"),
            interrupt=InterruptRequest.model_validate(interrupt) if interrupt else None,
            error=summary.get("error"),
            error_detail=summary.get("error_detail"),
        )


@overload
def durable(agent: Agent, **options: Any) -> DurableAgent: ...


@overload
def durable(agent: Any, **options: Any) -> DurableWorkflow: ...


def durable(agent: Any, **options: Any) -> DurableAgent | DurableWorkflow:
    """`DurableAgent(agent, **options)` for an `Agent`; `DurableWorkflow(agent, **options)`
    for an orchestration pattern (`Sequential`, `Parallel`, `Handoff`) or compiled graph.

    Raises:
        TypeError: neither an agent nor a pattern (see `DurableWorkflow`).
    """
    if isinstance(agent, Agent):
        return DurableAgent(agent, **options)
    from .durable_workflow import DurableWorkflow

    return DurableWorkflow(agent, **options)


def _dump_input(input: Input | None) -> str | list[dict[str, Any]] | None:
    if input is None or isinstance(input, str):
        return input
    if isinstance(input, Message):
        return [input.model_dump(mode="json")]
    return [m.model_dump(mode="json") for m in input]


def _json_ready(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return json.loads(json.dumps(value, default=str))


def _belongs(workflow_id: str, run_id: str) -> bool:
    rest = workflow_id[len(run_id) :]
    return rest == "" or rest.startswith(("~", ".wait"))


def _job(status: WorkflowStatus) -> dict[str, Any]:
    inputs = status.input
    args = getattr(inputs, "args", None) or (inputs.get("args") if isinstance(inputs, dict) else ())
    first = args[0] if args else None
    return first if isinstance(first, dict) else {}


def _info(status: WorkflowStatus) -> RunInfo:
    job = _job(status)
    output = status.output if isinstance(status.output, dict) else {}
    return RunInfo(
        run_id=job.get("run_id", status.workflow_id),
        workflow_id=status.workflow_id,
        segment=int(job.get("segment", 0)),
        session_id=job.get("session_id", ""),
        agent=job.get("agent", ""),
        status=str(status.status),
        stopped_reason=output.get("stopped_reason"),
        queue=status.queue_name,
        executor_id=status.executor_id,
        created_at=status.created_at / 1000 if status.created_at else None,
        updated_at=status.updated_at / 1000 if status.updated_at else None,
    )
