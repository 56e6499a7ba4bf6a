"""Building graphs: what compile() rejects (one clear message), and the Mermaid diagram."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest
from pydantic import BaseModel

from spine_orchestration import END, START, Graph, GraphError, append, last_write

from .helpers import agent


class State(BaseModel):
    topic: str = ""
    draft: str = ""
    notes: Annotated[list[str], append] = []


async def noop(state: Any) -> None:
    return None


def test_an_edge_to_a_node_that_does_not_exist_is_rejected() -> None:
    graph = Graph(State).add_node("a", noop).add_edge(START, "a").add_edge("a", "typo")
    with pytest.raises(GraphError) as caught:
        graph.compile()
    message = str(caught.value)
    assert message == (
        "invalid graph 'State':\n"
        "  - add_edge('a', 'typo'): 'typo' is not a node (an edge to nowhere)"
    )


def test_an_unknown_node_name_is_rejected() -> None:
    graph = Graph(State).add_node("a", noop).add_edge(START, "a").add_edge("ghost", "a")
    with pytest.raises(GraphError, match=r"add_edge\('ghost', 'a'\): unknown node 'ghost'"):
        graph.compile()


def test_conditional_targets_are_checked() -> None:
    def route(state: State) -> Literal["a", "nowhere"]:
        return "a"

    graph = Graph(State).add_node("a", noop).add_edge(START, "a")
    graph.add_conditional_edges("a", route)
    graph.add_conditional_edges("a", lambda s: "x", {"x": "missing"})
    with pytest.raises(GraphError) as caught:
        graph.compile()
    assert "add_conditional_edges('a', route): 'nowhere' is not a node" in str(caught.value)
    assert "add_conditional_edges('a', <lambda>): 'missing' is not a node" in str(caught.value)


def test_two_reducers_on_one_field_are_a_reducer_conflict() -> None:
    class Clash(BaseModel):
        log: Annotated[list[str], append, operator.add] = []

    with pytest.raises(GraphError, match="reducer conflict on field 'log': append and add"):
        Graph(Clash).add_node("a", noop).add_edge(START, "a").compile()


def test_a_reducers_argument_clashing_with_the_annotation_is_a_conflict() -> None:
    graph = Graph(State, reducers={"notes": last_write}).add_node("a", noop).add_edge(START, "a")
    with pytest.raises(
        GraphError, match="reducer conflict on field 'notes': append and last_write"
    ):
        graph.compile()


def test_append_on_a_field_that_is_not_a_list_is_a_conflict() -> None:
    class Wrong(BaseModel):
        count: Annotated[int, append] = 0

    with pytest.raises(GraphError, match="append needs a list field"):
        Graph(Wrong).add_node("a", noop).add_edge(START, "a").compile()


def test_parallel_nodes_writing_a_last_write_wins_field_are_a_conflict() -> None:
    graph = (
        Graph(State)
        .add_node("a", agent("a"), input="topic", output="draft")
        .add_node("b", noop, writes=["draft"])
        .add_node("c", noop, writes=["notes"])
        .add_node("d", noop, writes=["notes"])
        .add_edge(START, ["a", "b", "c", "d"])
    )
    with pytest.raises(GraphError) as caught:
        graph.compile()
    message = str(caught.value)
    assert "reducer conflict: 'a' and 'b' run in the same step" in message
    assert "'notes'" not in message.split("reducer conflict", 1)[1]  # append merges: fine


def test_every_problem_is_listed_in_one_message() -> None:
    graph = Graph(State).add_node("a", agent("a"), input="nope").add_edge("a", END)
    with pytest.raises(GraphError) as caught:
        graph.compile()
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid graph 'State':"
    assert "  - no entry point: add add_edge(START, 'a')" in lines
    assert any("node 'a' names field 'nope'" in line for line in lines)
    assert any("names field 'output'" in line for line in lines)


def test_node_names_are_checked_when_added() -> None:
    graph = Graph(State).add_node("a", noop)
    with pytest.raises(GraphError, match="already has a node 'a'"):
        graph.add_node("a", noop)
    with pytest.raises(GraphError, match="reserved"):
        graph.add_node(END, noop)
    with pytest.raises(GraphError, match="must be a function"):
        graph.add_node("b", 42)  # type: ignore[arg-type]


def test_a_graph_that_contains_itself_is_rejected() -> None:
    graph = Graph(State, name="loop")
    graph.add_node("again", graph).add_edge(START, "again")
    with pytest.raises(GraphError, match="graph 'loop' contains itself"):
        graph.compile()


def test_the_state_must_be_a_model_or_a_typeddict() -> None:
    with pytest.raises(TypeError, match="pydantic model or a TypedDict"):
        Graph(dict)


def test_to_mermaid_draws_nodes_edges_fan_in_and_conditions() -> None:
    class Flow(TypedDict):
        topic: str

    def review(state: Flow) -> str:
        return "ok"

    graph = (
        Graph(Flow, name="flow")
        .add_node("plan", noop)
        .add_node("write", agent("w"), input="topic", output="topic")
        .add_node("check", noop)
        .add_node("merge", noop)
        .add_edge(START, "plan")
        .add_edge("plan", ["write", "check"])
        .add_edge(["write", "check"], "merge")
        .add_conditional_edges("merge", review, {"ok": END, "again": "plan"})
    )
    assert graph.compile().to_mermaid() == graph.to_mermaid()
    assert graph.to_mermaid() == (
        "flowchart TD\n"
        '    __start__(["START"])\n'
        '    n0["plan"]\n'
        '    n1("write")\n'
        '    n2["check"]\n'
        '    n3["merge"]\n'
        '    __end__(["END"])\n'
        "    __start__ --> n0\n"
        "    n0 --> n1\n"
        "    n0 --> n2\n"
        "    n1 & n2 --> n3\n"
        "    n3 -.->|ok| __end__\n"
        "    n3 -.->|again| n0\n"
    )
