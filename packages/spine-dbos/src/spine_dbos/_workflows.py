"""The two DBOS workflows every Spine worker registers, and the agent registry they use.

- `spine_dbos.run` (one *segment* of a run): load the session (a step), run the kernel loop
  with the model and tool calls as steps, commit the session (a step). A segment that ends on
  a human pause starts the waiter and returns at once, so it frees its queue slot.
- `spine_dbos.await_decision` (the *waiter*): `DBOS.recv` on topic `spine.decision`; when the
  decision arrives (from any process, `DBOS.send`), it enqueues the next segment, which
  resumes the kernel loop with that decision.

Workflow ids: a run's first segment is the run id `R`; segment n > 0 is `R~n`; the waiter
after segment n is `R~n.wait` (the run's resume token). All arguments and results are
JSON-ready dicts, so they survive any worker and any pickle-incompatible upgrade.
"""

from __future__ import annotations

import copy
from typing import Any

from dbos import DBOS, EnqueueOptions, SetWorkflowID

from spine_core import (
    Agent,
    CheckpointConflict,
    InMemoryCheckpointStore,
    Message,
    MiddlewareChain,
    Result,
    SpineError,
    State,
    StopReason,
)

from ._steps import StepMiddleware, StepProvider, StepTool

__all__ = [
    "DECISION_TOPIC",
    "RUN_WORKFLOW",
    "WAIT_WORKFLOW",
    "await_decision_workflow",
    "register_agent",
    "registered_agent",
    "run_workflow",
]

RUN_WORKFLOW = "spine_dbos.run"
WAIT_WORKFLOW = "spine_dbos.await_decision"
DECISION_TOPIC = "spine.decision"
LOAD_STEP = "spine.load"
COMMIT_STEP = "spine.commit"

# state.scratch key: the segment workflow that committed this state (makes the commit step
# idempotent when it re-runs after a crash between the write and DBOS recording the step).
_COMMITTED_BY = "spine_dbos.committed_by"

_AGENTS: dict[str, Agent] = {}


def register_agent(key: str, agent: Agent) -> None:
    """Make `agent` runnable by this process's workflows under `key` (replaces any agent
    registered under it: a worker that rebuilds its agent re-registers)."""
    _AGENTS[key] = agent


def registered_agent(key: str) -> Agent:
    """The agent registered under `key`.

    Raises:
        SpineError: no agent by that key in this process.
    """
    agent = _AGENTS.get(key)
    if agent is None:
        known = ", ".join(sorted(_AGENTS)) or "none"
        raise SpineError(
            f"no durable agent '{key}' in this worker (registered: {known}); "
            "wrap it with DurableAgent before launching the worker"
        )
    return agent


def segment_id(run_id: str, segment: int) -> str:
    return run_id if segment == 0 else f"{run_id}~{segment}"


def waiter_id(run_id: str, segment: int) -> str:
    return f"{segment_id(run_id, segment)}.wait"


def enqueue_options(job: dict[str, Any], workflow_id: str) -> EnqueueOptions:
    """Options that enqueue segment `job` under `workflow_id` on its queue."""
    options: EnqueueOptions = {
        "workflow_name": RUN_WORKFLOW,
        "queue_name": job["queue"],
        "workflow_id": workflow_id,
        "attributes": {"spine_agent": job["agent"], "spine_session": job["session_id"]},
    }
    return options


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(job: dict[str, Any]) -> dict[str, Any]:
    """One segment of a durable run; returns the Result as JSON-ready data (`summary`)."""
    agent = registered_agent(job["agent"])
    try:
        return await _segment(agent, job)
    except SpineError as exc:  # the run cannot go on (a conflicting writer, a waiting session)
        return _failure(agent, job, exc)


async def _segment(agent: Agent, job: dict[str, Any]) -> dict[str, Any]:
    session_id: str = job["session_id"]
    state: dict[str, Any] | None = job.get("state")
    if state is None:
        state = await DBOS.run_step_async({"name": LOAD_STEP}, _load, agent, session_id)
    base_revision = state["revision"] if state is not None else 0
    local = await _workflow_agent(agent, state)
    decision: dict[str, Any] | None = job.get("decision")
    if decision is None:
        result = await local.run(_input(job.get("input")), session_id=session_id)
    else:
        result = await local.resume(
            session_id,
            decision.get("decision", "approve"),
            answer=decision.get("answer"),
            reason=decision.get("reason"),
        )
    final = result.state
    final.scratch[_COMMITTED_BY] = DBOS.workflow_id
    final_json = final.model_dump(mode="json")
    final_json["revision"] = await DBOS.run_step_async(
        {"name": COMMIT_STEP}, _commit, agent, final_json, base_revision
    )
    summary = _summary(result, final_json)
    if result.stopped_reason is StopReason.INTERRUPT:
        wait_job = {**job, "state": final_json, "input": None, "decision": None}
        token = waiter_id(job["run_id"], job["segment"])
        with SetWorkflowID(token):
            await DBOS.start_workflow_async(await_decision_workflow, wait_job)
        summary["resume_token"] = token
    return summary


@DBOS.workflow(name=WAIT_WORKFLOW)
async def await_decision_workflow(job: dict[str, Any]) -> dict[str, Any]:
    """Wait (durably, holding no queue slot) for the decision on a paused run, then enqueue
    the segment that continues it; returns `{"continuation": id, "decision": decision}`."""
    timeout = float(job["approval_timeout_s"])
    message = await DBOS.recv_async(DECISION_TOPIC, timeout_seconds=timeout)
    if isinstance(message, dict):
        decision: dict[str, Any] = message
    else:
        decision = {"decision": "reject", "reason": f"no decision within {timeout:g} s"}
    segment = job["segment"] + 1
    following = {**job, "segment": segment, "decision": decision}
    continuation = segment_id(job["run_id"], segment)
    if job.get("queue"):
        await DBOS.enqueue_workflow_with_options_async(
            enqueue_options(following, continuation), following
        )
    else:
        with SetWorkflowID(continuation):
            await DBOS.start_workflow_async(run_workflow, following)
    return {"continuation": continuation, "decision": decision}


async def _workflow_agent(agent: Agent, state: dict[str, Any] | None) -> Agent:
    """A per-execution copy of `agent`: its provider and tools wrapped as steps, an innermost
    `StepMiddleware`, tool batches run in call order (step ids must be deterministic), and
    a fresh in-memory store seeded with the loaded session (the kernel's per-step writes stay
    local; the session store is written once, by the commit step)."""
    local = copy.copy(agent)
    local.provider = StepProvider(agent.provider)
    local.tools = {name: StepTool.wrap(tool) for name, tool in agent.tools.items()}
    local.chain = MiddlewareChain([*agent.chain.middleware, StepMiddleware()])
    local.parallel_tools = False
    local.checkpoint = InMemoryCheckpointStore(max_sessions=None)
    if state is not None:
        seeded = State.model_validate(state)
        seeded.revision = 0
        await local.checkpoint.put(seeded)
    return local


def _input(value: Any) -> str | list[Message] | None:
    if value is None or isinstance(value, str):
        return value
    return [Message.model_validate(item) for item in value]


async def _load(agent: Agent, session_id: str) -> dict[str, Any] | None:
    state = await agent.checkpoint.get(session_id)
    return state.model_dump(mode="json") if state is not None else None


async def _commit(agent: Agent, state_json: dict[str, Any], base_revision: int) -> int:
    """Write the segment's final state to the agent's store (compare-and-set on the revision
    the segment started from); returns the new revision.

    Raises:
        CheckpointConflict: another writer changed the session during the segment.
    """
    state = State.model_validate(state_json)
    state.revision = base_revision
    try:
        await agent.checkpoint.put(state)
    except CheckpointConflict:
        stored = await agent.checkpoint.get(state.session_id)
        if stored is None:
            # A process-local store (the in-memory default) on another worker than the
            # segment before: the run's state travels in DBOS, so store it here as new.
            state.revision = 0
            await agent.checkpoint.put(state)
            return state.revision
        if stored.scratch.get(_COMMITTED_BY) != state.scratch.get(_COMMITTED_BY):
            raise
        return stored.revision  # this step's own write, landed before a crash
    return state.revision


def _failure(agent: Agent, job: dict[str, Any], exc: SpineError) -> dict[str, Any]:
    state = job.get("state") or State(session_id=job["session_id"], agent=agent.label).model_dump(
        mode="json"
    )
    return {
        "answer": None,
        "stopped_reason": StopReason.ERROR.value,
        "state": state,
        "usage": {},
        "error": str(exc),
        "error_detail": {"type": type(exc).__name__, "message": str(exc)},
        "interrupt": None,
        "resume_token": None,
    }


def _summary(result: Result, state_json: dict[str, Any]) -> dict[str, Any]:
    pending = result.state.pending
    return {
        "answer": result.answer,
        "stopped_reason": result.stopped_reason.value,
        "state": state_json,
        "usage": result.usage.model_dump(mode="json"),
        "error": result.error,
        "error_detail": result.error_detail,
        "interrupt": pending.model_dump(mode="json") if result.interrupted and pending else None,
        "resume_token": None,
    }
