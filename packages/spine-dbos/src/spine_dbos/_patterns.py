"""The DBOS workflow that runs one orchestration pattern or graph run, and the per-execution
copy of the pattern it runs.

`spine_dbos.run_pattern` runs a `Sequential`, `Parallel`, `Handoff` or compiled graph
(`Workflow`) of spine-orchestration inside one DBOS workflow. It runs a *copy* of the pattern
made for that execution (`localize`): every member agent's provider and tools are wrapped as
DBOS steps (`spine.model`, `spine.tool:<name>`, see `_steps`), every graph function node's
call is a step (`spine.node:<node>`), and every checkpoint store (the pattern's own, each
member's, each sub-graph's) is a fresh in-memory store. The pattern's loop runs unchanged on
top. A replay after a crash therefore starts from empty stores and takes the same path:
each completed model, tool and node call returns its recorded outcome, and only the call in
flight at the crash runs again.

Concurrency: step ids are drawn in call order, so members of one batch (a `Parallel` fan-out,
the nodes of one graph step) run one at a time inside the workflow, in a fixed order: agent
order for `Parallel`, the step's node order for a graph (the copy's `max_concurrency` is 1).

A pause (an approval or a tool's `Interrupt` in any member, a function node's
`ctx.interrupt`) publishes the pause as the workflow event `spine.pause` and waits in the same
workflow on `DBOS.recv` (topic `spine.decision`); the decision resumes the in-memory copy.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from dbos import DBOS
from pydantic_core import to_jsonable_python

from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    Interrupt,
    MiddlewareChain,
    SpineError,
    State,
    StopReason,
)

from ._steps import StepMiddleware, StepProvider, StepTool, _failure_class
from ._workflows import DECISION_TOPIC

__all__ = [
    "DECISION_EVENT",
    "NODE_STEP_PREFIX",
    "PATTERN_WORKFLOW",
    "PAUSE_EVENT",
    "is_graph",
    "localize",
    "pattern_workflow",
    "register_pattern",
    "registered_pattern",
    "summary",
]

PATTERN_WORKFLOW = "spine_dbos.run_pattern"
"""The DBOS workflow name of a durable pattern or graph run."""

NODE_STEP_PREFIX = "spine.node:"
"""The DBOS step name of a graph function node's call is this prefix plus the node's name."""

PAUSE_EVENT = "spine.pause"
"""Workflow event: `{"pause": n, "summary": ...}` for the run's n-th pause (n from 1)."""

DECISION_EVENT = "spine.decision"
"""Workflow event: `{"pause": n, "decision": message}`, the decision that resolved pause n."""

PATTERN_KINDS = ("sequential", "parallel", "handoff")

_PATTERNS: dict[str, Any] = {}


def register_pattern(key: str, pattern: Any) -> None:
    """Make `pattern` runnable by this process's pattern workflows under `key` (replaces any
    pattern registered under it)."""
    _PATTERNS[key] = pattern


def registered_pattern(key: str) -> Any:
    """The pattern or graph registered under `key`.

    Raises:
        SpineError: none by that key in this process.
    """
    found = _PATTERNS.get(key)
    if found is None:
        known = ", ".join(sorted(_PATTERNS)) or "none"
        raise SpineError(
            f"no durable pattern '{key}' in this worker (registered: {known}); "
            "wrap it with DurableWorkflow before launching the worker"
        )
    return found


def is_graph(pattern: Any) -> bool:
    """Whether `pattern` is a compiled graph (`spine_orchestration.Workflow`)."""
    return all(hasattr(pattern, a) for a in ("nodes", "schema", "edges", "checkpoint"))


def check_pattern(pattern: Any) -> None:
    """Raises TypeError unless `pattern` is a pattern or compiled graph spine-dbos can run."""
    if isinstance(pattern, Agent):
        raise TypeError(
            "an Agent (a supervisor(...) too) is one agent: wrap it with DurableAgent; "
            "DurableWorkflow takes a Sequential, Parallel, Handoff or compiled graph"
        )
    if hasattr(pattern, "compile") and not is_graph(pattern):  # a Graph, not compiled
        raise TypeError("compile the graph first: DurableWorkflow(graph.compile())")
    if not is_graph(pattern) and getattr(pattern, "kind", None) not in PATTERN_KINDS:
        raise TypeError(
            "DurableWorkflow takes a spine_orchestration Sequential, Parallel, Handoff or "
            f"compiled graph (Workflow), not {type(pattern).__name__}"
        )


# -- the per-execution copy ----------------------------------------------------------------


class _Copies:
    """The copies of one execution: one per agent object (an agent used twice stays one)."""

    def __init__(self) -> None:
        self.agents: dict[int, Agent] = {}

    def agent(self, agent: Agent) -> Agent:
        found = self.agents.get(id(agent))
        if found is None:
            found = self.agents[id(agent)] = _step_agent(agent)
        return found


def _step_agent(agent: Agent) -> Agent:
    """A copy of `agent` whose model and tool calls are DBOS steps, whose tool batches run in
    call order, and whose sessions live in a fresh in-memory store."""
    local = copy.copy(agent)
    local.provider = StepProvider(agent.provider)
    local.tools = {name: StepTool.wrap(tool) for name, tool in agent.tools.items()}
    local.chain = MiddlewareChain([*agent.chain.middleware, StepMiddleware()])
    local.parallel_tools = False
    local.checkpoint = InMemoryCheckpointStore(max_sessions=None)
    return local


def localize(pattern: Any) -> Any:
    """The copy of `pattern` one workflow execution runs (see the module docstring).

    Raises:
        TypeError: not a pattern or compiled graph.
    """
    check_pattern(pattern)
    copies = _Copies()
    if is_graph(pattern):
        return _local_graph(pattern, copies)
    local = copy.copy(pattern)
    local.checkpoint = InMemoryCheckpointStore(max_sessions=None)
    if pattern.kind == "handoff":
        local.agents = {name: copies.agent(a) for name, a in pattern.agents.items()}
        return local
    local.agents = [copies.agent(a) for a in pattern.agents]
    if pattern.kind == "parallel":
        local.max_concurrency = 1  # branches in agent order: replay-stable step ids
        if isinstance(pattern.aggregate, Agent):
            local.aggregate = copies.agent(pattern.aggregate)
    return local


def _local_graph(workflow: Any, copies: _Copies) -> Any:
    local = copy.copy(workflow)
    local.checkpoint = InMemoryCheckpointStore(max_sessions=None)
    local.max_concurrency = 1  # the nodes of a step in node order: replay-stable step ids
    nodes: dict[str, Any] = {}
    for name, node in workflow.nodes.items():
        twin = copy.copy(node)
        if node.kind == "agent":
            twin.agent = copies.agent(node.agent)
        elif node.kind == "function":
            twin.fn = _node_step(name, node, workflow.schema)
            twin.is_async = True
        elif node.kind == "graph" and node.workflow is not None:
            twin.workflow = _local_graph(node.workflow, copies)
        nodes[name] = twin
    local.nodes = nodes
    return local


def _node_step(name: str, node: Any, schema: Any) -> Callable[..., Any]:
    """The function node's function as one DBOS step per call (name `spine.node:<name>`).

    The update is recorded as JSON (`schema.dump`); a `ctx.interrupt` and a failure are
    recorded too and raised again on replay (a failure with the original class name and
    message, so the run's error text is the same)."""
    fn, is_async, step = node.fn, node.is_async, NODE_STEP_PREFIX + name

    async def body(args: tuple[Any, ...]) -> dict[str, Any] | None:
        async def call() -> dict[str, Any]:
            try:
                if is_async:
                    value = await fn(*args)
                else:
                    value = await anyio.to_thread.run_sync(functools.partial(fn, *args))
                    if inspect.isawaitable(value):
                        value = await value
                update = {} if value is None else schema.update(f"node '{name}'", value)
            except Interrupt as asked:
                pause = {"question": asked.question, "data": asked.data, "kind": asked.kind}
                return {"interrupt": pause}
            except Exception as exc:
                graph_error = type(exc).__name__ == "GraphError"
                failure = {"type": type(exc).__name__, "message": str(exc), "graph": graph_error}
                return {"failure": failure}
            return {"update": schema.dump(update)}

        outcome = await DBOS.run_step_async({"name": step}, call)
        if "update" in outcome:
            loaded: dict[str, Any] = schema.load(outcome["update"])
            return loaded
        if "interrupt" in outcome:
            pause = outcome["interrupt"]
            raise Interrupt(pause["question"], data=pause["data"], kind=pause["kind"])
        failure = outcome["failure"]
        if failure.get("graph"):
            from spine_orchestration import GraphError

            raise GraphError(failure["message"])
        raise _failure_class(failure["type"])(failure["message"])

    if node.takes_context:

        async def with_context(view: Any, ctx: Any) -> dict[str, Any] | None:
            return await body((view, ctx))

        return with_context

    async def plain(view: Any) -> dict[str, Any] | None:
        return await body((view,))

    return plain


# -- the workflow ----------------------------------------------------------------------------


def pause_token(run_id: str, pause: int) -> str:
    """The resume token of pause `pause` (from 1) of the run `run_id`: `<run id>#<pause>`."""
    return f"{run_id}#{pause}"


@DBOS.workflow(name=PATTERN_WORKFLOW)
async def pattern_workflow(job: dict[str, Any]) -> dict[str, Any]:
    """One durable pattern or graph run, pauses included; returns the result as JSON-ready
    data (`summary`)."""
    pattern = registered_pattern(job["pattern"])
    try:
        return await _run(pattern, job)
    except SpineError as exc:  # the run cannot start (bad input, ...)
        return _failure(pattern, job, exc)


async def _run(pattern: Any, job: dict[str, Any]) -> dict[str, Any]:
    local = localize(pattern)
    run_id: str = job["run_id"]
    timeout = float(job["approval_timeout_s"])
    result = await local.run(job.get("input"), session_id=job["session_id"])
    pause = 0
    while result.stopped_reason is StopReason.INTERRUPT and result.resume_token is not None:
        pause += 1
        paused = summary(pattern, result)
        paused["resume_token"] = pause_token(run_id, pause)
        await DBOS.set_event_async(PAUSE_EVENT, {"pause": pause, "summary": paused})
        decision = await _await_decision(pause, timeout)
        await DBOS.set_event_async(DECISION_EVENT, {"pause": pause, "decision": decision})
        result = await local.resume(
            result.resume_token,
            decision.get("decision", "approve"),
            answer=decision.get("answer"),
            reason=decision.get("reason"),
        )
    return summary(pattern, result)


async def _await_decision(pause: int, wait_s: float) -> dict[str, Any]:
    """The first decision sent for pause `pause` (decisions for earlier pauses that arrive
    late are dropped); a rejection when none arrives within `wait_s` seconds."""
    while True:
        message = await DBOS.recv_async(DECISION_TOPIC, timeout_seconds=wait_s)
        if message is None:
            return {
                "pause": pause,
                "decision": "reject",
                "reason": f"no decision within {wait_s:g} s",
            }
        if isinstance(message, dict) and message.get("pause") == pause:
            return message


def summary(pattern: Any, result: Any) -> dict[str, Any]:
    """A `TeamResult` / `GraphResult` as JSON-ready data (the workflow's output)."""
    pending = result.state.pending
    data: dict[str, Any] = {
        "answer": result.answer,
        "stopped_reason": result.stopped_reason.value,
        "state": result.state.model_dump(mode="json"),
        "usage": result.usage.model_dump(mode="json"),
        "error": result.error,
        "interrupt": pending.model_dump(mode="json") if result.interrupted and pending else None,
        "resume_token": None,
    }
    if is_graph(pattern):
        schema = pattern.schema
        values = result.values
        data["values"] = schema.dump(schema.values_of(values)) if values is not None else None
        data["step"] = result.step
        data["next"] = list(result.next)
    else:
        data["members"] = [m.model_dump(mode="json") for m in result.members]
        data["output"] = to_jsonable_python(result.output, fallback=str)
    return data


def _failure(pattern: Any, job: dict[str, Any], exc: SpineError) -> dict[str, Any]:
    name = getattr(pattern, "name", job["pattern"])
    state = State(session_id=job["session_id"], agent=name)
    data: dict[str, Any] = {
        "answer": None,
        "stopped_reason": StopReason.ERROR.value,
        "state": state.model_dump(mode="json"),
        "usage": {},
        "error": f"{type(exc).__name__}: {exc}",
        "interrupt": None,
        "resume_token": None,
    }
    if is_graph(pattern):
        data.update(values=None, step=0, next=[])
    else:
        data.update(members=[], output=None)
    return data
