"""Running graphs: typed state and reducers, edges of every kind, agents and sub-graphs as
nodes, the step limit and the recursion guard, concurrent runs."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal, TypedDict

import anyio
import pytest
from pydantic import BaseModel

from spine_core import Agent, FunctionProvider, Message, StopReason
from spine_orchestration import END, START, Graph, GraphError, NodeContext, Workflow, append

from .helpers import Barrier, agent, last_user

pytestmark = pytest.mark.anyio


class State(BaseModel):
    topic: str = ""
    count: int = 0
    log: Annotated[list[str], append] = []


def logs(name: str) -> Any:
    async def node(state: State) -> dict[str, Any]:
        return {"log": [name]}

    return node


async def test_function_nodes_update_a_typed_state() -> None:
    async def plan(state: State) -> dict[str, Any]:
        return {"count": state.count + 1, "log": [f"plan {state.topic}"]}

    def write(state: State) -> dict[str, Any]:  # sync: runs in a worker thread
        return {"count": state.count * 10, "log": [threading.current_thread().name]}

    graph = (
        Graph(State)
        .add_node("plan", plan)
        .add_node("write", write)
        .add_edge(START, "plan")
        .add_edge("plan", "write")
        .add_edge("write", END)
    )
    result = await graph.compile().run({"topic": "tea", "count": 1})
    assert result.ok
    assert isinstance(result.values, State)
    assert result.values.count == 20
    assert result.values.log[0] == "plan tea"
    assert result.values.log[1] != threading.current_thread().name
    assert result.step == 2 and result.next == []


async def test_a_typeddict_state_works_too() -> None:
    class Flow(TypedDict, total=False):
        n: int
        seen: Annotated[list[int], append]

    async def bump(state: Flow) -> dict[str, Any]:
        return {"n": state["n"] + 1, "seen": [state["n"]]}

    graph = Graph(Flow).add_node("bump", bump).add_edge(START, "bump")
    result = await graph.compile().run({"n": 1})
    assert result.values == {"n": 2, "seen": [1]}


async def test_fan_out_branches_merge_by_reducer_in_node_order_not_finish_order() -> None:
    a_may_finish = anyio.Event()

    async def a(state: State) -> dict[str, Any]:
        await a_may_finish.wait()  # b finishes first
        return {"log": ["a"]}

    async def b(state: State) -> dict[str, Any]:
        a_may_finish.set()
        return {"log": ["b"]}

    graph = Graph(State).add_node("a", a).add_node("b", b).add_edge(START, ["a", "b"])
    result = await graph.compile().run({})
    assert result.values.log == ["a", "b"]


async def test_two_nodes_writing_a_last_write_wins_field_in_one_step_fail_the_run() -> None:
    async def one(state: State) -> dict[str, Any]:
        return {"topic": "one"}

    async def two(state: State) -> dict[str, Any]:
        return {"topic": "two"}

    graph = Graph(State).add_node("one", one).add_node("two", two).add_edge(START, ["one", "two"])
    result = await graph.compile().run({})
    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None
    assert "nodes 'one' and 'two' both wrote 'topic' in one step" in result.error


async def test_a_fan_in_waits_for_every_source_even_on_longer_branches() -> None:
    graph = (
        Graph(State)
        .add_node("short", logs("short"))
        .add_node("long1", logs("long1"))
        .add_node("long2", logs("long2"))
        .add_node("join", logs("join"))
        .add_edge(START, ["short", "long1"])
        .add_edge("long1", "long2")
        .add_edge(["short", "long2"], "join")
    )
    result = await graph.compile().run({})
    assert result.values.log == ["short", "long1", "long2", "join"]  # join ran once, last


async def test_conditional_edges_route_on_the_merged_state() -> None:
    async def count(state: State) -> dict[str, Any]:
        return {"count": state.count + 1}

    def route(state: State) -> Literal["count", "done"]:
        return "count" if state.count < 3 else "done"

    graph = (
        Graph(State)
        .add_node("count", count)
        .add_node("done", logs("done"))
        .add_edge(START, "count")
        .add_conditional_edges("count", route)
    )
    result = await graph.compile().run({})
    assert result.values.count == 3 and result.values.log == ["done"]


async def test_a_router_may_fan_out_through_a_path_map() -> None:
    async def both(state: State) -> list[str]:
        return ["left", "right"]

    graph = (
        Graph(State)
        .add_node("start", logs("start"))
        .add_node("l", logs("l"))
        .add_node("r", logs("r"))
        .add_edge(START, "start")
        .add_conditional_edges("start", both, {"left": "l", "right": "r"})
    )
    result = await graph.compile().run({})
    assert result.values.log == ["start", "l", "r"]


async def test_a_router_naming_no_node_fails_the_run() -> None:
    graph = Graph(State).add_node("a", logs("a")).add_edge(START, "a")
    graph.add_conditional_edges("a", lambda state: "nowhere")
    result = await graph.compile().run({})
    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and "returned 'nowhere', which is not a node" in result.error


async def test_a_cycle_is_bounded_by_the_step_limit_and_can_continue() -> None:
    async def spin(state: State) -> dict[str, Any]:
        return {"count": state.count + 1}

    graph = Graph(State).add_node("spin", spin).add_edge(START, "spin").add_edge("spin", "spin")
    workflow = graph.compile(max_steps=5)
    result = await workflow.run({}, session_id="cycle")
    assert result.stopped_reason is StopReason.MAX_STEPS
    assert result.values.count == 5 and result.next == ["spin"]
    more = await workflow.run(None, session_id="cycle")  # a fresh budget
    assert more.stopped_reason is StopReason.MAX_STEPS and more.values.count == 10


async def test_invalid_input_and_updates_are_reported() -> None:
    async def bad(state: State) -> dict[str, Any]:
        return {"nope": 1}

    async def wrong_type(state: State) -> dict[str, Any]:
        return {"count": "many"}

    workflow = Graph(State).add_node("bad", bad).add_edge(START, "bad").compile()
    with pytest.raises(GraphError, match="invalid graph input: count"):
        await workflow.run({"count": "x"})
    result = await workflow.run({})
    assert result.error == "node 'bad' wrote unknown field 'nope' (fields: topic, count, log)"
    other = Graph(State).add_node("w", wrong_type).add_edge(START, "w").compile()
    failed = await other.run({})
    assert failed.error is not None and failed.error.startswith("node 'w' wrote an invalid 'count'")


async def test_an_agent_node_reads_and_writes_fields() -> None:
    class Doc(BaseModel):
        topic: str
        drafts: Annotated[list[str], append] = []
        final: str = ""

    writer = agent("writer", "draft about {text}")
    editor = agent("editor", "edited: {text}")
    graph = (
        Graph(Doc)
        .add_node("write", writer, input="topic", output="drafts")
        .add_node("edit", editor, input=lambda doc: doc.drafts[-1], output="final")
        .add_edge(START, "write")
        .add_edge("write", "edit")
    )
    result = await graph.compile().run({"topic": "owls"}, session_id="doc")
    assert result.values.drafts == ["draft about owls"]
    assert result.values.final == "edited: draft about owls"
    member = await writer.checkpoint.get("doc/1.write")  # the agent's own session
    assert member is not None and last_user(member.messages) == "owls"


async def test_a_typed_agent_output_is_written() -> None:
    class Verdict(BaseModel):
        score: int

    class Review(BaseModel):
        input: str = ""
        output: Verdict | None = None

    judge = Agent(FunctionProvider(lambda m, t, s: '{"score": 9}'), output_type=Verdict)
    workflow = Graph(Review).add_node("judge", judge).add_edge(START, "judge").compile()
    result = await workflow.run({"input": "rate it"})
    assert result.values.output == Verdict(score=9)


async def test_a_sub_graph_node_shares_fields_and_appends_only_what_it_added() -> None:
    class Inner(BaseModel):
        topic: str = ""
        log: Annotated[list[str], append] = []

    async def research(state: Inner) -> dict[str, Any]:
        return {"log": [f"researched {state.topic}"]}

    inner = Graph(Inner, name="inner").add_node("research", research).add_edge(START, "research")
    outer = (
        Graph(State)
        .add_node("before", logs("before"))
        .add_node("inner", inner)
        .add_node("after", logs("after"))
        .add_edge(START, "before")
        .add_edge("before", "inner")
        .add_edge("inner", "after")
    )
    result = await outer.compile().run({"topic": "bees"})
    assert result.values.log == ["before", "researched bees", "after"]


async def test_the_recursion_guard_stops_a_graph_that_runs_itself() -> None:
    holder: dict[str, Workflow] = {}

    async def recurse(state: State) -> dict[str, Any]:
        inner = await holder["wf"].run({})
        if inner.stopped_reason is StopReason.MAX_DEPTH:
            return {"log": ["refused"]}
        return {"log": [*inner.values.log, "ran"]}

    workflow = (
        Graph(State).add_node("recurse", recurse).add_edge(START, "recurse").compile(max_depth=3)
    )
    holder["wf"] = workflow
    result = await workflow.run({})
    # runs nest 1 -> 2 -> 3; the 4th nested run is refused with max_depth
    assert result.values.log == ["refused", "ran", "ran"]


async def test_a_finished_run_takes_a_new_input_as_its_next_turn() -> None:
    workflow = Graph(State).add_node("a", logs("a")).add_edge(START, "a").compile()
    await workflow.run({"topic": "one"}, session_id="chat")
    again = await workflow.run({"topic": "two"}, session_id="chat")
    assert again.values.topic == "two" and again.values.log == ["a", "a"]


async def test_100_concurrent_runs_do_not_cross_talk() -> None:
    class Job(BaseModel):
        input: str = ""
        parts: Annotated[list[str], append] = []
        output: str = ""

    barrier = Barrier(200)  # both agent nodes of all 100 runs in flight together

    async def join(state: Job) -> dict[str, Any]:
        return {"output": "+".join(state.parts)}

    graph = (
        Graph(Job)
        .add_node("x", agent("x", "x{text}", barrier=barrier), output="parts")
        .add_node("y", agent("y", "y{text}", barrier=barrier), output="parts")
        .add_node("join", join)
        .add_edge(START, ["x", "y"])
        .add_edge(["x", "y"], "join")
    )
    workflow = graph.compile()
    outputs: dict[int, str] = {}

    async def one(n: int) -> None:
        outputs[n] = (await workflow.run({"input": str(n)})).values.output

    async with anyio.create_task_group() as group:
        for n in range(100):
            group.start_soon(one, n)

    assert outputs == {n: f"x{n}+y{n}" for n in range(100)}


async def test_a_node_can_take_the_context() -> None:
    seen: dict[str, Any] = {}

    async def node(state: State, ctx: NodeContext) -> None:
        seen.update(node=ctx.node, step=ctx.step, session=ctx.session_id, deps=ctx.deps)

    workflow = Graph(State).add_node("n", node).add_edge(START, "n").compile()
    await workflow.run({}, session_id="ctx", deps={"db": 1})
    assert seen == {"node": "n", "step": 1, "session": "ctx", "deps": {"db": 1}}


async def test_an_agent_node_gets_the_messages_a_function_gives() -> None:
    seen: list[int] = []

    def count(messages: list[Message], tools: Any, settings: Any) -> str:
        seen.append(len(messages))
        return "ok"

    class Chat(BaseModel):
        output: str = ""

    talk = Agent(FunctionProvider(count))
    workflow = (
        Graph(Chat)
        .add_node("talk", talk, input=lambda s: [Message.user("a"), Message.user("b")])
        .add_edge(START, "talk")
        .compile()
    )
    result = await workflow.run({})
    assert result.values.output == "ok" and seen == [2]
