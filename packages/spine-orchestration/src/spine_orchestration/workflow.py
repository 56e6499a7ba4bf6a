"""`Workflow`: a compiled `Graph` — run, resume, stream, list checkpoints, fork, replay."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio

from spine_core import (
    CheckpointConflict,
    CheckpointStore,
    ResumeError,
    RunStatus,
    SpineError,
    State,
    StopReason,
)

from ._members import Human
from ._scheduler import Execution
from ._stream import GraphStream
from .events import GraphEvent, GraphEventType
from .history import START, UPDATE, Checkpoint, Cursor, checkpoint_record, record, replay
from .observe import observed
from .results import GraphResult

if TYPE_CHECKING:
    from .graph import Branch, Graph
    from .nodes import Node

__all__ = ["Workflow"]

_DEPTH: ContextVar[int] = ContextVar("spine_graph_depth", default=0)
_CANCEL_SAVE_S = 5.0  # seconds a cancelled run may spend checkpointing itself (shielded)
Emit = Callable[[GraphEvent], None] | None


class Workflow:
    """A runnable graph (made by `Graph.compile`). Immutable and stateless between calls: one
    instance serves any number of concurrent runs, each in its own session.

    A run is one session of `checkpoint` (see `spine_orchestration.history` for its log);
    each finished node is one compare-and-set write of only the new record, so a killed
    process continues with `run(None, session_id=...)` at the first unfinished node, and no
    finished node runs again. Agent nodes keep their own sessions in their agents' stores.

    Attributes:
        name: The graph's name.
        checkpoint: Where runs are checkpointed.
        max_steps: Steps per `run` / `resume` call.
        max_depth: How deeply graph runs may nest.
        max_concurrency: Nodes of one step running at once (None: all).
    """

    def __init__(
        self,
        graph: Graph,
        nodes: dict[str, Node],
        *,
        checkpoint: CheckpointStore,
        max_steps: int,
        max_depth: int,
        max_concurrency: int | None,
    ) -> None:
        self.name = graph.name
        self.schema = graph.schema
        self.nodes = nodes
        self.edges = {source: tuple(targets) for source, targets in graph.edges.items()}
        self.joins = list(graph.joins)
        self.branches: dict[str, tuple[Branch, ...]] = {
            source: tuple(branches) for source, branches in graph.branches.items()
        }
        self.join_index: dict[str, tuple[int, ...]] = {}
        for index, (sources, _target) in enumerate(self.joins):
            for source in sources:
                self.join_index[source] = (*self.join_index.get(source, ()), index)
        self.checkpoint = checkpoint
        self.max_steps = max_steps
        self.max_depth = max_depth
        self.max_concurrency = max_concurrency

    # -- running --------------------------------------------------------------------------

    async def run(
        self, input: Any, *, session_id: str | None = None, deps: Any = None
    ) -> GraphResult:
        """Run the graph on `input`, or continue the run `session_id` (input None).

        Args:
            input: The initial state (a mapping, or an instance of the state type) for a new
                run; for a run that exists, an update merged into its state by the reducers,
                after which it starts again from START (a new turn). None continues the run
                where it stopped: after a crash, a cancel, `max_steps` or a failed node
                (which runs again); a paused run returns its pause.
            session_id: The run's session id (default: a new one).
            deps: Given to every node (`NodeContext.deps`, agents' `deps`).

        Returns:
            A `GraphResult`. A pause anywhere inside (an agent's approval or `Interrupt`, a
            function node's `ctx.interrupt`, a sub-graph's pause) is the run's pause:
            `stopped_reason` interrupt, with a `resume_token` for `resume`.

        Raises:
            GraphError: the input does not fit the state type.
            SpineError: unknown session with no input, a session of something else, or input
                for a run that waits for a human (call `resume`).
            CheckpointConflict: another worker advanced the run first.
        """
        return await self._start(input, session_id, deps, None)

    async def resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
        deps: Any = None,
    ) -> GraphResult:
        """Continue a paused (or cancelled) run with a human's reply, in this or any process
        sharing the checkpoint stores.

        Args:
            token: `GraphResult.resume_token` (`"<session>:<interrupt id>"`, stale-checked),
                or the session id.
            decision: For an approval: True, "approve", "approved" or "yes" approves, any other
                value rejects. For an input pause: the answer, unless `answer` is given.
            answer: The answer to an input pause.
            reason: Why a call was rejected (shown to the model).
            deps: Given to every node.

        The reply is committed with a compare-and-set write before anything runs: of several
        workers resuming one pause, one continues the run.

        Raises:
            ResumeError: unknown session, nothing to resume, a stale token, or another worker
                resumed it first.
        """
        return await self._start_resume(token, Human(decision, answer, reason), deps, None)

    def stream(self, input: Any, *, session_id: str | None = None, deps: Any = None) -> GraphStream:
        """`run`, reporting `GraphEvent`s live: node start and end, state updates after each
        step, the agent nodes' own trace events (token deltas included), pauses, errors.

        Use: `async with workflow.stream(input) as events: async for event in events: ...`;
        the `GraphResult` is on `events.result` afterwards. Leaving the block before the run
        ended cancels it (checkpointed: continue it with `run(None, session_id=...)`).
        """
        return GraphStream(lambda emit: self._start(input, session_id, deps, emit))

    def stream_resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
        deps: Any = None,
    ) -> GraphStream:
        """`resume`, reporting events live like `stream`."""
        human = Human(decision, answer, reason)
        return GraphStream(lambda emit: self._start_resume(token, human, deps, emit))

    async def drive(
        self, session_id: str, input: Any, *, human: Human | None, deps: Any, emit: Emit
    ) -> GraphResult:
        """Bring the run `session_id` as far as it goes (for a sub-graph node): start it,
        resume its pause with `human`, continue it, or return it when it is complete."""
        state = await self.checkpoint.get(session_id)
        if state is not None and state.status is RunStatus.INTERRUPTED and state.pending:
            if human is not None:
                token = f"{session_id}:{state.pending.id}"
                return await self._start_resume(token, human, deps, emit)
        elif state is not None and state.stopped_reason is StopReason.FINAL:
            return self._result(state, self._replay(state), StopReason.FINAL)
        return await self._start(None if state is not None else input, session_id, deps, emit)

    async def _start(
        self, input: Any, session_id: str | None, deps: Any, emit: Emit
    ) -> GraphResult:
        too_deep = self._too_deep(session_id)
        if too_deep is not None:
            return too_deep
        state = await self.checkpoint.get(session_id) if session_id else None
        if state is None:
            if input is None:
                raise SpineError(f"session '{session_id}' not found and no input given")
            values = self.schema.initial(input)
            state = State(session_id=session_id or uuid.uuid4().hex, agent=self.name)
            execution = Execution(self, state, Cursor(), deps=deps, emit=emit)
            await execution.start(values)
            return await self._execute(execution)
        cursor = self._replay(state)
        if state.status is RunStatus.INTERRUPTED:
            if input is not None:
                raise SpineError(
                    f"session '{state.session_id}' is waiting for a human decision; "
                    "call resume() with its token first"
                )
            return self._result(state, cursor, StopReason.INTERRUPT)
        pending = state.pending  # claimed by a resume that did not finish
        human = Human.from_json(pending.decision) if pending is not None else None
        execution = Execution(self, state, cursor, human=human, deps=deps, emit=emit)
        if input is not None:
            execution.human, state.pending = None, None
            await execution.new_input(self.schema.update("the input", input))
        return await self._execute(execution)

    async def _start_resume(self, token: str, human: Human, deps: Any, emit: Emit) -> GraphResult:
        too_deep = self._too_deep(token)
        if too_deep is not None:
            return too_deep
        state = await self.checkpoint.get(token)
        interrupt_id: str | None = None
        if state is None:
            session_id, colon, interrupt_id = token.rpartition(":")
            state = await self.checkpoint.get(session_id) if colon and session_id else None
        if state is None or not _is_graph_run(state):
            raise ResumeError(f"no resumable run of graph '{self.name}' for token '{token}'")
        pending = state.pending
        given: Human | None = human
        if state.status is RunStatus.INTERRUPTED and pending is not None:
            if interrupt_id and interrupt_id != pending.id:
                raise ResumeError(f"resume token '{token}' is stale: that pause was resolved")
            pending.decision = human.to_json()
        elif state.status is RunStatus.CANCELLED and not interrupt_id:
            given = None
        else:
            raise ResumeError(
                f"session '{state.session_id}' has nothing to resume: it is {state.status.value}"
            )
        cursor = self._replay(state)
        state.status = RunStatus.RUNNING
        try:
            await self.checkpoint.put(state)  # the claim
        except CheckpointConflict as exc:
            raise ResumeError(
                f"session '{state.session_id}' was resumed by another worker first"
            ) from exc
        return await self._execute(
            Execution(self, state, cursor, human=given, deps=deps, emit=emit)
        )

    async def _execute(self, execution: Execution) -> GraphResult:
        with observed("graph", self.name, execution.state) as seen:
            result = await self._advance(execution)
            seen.stopped_reason, seen.error = result.stopped_reason, result.error
        return result

    async def _advance(self, execution: Execution) -> GraphResult:
        depth = _DEPTH.set(_DEPTH.get() + 1)
        try:
            reason = await execution.run()
        except (CheckpointConflict, ResumeError):
            raise
        except anyio.get_cancelled_exc_class():
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(_CANCEL_SAVE_S),
                contextlib.suppress(CheckpointConflict),
            ):
                await execution.finish(StopReason.CANCELLED)
            raise
        except Exception as exc:  # a router or reducer that raised: the run's error
            reason, execution.error = StopReason.ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            _DEPTH.reset(depth)
        await execution.finish(reason)
        result = self._result(execution.state, execution.cursor, reason, execution.error)
        if execution.emit is not None:
            if reason is StopReason.ERROR:
                execution.emit(
                    GraphEvent(GraphEventType.ERROR, result.step, data={"error": result.error})
                )
            execution.emit(
                GraphEvent(GraphEventType.FINAL, result.step, data={"stopped_reason": reason.value})
            )
        return result

    def _too_deep(self, session: str | None) -> GraphResult | None:
        if _DEPTH.get() < self.max_depth:
            return None
        state = State(session_id=session or uuid.uuid4().hex, agent=self.name)
        return GraphResult(
            stopped_reason=StopReason.MAX_DEPTH,
            state=state,
            answer=f"graph runs nest deeper than max_depth={self.max_depth} (recursion?)",
        )

    def _replay(self, state: State, *, collect: bool = False) -> Cursor:
        if not _is_graph_run(state):
            raise SpineError(f"session '{state.session_id}' is not a run of graph '{self.name}'")
        try:
            return replay(self.schema, state.messages, collect=collect)
        except ValueError as exc:
            raise SpineError(f"session '{state.session_id}': {exc}") from exc

    def _result(
        self, state: State, cursor: Cursor, reason: StopReason, error: str | None = None
    ) -> GraphResult:
        paused = reason is StopReason.INTERRUPT and state.pending is not None
        return GraphResult(
            stopped_reason=reason,
            state=state,
            usage=state.usage.model_copy(),
            resume_token=f"{state.session_id}:{state.pending.id}"
            if paused and state.pending
            else None,
            interrupt=state.pending if paused else None,
            error=(error or "the run failed") if reason is StopReason.ERROR else None,
            values=self.schema.view(cursor.values),
            step=cursor.step,
            next=list(cursor.next),
        )

    # -- history ------------------------------------------------------------------------

    async def history(self, session_id: str) -> list[Checkpoint]:
        """The run's checkpoints, oldest first: one after its input and one per step.

        Raises:
            SpineError: no such run.
        """
        state = await self._load(session_id)
        return [snapshot for _, snapshot in self._replay(state, collect=True).checkpoints]

    async def get_state(self, session_id: str) -> Checkpoint:
        """The run's latest checkpoint (`history(...)[-1]`)."""
        return (await self.history(session_id))[-1]

    async def fork(
        self,
        session_id: str,
        step: int,
        *,
        new_session_id: str | None = None,
        update: Any = None,
    ) -> str:
        """Copy the run as it stood at checkpoint `step` into a new session (time travel);
        the original run is left as it is. Continue the copy with `run(None,
        session_id=<returned id>)`; its nodes (agents included) run anew from there.

        Args:
            session_id: The run to fork.
            step: A checkpoint's `step` (see `history`).
            new_session_id: The new run's session id (default: a new one).
            update: State updates applied to the copy first (merged by the reducers).

        Returns:
            The new run's session id.

        Raises:
            SpineError: no such run or checkpoint, or `new_session_id` is taken.
            GraphError: `update` does not fit the state type.
        """
        state = await self._load(session_id)
        cursor = self._replay(state, collect=True)
        found = [index for index, snapshot in cursor.checkpoints if snapshot.step == step]
        if not found:
            steps = ", ".join(str(s.step) for _, s in cursor.checkpoints)
            raise SpineError(f"run '{session_id}' has no checkpoint {step} (steps: {steps})")
        prefix = list(state.messages[: found[-1] + 1])
        at = replay(self.schema, prefix)
        fork = State(
            session_id=new_session_id or uuid.uuid4().hex,
            agent=self.name,
            tenant_id=state.tenant_id,
            messages=prefix,
            usage=at.usage.model_copy(),
        )
        if update is not None:
            checked = self.schema.update("the fork's update", update)
            fork.add_message(record(UPDATE, {"update": self.schema.dump(checked)}))
            fork.add_message(checkpoint_record(at.step + 1, at.next, at.joins))
        try:
            await self.checkpoint.put(fork)
        except CheckpointConflict as exc:
            raise SpineError(f"session '{fork.session_id}' already exists") from exc
        return fork.session_id

    async def replay(
        self, session_id: str, step: int, *, new_session_id: str | None = None, deps: Any = None
    ) -> GraphResult:
        """Run again from checkpoint `step` in a fork (`fork`, then `run(None, ...)`)."""
        forked = await self.fork(session_id, step, new_session_id=new_session_id)
        return await self.run(None, session_id=forked, deps=deps)

    async def _load(self, session_id: str) -> State:
        state = await self.checkpoint.get(session_id)
        if state is None:
            raise SpineError(f"no run of graph '{self.name}' has session '{session_id}'")
        return state

    def to_mermaid(self) -> str:
        """The graph as Mermaid flowchart source (paste it into any Mermaid renderer)."""
        from ._mermaid import to_mermaid

        return to_mermaid(self)


def _is_graph_run(state: State) -> bool:
    return bool(state.messages) and state.messages[0].name == START
