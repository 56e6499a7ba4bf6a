"""Graph nodes: async (or sync) functions, agents and sub-graphs, behind one `execute`.

A node gets the state as it was at the start of its step (all nodes of a step see the same
state) and returns an update: a mapping of fields to values, merged by the reducers.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread

from spine_core import (
    Agent,
    Decision,
    Interrupt,
    InterruptRequest,
    Message,
    Result,
    ToolCall,
    TraceEvent,
    Usage,
)

from ._members import Human, drive_agent, pass_up
from ._schema import Schema
from .errors import GraphError
from .events import GraphEvent, GraphEventType

if TYPE_CHECKING:
    from .workflow import Workflow

__all__ = ["NodeContext"]


class NodeContext:
    """What a function node may take as its second parameter: `fn(state, ctx)`.

    Attributes:
        node: The node's name.
        step: The graph step it runs in.
        session_id: The graph run's session id.
        deps: The run's dependencies object (`Workflow.run(deps=...)`).
        decision: The human's latest decision for this node when it runs again after a
            pause (approve / reject / answer), else None.
    """

    __slots__ = ("_answers", "_asked", "decision", "deps", "node", "session_id", "step")

    def __init__(
        self, node: str, step: int, session_id: str, deps: Any, answers: Sequence[Decision]
    ) -> None:
        self.node = node
        self.step = step
        self.session_id = session_id
        self.deps = deps
        self._answers = list(answers)
        self._asked = 0
        self.decision = self._answers[-1] if self._answers else None

    def interrupt(
        self,
        question: str,
        *,
        data: dict[str, Any] | None = None,
        kind: Literal["input", "approval"] = "input",
    ) -> Any:
        """Ask a human, pausing the whole graph until `Workflow.resume` answers.

        The node runs again from its start when the graph resumes (so keep what comes
        before the question free of side effects, or make it idempotent); the n-th call then
        returns the n-th answer instead of pausing.

        Args:
            question: What the human is asked.
            data: JSON-ready context shown with the question.
            kind: "input" (the human answers with text) or "approval".

        Returns:
            The answer text (input), or True / False (approval: approved or rejected).

        Raises:
            Interrupt: no answer yet (the graph pauses; do not catch it).
        """
        index = self._asked
        self._asked += 1
        if index < len(self._answers):
            given = self._answers[index]
            return given.answer if kind == "input" else given.approved
        raise Interrupt(question, data=data, kind=kind)

    @property
    def answers(self) -> list[Decision]:
        return list(self._answers)


@dataclass(slots=True)
class NodeCall:
    """One execution of one node (per run, never shared)."""

    name: str
    step: int
    session_id: str
    view: Any
    deps: Any
    human: Human | None = None
    answers: list[Decision] = field(default_factory=list)
    emit: Callable[[GraphEvent], None] | None = None


@dataclass(slots=True)
class Outcome:
    """How a node execution ended: an update, a pause, or an error."""

    update: dict[str, Any] | None = None
    pause: InterruptRequest | None = None
    answers: list[Decision] = field(default_factory=list)
    error: str | None = None
    usage: Usage | None = None


class FunctionNode:
    """`fn(state)` or `fn(state, ctx)`; async functions run on the loop, sync ones in a
    worker thread. Returns a mapping of updates, or None for none."""

    kind = "function"
    __slots__ = ("fn", "is_async", "takes_context", "writes")

    def __init__(self, fn: Callable[..., Any], writes: Sequence[str] | None) -> None:
        self.fn = fn
        self.writes = tuple(writes or ())
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):  # a builtin without a signature: takes the state
            params = []
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.takes_context = len(positional) >= 2
        self.is_async = _is_async(fn)

    async def execute(self, call: NodeCall, schema: Schema) -> Outcome:
        ctx = None
        if self.takes_context:
            ctx = NodeContext(call.name, call.step, call.session_id, call.deps, call.answers)
        args = (call.view, ctx) if ctx is not None else (call.view,)
        try:
            if self.is_async:
                value = await self.fn(*args)
            else:
                value = await anyio.to_thread.run_sync(functools.partial(self.fn, *args))
                if inspect.isawaitable(value):
                    value = await value
            update = {} if value is None else schema.update(f"node '{call.name}'", value)
        except Interrupt as asked:
            pause = InterruptRequest(
                id=uuid.uuid4().hex[:16],
                kind=asked.kind,
                tool_call=ToolCall(id=f"node:{call.name}", name=call.name),
                question=asked.question,
                data={**asked.data, "node": call.name},
            )
            return Outcome(pause=pause, answers=ctx.answers if ctx is not None else [])
        except Exception as exc:
            return Outcome(error=_failure(call.name, exc))
        return Outcome(update=update)


class AgentNode:
    """An agent: its input from the state, its answer (or typed output) into a field.

    Each execution runs in the session `<graph session>/<step>.<node>` of the agent's store.
    """

    kind = "agent"
    __slots__ = ("agent", "input", "output", "writes")

    def __init__(
        self,
        agent: Agent,
        input: str | Callable[[Any], Any] | None,
        output: str | Callable[[Result], Any] | None,
    ) -> None:
        self.agent = agent
        self.input = input if input is not None else "input"
        self.output = output if output is not None else "output"
        self.writes = (self.output,) if isinstance(self.output, str) else ()

    def fields(self) -> list[str]:
        """The state fields it names (checked by `Graph.compile`)."""
        return [f for f in (self.input, self.output) if isinstance(f, str)]

    async def execute(self, call: NodeCall, schema: Schema) -> Outcome:
        session = f"{call.session_id}/{call.step}.{call.name}"
        try:
            result = await drive_agent(
                self.agent,
                session,
                self._prompt(call.view),
                human=call.human,
                deps=call.deps,
                on_event=_forward(call) if call.emit is not None else None,
            )
            if result.interrupted and result.interrupt is not None:
                pause = pass_up(self.agent.label, result.state.session_id, result.interrupt)
                pause.data["node"] = call.name
                return Outcome(pause=pause)
            if not result.ok:
                detail = result.error or result.answer or ""
                return Outcome(
                    error=f"agent node '{call.name}' stopped with "
                    f"{result.stopped_reason.value}" + (f": {detail}" if detail else ""),
                    usage=result.usage,
                )
            update = schema.update(f"node '{call.name}'", self._update(result, schema))
        except Exception as exc:
            return Outcome(error=_failure(call.name, exc))
        return Outcome(update=update, usage=result.usage)

    def _prompt(self, view: Any) -> Any:
        if callable(self.input):
            return self.input(view)
        value = view[self.input] if isinstance(view, dict) else getattr(view, self.input)
        if isinstance(value, list) and value and all(isinstance(m, Message) for m in value):
            return value
        return value if isinstance(value, str) else str(value)

    def _update(self, result: Result, schema: Schema) -> Any:
        if callable(self.output):
            return self.output(result)
        value = result.output if result.output is not None else result.answer
        if self.output in schema.reducers and not isinstance(value, list):
            value = [value]  # one item for a list field with a reducer (e.g. append)
        return {self.output: value}


class GraphNode:
    """A sub-graph: its state from the parent's (the fields both share, or `input`), its
    result back as an update (the shared fields it changed, or `output`).

    Each execution is the run `<graph session>/<step>.<node>` in the sub-graph's store.
    """

    kind = "graph"
    __slots__ = ("input", "output", "source", "workflow", "writes")

    def __init__(
        self,
        source: Any,
        input: Callable[[Any], Any] | None,
        output: Callable[[Any], Any] | None,
    ) -> None:
        self.source = source  # a Graph (compiled with the parent) or a Workflow
        self.workflow: Workflow | None = None
        self.input = input
        self.output = output
        self.writes: tuple[str, ...] = ()

    async def execute(self, call: NodeCall, schema: Schema) -> Outcome:
        child = self.workflow
        assert child is not None, "compile the parent graph first"
        session = f"{call.session_id}/{call.step}.{call.name}"
        try:
            given = self._child_input(call.view, schema, child.schema)
            result = await child.drive(
                session, given, human=call.human, deps=call.deps, emit=_nested(call)
            )
            if result.interrupted and result.interrupt is not None:
                pause = result.interrupt.model_copy(deep=True)
                pause.data["node"] = call.name
                return Outcome(pause=pause)
            if not result.ok:
                return Outcome(
                    error=f"sub-graph node '{call.name}' stopped with "
                    f"{result.stopped_reason.value}: {result.error or ''}".rstrip(": "),
                    usage=result.usage,
                )
            values = result.values
            if self.output is not None:
                update = self.output(values)
            else:
                update = _changed(given, child.schema.values_of(values), schema)
            checked = schema.update(f"node '{call.name}'", update)
        except Exception as exc:
            return Outcome(error=_failure(call.name, exc))
        return Outcome(update=checked, usage=result.usage)

    def _child_input(self, view: Any, parent: Schema, child: Schema) -> dict[str, Any]:
        if self.input is not None:
            data = self.input(view)
            return dict(data)
        values = view.__dict__ if parent.is_model else view
        return {k: v for k, v in values.items() if k in child.fields}


def _changed(given: dict[str, Any], final: dict[str, Any], parent: Schema) -> dict[str, Any]:
    """The shared fields the sub-graph changed; for list fields with a reducer, only the
    items it added (so `append` does not add the parent's items twice)."""
    update: dict[str, Any] = {}
    for name, value in final.items():
        if name not in parent.fields:
            continue
        before = given.get(name)
        if value == before:
            continue
        if (
            name in parent.reducers
            and isinstance(value, list)
            and isinstance(before, list)
            and value[: len(before)] == before
        ):
            value = value[len(before) :]
        update[name] = value
    return update


def _is_async(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def _failure(node: str, exc: Exception) -> str:
    if isinstance(exc, GraphError):
        return str(exc)
    return f"node '{node}' failed: {type(exc).__name__}: {exc}"


def _forward(call: NodeCall) -> Callable[[TraceEvent], None]:
    emit = call.emit
    assert emit is not None

    def forward(event: TraceEvent) -> None:
        emit(GraphEvent(GraphEventType.AGENT, call.step, call.name, event=event))

    return forward


def _nested(call: NodeCall) -> Callable[[GraphEvent], None] | None:
    emit = call.emit
    if emit is None:
        return None

    def nested(event: GraphEvent) -> None:
        if event.type is GraphEventType.FINAL:
            return
        inner = f"{call.name}/{event.node}" if event.node else call.name
        emit(GraphEvent(event.type, call.step, inner, event.data, event.event, event.ts))

    return nested


Node = FunctionNode | AgentNode | GraphNode
