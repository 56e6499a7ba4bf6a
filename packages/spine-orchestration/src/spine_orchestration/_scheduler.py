"""The step loop of one graph run.

Each step runs the nodes the previous step named, concurrently, all on the same state. Each
node's update is checkpointed (one log record, compare-and-set) the moment the node finishes,
so a killed process re-runs only the nodes that had not. When every node of the step has
finished, the updates are merged by the reducers in node order, the edges name the next
step's nodes, and a checkpoint record ends the step. A node that pauses (an approval or an
`Interrupt`, in an agent, a function or a sub-graph) pauses the run once the other nodes of
its step are done; a node that fails ends the run with an error, its siblings' work kept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import anyio

from spine_core import Decision, InterruptRequest, RunStatus, State, StopReason

from ._members import Human
from .errors import GraphError
from .events import GraphEvent, GraphEventType
from .history import INPUT, START, WRITE, Cursor, checkpoint_record, record
from .nodes import NodeCall, Outcome

if TYPE_CHECKING:
    from .workflow import Workflow

ANSWERS = "spine.graph.answers"  # state.scratch: node -> the answers its interrupts got
_START = "__start__"
_END = "__end__"


class Execution:
    """One `run` / `resume` of a graph: everything it changes lives here."""

    def __init__(
        self,
        workflow: Workflow,
        state: State,
        cursor: Cursor,
        *,
        human: Human | None = None,
        deps: Any = None,
        emit: Callable[[GraphEvent], None] | None = None,
    ) -> None:
        self.wf = workflow
        self.state = state
        self.cursor = cursor
        self.deps = deps
        self.emit = emit
        self.lock = anyio.Lock()
        self.error: str | None = None
        self.steps = 0  # steps taken by this invocation (bounded by max_steps)
        pending = state.pending
        self.human = human
        self.target = pending.data.get("node") if human is not None and pending else None
        self.kind = pending.kind if pending is not None else "input"
        self._viewed: tuple[dict[str, Any], Any] | None = None
        state.usage = cursor.usage  # one object: the agent nodes' usage adds to it

    # -- starting points -------------------------------------------------------------------

    async def start(self, values: dict[str, Any]) -> None:
        """A new run: log its state, name the first step, checkpoint."""
        self.cursor.values = values
        self.state.add_message(record(START, {"values": self.wf.schema.dump(values)}))
        await self._begin()

    async def new_input(self, update: dict[str, Any]) -> None:
        """Another input to a run that exists: merged by the reducers, then from START."""
        cursor = self.cursor
        cursor.values = self.wf.schema.merge(cursor.values, [("the input", update)])
        cursor.writes, cursor.joins = {}, {}
        self.state.add_message(record(INPUT, {"update": self.wf.schema.dump(update)}))
        cursor.step += 1
        await self._begin()

    async def _begin(self) -> None:
        cursor = self.cursor
        cursor.next, cursor.joins = await self._route([_START], cursor.joins)
        self.state.add_message(checkpoint_record(cursor.step, cursor.next, cursor.joins))
        self.state.status, self.state.stopped_reason = RunStatus.RUNNING, None
        await self.save()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> StopReason:
        """Take steps until none is left, a node pauses or fails, or `max_steps`."""
        self.state.status = RunStatus.RUNNING
        while self.cursor.next:
            if self.steps >= self.wf.max_steps:
                return StopReason.MAX_STEPS
            reason = await self._step()
            if reason is not None:
                return reason
        return StopReason.FINAL

    async def _step(self) -> StopReason | None:
        cursor = self.cursor
        step = cursor.step + 1
        view = self._view()
        todo = [name for name in cursor.next if name not in cursor.writes]
        outcomes: dict[str, Outcome] = {}
        if len(todo) == 1:  # the common case: no task group, no lock
            outcomes[todo[0]] = await self._node(todo[0], step, view, _NO_LOCK)
        elif todo:
            limiter = anyio.CapacityLimiter(self.wf.max_concurrency or len(todo))

            async def one(name: str) -> None:
                async with limiter:
                    outcomes[name] = await self._node(name, step, view, self.lock)

            async with anyio.create_task_group() as group:
                for name in todo:
                    group.start_soon(one, name)
        failed = [outcomes[n].error for n in cursor.next if n in outcomes and outcomes[n].error]
        if failed:
            self.error = "; ".join(e for e in failed if e)
            return StopReason.ERROR
        paused = [(n, outcomes[n]) for n in cursor.next if n in outcomes and outcomes[n].pause]
        if paused:
            await self._pause(paused)
            return StopReason.INTERRUPT
        try:
            writes = [(n, cursor.writes[n]) for n in cursor.next if n in cursor.writes]
            cursor.values = self.wf.schema.merge(cursor.values, writes)
            following, joins = await self._route(cursor.next, cursor.joins)
        except GraphError as exc:
            self.error = str(exc)
            return StopReason.ERROR
        cursor.step, cursor.next, cursor.joins, cursor.writes = step, following, joins, {}
        # Stored with the next write (or the end of the run): after a crash before that, the
        # writes are all in the log, so the merge and routing are simply done again.
        self.state.add_message(checkpoint_record(step, following, joins))
        self.steps += 1
        if self.emit is not None:
            values = self._view()
            self.emit(
                GraphEvent(GraphEventType.STATE, step, data={"values": values, "next": following})
            )
        return None

    async def _node(self, name: str, step: int, view: Any, lock: Any) -> Outcome:
        node = self.wf.nodes[name]
        human = self.human if name == self.target else None
        given = self.state.scratch.get(ANSWERS)
        answers = [Decision(**d) for d in given.get(name, ())] if given else []
        if human is not None:
            answers.append(human.for_pause(self.kind))
        if self.emit is not None:
            self.emit(GraphEvent(GraphEventType.NODE_START, step, name, {"kind": node.kind}))
        call = NodeCall(
            name, step, self.state.session_id, view, self.deps, human, answers, self.emit
        )
        outcome = await node.execute(call, self.wf.schema)
        async with lock:
            if human is not None:  # spent, whatever the node did with it
                self.human = self.target = None
                self.state.pending = None
            if outcome.update is not None:
                payload: dict[str, Any] = {
                    "node": name,
                    "step": step,
                    "update": self.wf.schema.dump(outcome.update),
                }
                if outcome.usage is not None and outcome.usage.requests:
                    payload["usage"] = outcome.usage.model_dump(mode="json")
                    self.cursor.usage.add(outcome.usage)
                self.state.add_message(record(WRITE, payload))
                self.cursor.writes[name] = outcome.update
                if given and given.pop(name, None) is not None and not given:
                    del self.state.scratch[ANSWERS]
                await self.save()
        if self.emit is not None:
            if outcome.update is not None:
                self.emit(
                    GraphEvent(GraphEventType.NODE_END, step, name, {"update": outcome.update})
                )
            elif outcome.error is not None:
                self.emit(GraphEvent(GraphEventType.ERROR, step, name, {"error": outcome.error}))
        return outcome

    async def _pause(self, paused: list[tuple[str, Outcome]]) -> None:
        """Surface the first pause (node order) as the run's; keep function nodes' answers."""
        answers = self.state.scratch.setdefault(ANSWERS, {})
        for name, outcome in paused:
            if outcome.answers:
                answers[name] = [asdict(d) for d in outcome.answers]
        first = paused[0][1].pause
        assert isinstance(first, InterruptRequest)
        self.state.pending = first
        if self.emit is not None:
            data = first.model_dump(mode="json", exclude={"decision"})
            self.emit(
                GraphEvent(GraphEventType.INTERRUPT, self.cursor.step + 1, paused[0][0], data)
            )

    async def _route(
        self, sources: list[str], joins: dict[str, list[str]]
    ) -> tuple[list[str], dict[str, list[str]]]:
        """The next step's nodes after `sources` finished, and the fan-in bookkeeping.

        Raises:
            GraphError: a router named something that is not a node.
        """
        wf = self.wf
        if len(sources) == 1 and sources[0] not in wf.join_index and sources[0] not in wf.branches:
            static = wf.edges.get(sources[0], ())  # the common case: a plain edge
            return list(dict.fromkeys(t for t in static if t != _END)), joins
        targets: list[str] = []
        joins = {k: list(v) for k, v in joins.items()}
        view: Any = None
        for source in sources:
            targets.extend(wf.edges.get(source, ()))
            for index in wf.join_index.get(source, ()):
                sources_needed, target = wf.joins[index]
                seen = joins.setdefault(str(index), [])
                if source not in seen:
                    seen.append(source)
                if len(seen) == len(sources_needed):
                    targets.append(target)
                    del joins[str(index)]
            for branch in wf.branches.get(source, ()):
                if view is None:
                    view = self._view()
                chosen = branch.router(view)
                if inspect.isawaitable(chosen):
                    chosen = await chosen
                for value in chosen if isinstance(chosen, list | tuple | set) else [chosen]:
                    target = _resolve(source, branch.path_map, value, wf.nodes)
                    targets.append(target)
        unique = list(dict.fromkeys(t for t in targets if t != _END))
        return unique, joins

    def _view(self) -> Any:
        """The state object nodes and routers see, built once per state."""
        values = self.cursor.values
        if self._viewed is None or self._viewed[0] is not values:
            self._viewed = (values, self.wf.schema.view(values))
        return self._viewed[1]

    async def finish(self, reason: StopReason) -> None:
        """Record how this invocation ended and checkpoint it."""
        state = self.state
        state.stopped_reason = reason
        state.status = {
            StopReason.INTERRUPT: RunStatus.INTERRUPTED,
            StopReason.ERROR: RunStatus.ERROR,
            StopReason.CANCELLED: RunStatus.CANCELLED,
        }.get(reason, RunStatus.DONE)
        if reason is not StopReason.INTERRUPT:
            state.pending = None
        await self.save()

    async def save(self) -> None:
        await self.wf.checkpoint.put(self.state)


class _NoLock:
    """An async context manager that does nothing (a step with one node needs no lock)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def _resolve(
    source: str, path_map: dict[Any, str] | None, value: Any, nodes: dict[str, Any]
) -> str:
    if path_map is not None:
        if value not in path_map:
            raise GraphError(
                f"the router after '{source}' returned {value!r}, which its path map "
                f"does not have (keys: {', '.join(map(repr, path_map))})"
            )
        value = path_map[value]
    if value is None or value == _END:
        return _END
    if not isinstance(value, str) or value not in nodes:
        known = ", ".join(nodes)
        raise GraphError(
            f"the router after '{source}' returned {value!r}, which is not a node "
            f"(nodes: {known}; or END)"
        )
    return value
