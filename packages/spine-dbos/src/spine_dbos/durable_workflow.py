"""`DurableWorkflow`: run an orchestration pattern or a graph as one DBOS workflow."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from dbos import (
    DBOS,
    DBOSClient,
    EnqueueOptions,
    SetWorkflowAttributes,
    SetWorkflowID,
    SetWorkflowTimeout,
)
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSNonExistentWorkflowError
from pydantic import BaseModel

from spine_core import Agent, InterruptRequest, ResumeError, State, StopReason, Usage

from ._patterns import (
    DECISION_EVENT,
    PATTERN_WORKFLOW,
    PAUSE_EVENT,
    check_pattern,
    is_graph,
    pattern_workflow,
    register_pattern,
)
from ._submitter import Submitter, cancelled_reason
from .durable import DEFAULT_APPROVAL_TIMEOUT_S, RunInfo, _info, _job, _json_ready

if TYPE_CHECKING:
    from spine_orchestration import GraphResult, TeamResult

__all__ = ["DurableWorkflow"]

_WAITING = ("ENQUEUED", "PENDING", "DELAYED")


class DurableWorkflow(Submitter):
    """A spine-orchestration pattern (`Sequential`, `Parallel`, `Handoff`) or compiled graph
    (`Graph.compile()`) whose runs are DBOS workflows: one workflow per run.

    Inside it every member agent's model call is a DBOS step named `spine.model`, each tool
    call a step `spine.tool:<name>` and each graph function node's call a step
    `spine.node:<node>`. A worker killed at any point is recovered (on restart, or by a
    peer `Worker`); the replay feeds the pattern the recorded outcomes, so a completed model,
    tool or node call never runs again (the call in flight at the kill may: at-least-once).

    Concurrency: members the pattern would run at once (a `Parallel` fan-out, the nodes of one
    graph step) run one at a time inside the workflow, in a fixed order (agent order; the
    step's node order), so the steps' ids are the same on every replay. Run different
    pattern runs in parallel across workers instead.

    Human pauses (an approval or `Interrupt` in any member, a function node's
    `ctx.interrupt`) wait inside the run's workflow on `DBOS.recv`: `run` / `result` return
    the pause (`stopped_reason` interrupt, a `resume_token`), and `resume` sends the decision
    from any process. Unlike `DurableAgent`, the waiting run keeps its queue slot.

    Each run starts a new pattern session (`session_id`) in stores local to the workflow:
    the result travels in DBOS, and the pattern's and members' checkpoint stores are not
    written. `deps` are not supported (nothing in-process crosses workers).

    Wrap the pattern in every process of the fleet, under the same `name`, before DBOS is
    launched there.

    Args:
        pattern: The pattern, or a compiled graph (`spine_orchestration.Workflow`).
        name: The key workers find it by (default the pattern's `name`).
        queue: The DBOS queue runs are enqueued on (served by `Worker`s); None starts runs
            directly in this process.
        client: A `dbos.DBOSClient` to submit through, for a process that runs no workflows.
        approval_timeout_s: Seconds a pause waits for a decision before the run continues
            with a rejection.
        poll_interval_s: Seconds between checks while waiting for a result or a pause.

    Raises:
        TypeError: `pattern` is an `Agent` (use `DurableAgent`), an uncompiled `Graph`, or
            not a pattern.
        ValueError: a `client` without a `queue`.
    """

    def __init__(
        self,
        pattern: Any,
        *,
        name: str | None = None,
        queue: str | None = "spine",
        client: DBOSClient | None = None,
        approval_timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S,
        poll_interval_s: float = 0.1,
    ) -> None:
        check_pattern(pattern)
        if queue is None and client is not None:
            raise ValueError("a DBOSClient can only enqueue: give DurableWorkflow a queue name")
        self.pattern = pattern
        self.name: str = name or pattern.name
        self.queue = queue
        super().__init__(client, poll_interval_s)
        self.approval_timeout_s = approval_timeout_s
        register_pattern(self.name, pattern)

    async def start(
        self,
        input: Any,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Submit a run and return its run id without waiting.

        Args:
            input: The task (a str) for a pattern; the initial state (a mapping or an
                instance of the state type, JSON-ready) for a graph.
            session_id: The pattern run's session id (default a new one); members run in its
                sub-sessions as without DBOS.
            run_id: The workflow id (default `<session>/<random>`). Idempotent: submitting a
                run id again attaches to the existing run; nothing runs twice.
            timeout_s: A deadline for the whole run in seconds, durable across crashes (the
                result then has `StopReason.timeout`).
        """
        session = session_id or uuid.uuid4().hex
        run = run_id or f"{session}/{uuid.uuid4().hex[:12]}"
        job: dict[str, Any] = {
            "pattern": self.name,
            "session_id": session,
            "run_id": run,
            "queue": self.queue,
            "approval_timeout_s": self.approval_timeout_s,
            "input": _dump_input(input),
        }
        attributes = {"spine_pattern": self.name, "spine_session": session}
        if self.queue is None:
            with (
                SetWorkflowID(run),
                SetWorkflowAttributes(attributes),
                SetWorkflowTimeout(timeout_s),
            ):
                await DBOS.start_workflow_async(pattern_workflow, job)
            return run
        options: EnqueueOptions = {
            "workflow_name": PATTERN_WORKFLOW,
            "queue_name": self.queue,
            "workflow_id": run,
            "attributes": attributes,
        }
        if timeout_s is not None:
            options["workflow_timeout"] = timeout_s
        await self._enqueue(options, job)
        return run

    async def run(
        self,
        input: Any,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        timeout_s: float | None = None,
    ) -> TeamResult | GraphResult:
        """Submit a run and wait until it ends or pauses (the arguments are `start`'s).

        Returns:
            A `TeamResult` for a pattern, a `GraphResult` for a graph, as the pattern's own
            `run` returns them, with an empty `trace` (events stay on the worker). On a pause
            `stopped_reason` is interrupt and `resume_token` goes to `resume`.
        """
        run = await self.start(input, session_id=session_id, run_id=run_id, timeout_s=timeout_s)
        return await self.result(run)

    async def result(self, run_id: str) -> TeamResult | GraphResult:
        """Wait until the run ends, or waits at a pause nobody decided yet, and return its
        result (see `run`).

        Raises:
            ResumeError: no run by that id.
        """
        return await self._wait(run_id, after=0)

    async def resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
    ) -> TeamResult | GraphResult:
        """Send the human decision for a paused run, from any process, and wait until the
        run ends or pauses again.

        Args:
            token: The `resume_token` of the pause (`<run id>#<n>`, the run's n-th pause).
            decision: For an approval: True, "approve", "approved" or "yes" approves; any
                other value rejects. For an input pause: the answer, unless `answer` is given.
            answer: The answer to an input pause.
            reason: Why a call was rejected (shown to the model).

        Of several decisions sent for one pause the first to arrive wins; the others' callers
        get `ResumeError`.

        Raises:
            ResumeError: a malformed token, no such run, the pause is resolved (stale token)
                or the run is not waiting, the run was cancelled, or another decision won.
        """
        run_id, _, number = token.rpartition("#")
        if not run_id or not number.isdigit():
            raise ResumeError(f"'{token}' is not a durable pattern resume token")
        pause = int(number)
        status = await self._status(run_id)
        if status is None or status.name != PATTERN_WORKFLOW:
            raise ResumeError(f"no durable pattern run for token '{token}'")
        if status.status not in _WAITING or await self._open_pause(run_id) != pause:
            raise ResumeError(f"resume token '{token}' is stale: that pause is not waiting")
        message = {
            "pause": pause,
            "decision": _json_ready(decision),
            "answer": _json_ready(answer),
            "reason": reason,
        }
        key = f"{token}:{uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(message, sort_keys=True))}"
        await self._send_decision(run_id, message, key)
        while True:
            decided = await self._event(run_id, DECISION_EVENT)
            if decided is not None and decided["pause"] >= pause:
                if decided["pause"] == pause and decided["decision"] != message:
                    raise ResumeError(f"another decision resumed the pause '{token}' first")
                break
            status = await self._status(run_id)
            if status is None or status.status not in _WAITING:
                if status is not None and status.status == "CANCELLED":
                    raise ResumeError(f"the run paused at '{token}' was cancelled")
                break
            await anyio.sleep(self.poll_interval_s)
        return await self._wait(run_id, after=pause)

    async def cancel(self, run_id: str) -> int:
        """Cancel a run (enqueued, running or waiting at a pause); it stops at its next step.
        Returns 1 when it was cancelled, 0 when it had already ended (or does not exist)."""
        status = await self._status(run_id)
        if status is None or status.status not in _WAITING:
            return 0
        await self._cancel(run_id)
        return 1

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | list[str] | None = None,
        limit: int | None = None,
    ) -> list[RunInfo]:
        """The runs of this pattern, newest first (`RunInfo.agent` is the pattern's name,
        `segment` is always 0: a pattern run is one workflow, pauses included).

        Args:
            session_id: Only this session's.
            status: Only these DBOS statuses ("ENQUEUED", "PENDING", "SUCCESS", "ERROR",
                "CANCELLED", ...).
            limit: At most this many.
        """
        found = await self._list(name=PATTERN_WORKFLOW, status=status, load_output=True)
        runs = []
        for item in found:
            job = _job(item)
            if job.get("pattern") != self.name:
                continue
            if session_id is not None and job.get("session_id") != session_id:
                continue
            runs.append(dataclasses.replace(_info(item), agent=self.name, segment=0))
        return runs if limit is None else runs[:limit]

    # -- waiting -------------------------------------------------------------------------

    async def _wait(self, run_id: str, *, after: int) -> TeamResult | GraphResult:
        """The run's result once it ended, or its pause past pause `after` once it waits."""
        while True:
            status = await self._status(run_id)
            if status is None or status.name != PATTERN_WORKFLOW:
                raise ResumeError(f"no durable pattern run '{run_id}'")
            if status.status not in _WAITING:
                return await self._final(run_id)
            pause = await self._event(run_id, PAUSE_EVENT)
            number = pause["pause"] if pause is not None else 0
            if number > after and await self._open_pause(run_id) == number:
                return self._build(pause["summary"])
            await anyio.sleep(self.poll_interval_s)

    async def _open_pause(self, run_id: str) -> int | None:
        """The number of the pause the run waits at (published, not yet decided), or None."""
        pause = await self._event(run_id, PAUSE_EVENT)
        if pause is None:
            return None
        decided = await self._event(run_id, DECISION_EVENT)
        if decided is not None and decided["pause"] >= pause["pause"]:
            return None
        number: int = pause["pause"]
        return number

    async def _final(self, run_id: str) -> TeamResult | GraphResult:
        try:
            data = await self._get_result(run_id)
        except DBOSNonExistentWorkflowError:
            raise ResumeError(f"no durable pattern run '{run_id}'") from None
        except DBOSAwaitedWorkflowCancelledError:
            return await self._cancelled(run_id)
        return self._build(data)

    async def _cancelled(self, run_id: str) -> TeamResult | GraphResult:
        status = await self._status(run_id)
        job = _job(status) if status is not None else {}
        reason = cancelled_reason(status)
        state = State(session_id=job.get("session_id", run_id), agent=self.pattern.name)
        return self._build(
            {
                "answer": None,
                "stopped_reason": reason.value,
                "state": state.model_dump(mode="json"),
                "usage": {},
            }
        )

    # -- results -------------------------------------------------------------------------

    def _build(self, data: dict[str, Any]) -> TeamResult | GraphResult:
        """The `TeamResult` / `GraphResult` for the workflow's JSON `data`."""
        from spine_orchestration import GraphResult, MemberResult, TeamResult

        reason = StopReason(data["stopped_reason"])
        interrupt = data.get("interrupt")
        common: dict[str, Any] = {
            "answer": data.get("answer"),
            "stopped_reason": reason,
            "state": State.model_validate(data["state"]),
            "usage": Usage.model_validate(data.get("usage") or {}),
            "resume_token": data.get("resume_token"),
            "interrupt": InterruptRequest.model_validate(interrupt) if interrupt else None,
            "error": data.get("error"),
        }
        pattern = self.pattern
        if is_graph(pattern):
            values = data.get("values")
            view = pattern.schema.view(pattern.schema.load(values)) if values is not None else None
            return GraphResult(
                **common, values=view, step=data.get("step", 0), next=data.get("next") or []
            )
        members = [MemberResult.model_validate(m) for m in data.get("members") or ()]
        output = data.get("output")
        spec = _output_spec(pattern)
        if spec is not None and reason is StopReason.FINAL and common["answer"] is not None:
            output = spec.parse(common["answer"])
        return TeamResult(**common, members=members, output=output)


def _output_spec(pattern: Any) -> Any:
    """The output spec of the agent whose typed output a pattern's result carries: the last
    member of a `Sequential`, the aggregating agent of a `Parallel`."""
    if pattern.kind == "sequential":
        return pattern.agents[-1].output_spec
    if pattern.kind == "parallel" and isinstance(pattern.aggregate, Agent):
        return pattern.aggregate.output_spec
    return None


def _dump_input(input: Any) -> Any:
    if input is None or isinstance(input, str):
        return input
    if isinstance(input, BaseModel):
        return input.model_dump(mode="json")
    if isinstance(input, Mapping):
        return _json_ready(dict(input))
    raise TypeError(
        f"a durable run's input must be a str, a mapping or a pydantic model, not {input!r}"
    )
