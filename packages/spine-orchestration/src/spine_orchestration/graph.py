"""`Graph`: build a workflow from typed state, nodes and edges, then `compile()` it."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from spine_core import Agent, CheckpointStore, InMemoryCheckpointStore

from ._schema import Schema
from .errors import GraphError
from .nodes import AgentNode, FunctionNode, GraphNode, Node
from .reducers import Reducer

if typing.TYPE_CHECKING:
    from .workflow import Workflow

__all__ = ["END", "START", "Graph"]

START = "__start__"
"""The virtual node before the first: `add_edge(START, "first")`."""
END = "__end__"
"""The virtual node after the last: `add_edge("last", END)`; a router may return it."""


@dataclass(slots=True, frozen=True)
class Branch:
    """A conditional edge: `router(state)` names the next node(s)."""

    router: Callable[[Any], Any]
    path_map: dict[Hashable, str] | None
    targets: tuple[str, ...] | None  # every node it may lead to, when known


class Graph:
    """A graph of nodes over a typed state; `compile()` makes a runnable `Workflow`.

    Nodes are async (or sync) functions, agents and sub-graphs. A run proceeds in steps: the
    nodes of a step run concurrently on the same state, their updates are merged by the
    fields' reducers (in node order), then the edges of the nodes that ran name the next
    step's nodes: static edges, conditional edges (a function of the merged state), and
    fan-in edges (`add_edge(["a", "b"], "c")`: c runs once both a and b have finished).
    The run ends when a step names no node.

    Args:
        state: The state type: a pydantic model or a TypedDict. Fields may declare a reducer
            with `Annotated` (see `spine_orchestration.reducers`).
        name: The graph's name in its sessions, traces and diagram (default: the state
            type's name).
        reducers: Reducers by field name, for types you cannot annotate.

    Raises:
        TypeError: `state` is neither a pydantic model nor a TypedDict.
    """

    def __init__(
        self,
        state: type[Any],
        *,
        name: str | None = None,
        reducers: Mapping[str, Reducer] | None = None,
    ) -> None:
        self.schema = Schema(state, reducers)
        self.name = name or state.__name__
        self.nodes: dict[str, Node] = {}
        self.edges: dict[str, list[str]] = {}
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.branches: dict[str, list[Branch]] = {}

    def add_node(
        self,
        name: str,
        node: Callable[..., Any] | Agent | Graph | Workflow,
        *,
        input: str | Callable[[Any], Any] | None = None,
        output: str | Callable[[Any], Any] | None = None,
        writes: Sequence[str] | None = None,
    ) -> Graph:
        """Add a node; returns the graph, so calls chain.

        Args:
            name: The node's name (not START or END; unique in the graph).
            node: One of:
                - a function `fn(state)` or `fn(state, ctx: NodeContext)`, async or sync
                  (sync ones run in a worker thread), returning a mapping of updates or None;
                - an `Agent`: `input` is the field (default "input") or a function of the
                  state giving its task (a str, a `Message` or a list of them); `output`
                  the field (default "output") its answer, or typed output, is written to
                  (one item appended for a list field with a reducer), or a function of its
                  `Result` returning the update;
                - a `Graph` (compiled with this one) or `Workflow`: a sub-graph; its input
                  is the fields both states share (or `input(state)` -> mapping), and its
                  update the shared fields it changed (or `output(values)` -> mapping).
            input: See `node`.
            output: See `node`.
            writes: For a function node: the fields it may write, so that `compile` can
                reject two nodes of one step writing a last-write-wins field.

        Raises:
            GraphError: a reserved, empty or duplicate name, or a node of no known kind.
        """
        if not isinstance(name, str) or not name:
            raise GraphError(f"a node name must be a non-empty string, not {name!r}")
        if name in (START, END):
            raise GraphError(f"'{name}' is reserved (START / END); choose another node name")
        if name in self.nodes:
            raise GraphError(f"graph '{self.name}' already has a node '{name}'")
        from .workflow import Workflow

        built: Node
        if isinstance(node, Agent):
            if input is not None and not (isinstance(input, str) or callable(input)):
                raise GraphError(f"node '{name}': input must be a field name or a function")
            built = AgentNode(node, input, output)
        elif isinstance(node, Graph | Workflow):
            if isinstance(input, str) or isinstance(output, str):
                raise GraphError(f"sub-graph node '{name}': input / output must be functions")
            built = GraphNode(node, input, output)
        elif callable(node):
            built = FunctionNode(node, writes)
        else:
            raise GraphError(f"node '{name}' must be a function, an Agent or a graph, not {node!r}")
        self.nodes[name] = built
        return self

    def add_edge(self, source: str | Sequence[str], target: str | Sequence[str]) -> Graph:
        """Add a static edge; returns the graph.

        `add_edge("a", "b")`: b runs in the step after a. `add_edge("a", ["b", "c"])`: fan-out,
        b and c run together. `add_edge(["b", "c"], "d")`: fan-in, d runs once both b and c
        have finished (in the same step or not). Names are checked by `compile`.
        """
        sources = [source] if isinstance(source, str) else list(source)
        targets = [target] if isinstance(target, str) else list(target)
        if not sources or not targets:
            raise GraphError("add_edge needs at least one source and one target")
        for dst in targets:
            if len(sources) == 1:
                self.edges.setdefault(sources[0], []).append(dst)
            else:
                self.joins.append((tuple(sources), dst))
        return self

    def add_conditional_edges(
        self,
        source: str,
        router: Callable[[Any], Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> Graph:
        """Add a conditional edge: after `source`, `router(state)` (sync or async, on the
        merged state) names the next node, several (a list: fan-out), or END.

        Args:
            source: The node it follows (or START).
            router: Returns a node name, a list of them, END — or keys of `path_map`.
            path_map: Maps the router's return values to node names (a list of names maps
                each to itself). Without one, a `Literal[...]` return annotation of the router
                tells `compile` and `to_mermaid` where it may lead.
        """
        mapping: dict[Hashable, str] | None = None
        if path_map is not None:
            if isinstance(path_map, Mapping):
                mapping = dict(path_map)
            else:
                mapping = {name: name for name in path_map}
        targets = tuple(mapping.values()) if mapping is not None else _literal_targets(router)
        self.branches.setdefault(source, []).append(Branch(router, mapping, targets))
        return self

    def compile(
        self,
        *,
        checkpoint: CheckpointStore | None = None,
        max_steps: int = 25,
        max_depth: int = 8,
        max_concurrency: int | None = None,
    ) -> Workflow:
        """Check the graph and make it runnable.

        Args:
            checkpoint: Where runs are checkpointed (default: a new in-memory store). Agent
                nodes keep their own sessions in their own agents' stores.
            max_steps: Steps one `run` / `resume` may take; past it the run stops with
                `StopReason.max_steps` (continue it with `run(None, session_id=...)`).
            max_depth: How deeply graph runs may nest (sub-graphs, or a node running a graph);
                deeper, the run stops with `StopReason.max_depth`.
            max_concurrency: Nodes of one step running at once (None: all).

        Raises:
            GraphError: every problem found, in one message: unknown nodes in edges, edges
                to nowhere, no entry point, unknown fields, reducer conflicts, a graph that
                contains itself.
        """
        from .workflow import Workflow

        problems = self.problems()
        if problems:
            listed = "\n".join(f"  - {p}" for p in problems)
            raise GraphError(f"invalid graph '{self.name}':\n{listed}")
        if max_steps < 1 or max_depth < 1:
            raise GraphError("max_steps and max_depth must be at least 1")
        store = checkpoint or InMemoryCheckpointStore()
        nodes = dict(self.nodes)  # the workflow's own: compiling again changes nothing here
        for name, node in nodes.items():
            if isinstance(node, GraphNode):
                source = node.source
                child = (
                    source.compile(
                        checkpoint=store,
                        max_steps=max_steps,
                        max_depth=max_depth,
                        max_concurrency=max_concurrency,
                    )
                    if isinstance(source, Graph)
                    else source
                )
                copy = GraphNode(source, node.input, node.output)
                copy.workflow = child
                copy.writes = tuple(f for f in child.schema.fields if f in self.schema.fields)
                nodes[name] = copy
        return Workflow(
            self,
            nodes,
            checkpoint=store,
            max_steps=max_steps,
            max_depth=max_depth,
            max_concurrency=max_concurrency,
        )

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (see `spine_orchestration.Workflow.to_mermaid`)."""
        from ._mermaid import to_mermaid

        return to_mermaid(self)

    def problems(self) -> list[str]:
        """What `compile` would reject, one line per problem (empty: the graph is valid)."""
        found = list(self.schema.problems)
        known = set(self.nodes)

        def check(call: str, source: str, target: str) -> None:
            if source == END:
                found.append(f"{call}: no edge can leave END")
            elif source != START and source not in known:
                found.append(f"{call}: unknown node '{source}'")
            if target == START:
                found.append(f"{call}: no edge can enter START")
            elif target != END and target not in known:
                found.append(f"{call}: '{target}' is not a node (an edge to nowhere)")

        for source, targets in self.edges.items():
            for target in targets:
                check(f"add_edge({source!r}, {target!r})", source, target)
        for sources, target in self.joins:
            for source in sources:
                check(f"add_edge({list(sources)!r}, {target!r})", source, target)
        for source, branches in self.branches.items():
            for branch in branches:
                call = f"add_conditional_edges({source!r}, {_name(branch.router)})"
                if branch.targets is None:
                    check(call, source, END)
                for target in branch.targets or ():
                    check(call, source, target)
        if not self.edges.get(START) and not self.branches.get(START):
            first = next(iter(self.nodes), "<first node>")
            found.append(f"no entry point: add add_edge(START, {first!r})")
        fields = set(self.schema.fields)
        for name, node in self.nodes.items():
            wanted = node.fields() if isinstance(node, AgentNode) else list(node.writes)
            for field_name in wanted:
                if field_name not in fields:
                    found.append(
                        f"node '{name}' names field '{field_name}', which "
                        f"{self.schema.type.__name__} does not have "
                        f"(fields: {', '.join(self.schema.fields)})"
                    )
        found.extend(self._fan_out_conflicts())
        found.extend(self._containment([]))
        return found

    def _fan_out_conflicts(self) -> list[str]:
        """Nodes started together by one fan-out that both write a last-write-wins field."""
        found = []
        for source, targets in self.edges.items():
            for i, first in enumerate(targets):
                for second in targets[i + 1 :]:
                    a, b = self.nodes.get(first), self.nodes.get(second)
                    if a is None or b is None:
                        continue
                    for field_name in sorted(set(a.writes) & set(b.writes)):
                        if field_name not in self.schema.reducers:
                            found.append(
                                f"reducer conflict: '{first}' and '{second}' run in the same "
                                f"step (both follow {source!r}) and both write '{field_name}', "
                                "which has no reducer (last-write-wins); give it one, e.g. "
                                f"Annotated[list[...], append]"
                            )
        return found

    def _containment(self, outer: list[Graph]) -> list[str]:
        if self in outer:
            chain = " -> ".join(g.name for g in [*outer, self])
            return [f"graph '{self.name}' contains itself ({chain}): recursion"]
        found = []
        for node in self.nodes.values():
            if isinstance(node, GraphNode) and isinstance(node.source, Graph):
                found.extend(node.source._containment([*outer, self]))
                if found:
                    break
        return found


def _literal_targets(router: Callable[[Any], Any]) -> tuple[str, ...] | None:
    """The node names a router's `Literal[...]` return annotation allows, if it has one."""
    try:
        returned = typing.get_type_hints(router).get("return")
    except Exception:  # unresolvable annotations: the targets are simply unknown
        return None
    options = _literals(returned)
    return tuple(str(o) for o in options) if options else None


def _literals(annotation: Any) -> list[Any] | None:
    """The values of `Literal[...]`, also inside unions and lists; None for anything else."""
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if origin in (typing.Union, types.UnionType, list, Sequence):
        found: list[Any] = []
        for arg in get_args(annotation):
            inner = _literals(arg)
            if inner is None:
                return None
            found.extend(inner)
        return found
    return None


def _name(fn: Any) -> str:
    return str(getattr(fn, "__name__", type(fn).__name__))
