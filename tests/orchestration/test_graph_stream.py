"""Streaming graph runs: node and state events, interleaved with the agents' own events."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import pytest
from pydantic import BaseModel

from spine_core import EventType, StopReason
from spine_orchestration import START, Graph, GraphEvent, GraphEventType, NodeContext, append

from .helpers import Barrier, agent

pytestmark = pytest.mark.anyio


class Flow(BaseModel):
    input: str = ""
    output: str = ""
    log: Annotated[list[str], append] = []


async def test_a_stream_reports_nodes_state_and_the_end_in_order() -> None:
    async def one(state: Flow) -> dict[str, Any]:
        return {"log": ["one"]}

    workflow = Graph(Flow).add_node("one", one).add_edge(START, "one").compile()
    async with workflow.stream({}) as events:
        seen = [(e.type, e.node, e.step) async for e in events]
    assert seen == [
        (GraphEventType.NODE_START, "one", 1),
        (GraphEventType.NODE_END, "one", 1),
        (GraphEventType.STATE, None, 1),
        (GraphEventType.FINAL, None, 1),
    ]
    assert events.result is not None and events.result.values.log == ["one"]


async def test_agent_events_are_interleaved_with_graph_events() -> None:
    barrier = Barrier(2)
    graph = (
        Graph(Flow)
        .add_node("a", agent("a", "alpha beta", barrier=barrier), output="log")
        .add_node("b", agent("b", "gamma", barrier=barrier), output="log")
        .add_edge(START, ["a", "b"])
    )
    events: list[GraphEvent] = []
    async with graph.compile().stream({"input": "go"}) as stream:
        async for event in stream:
            events.append(event)
    kinds = [(e.type, e.node) for e in events]
    # both agents were in flight before either finished
    assert kinds.index((GraphEventType.NODE_START, "b")) < kinds.index(
        (GraphEventType.NODE_END, "a")
    )
    tokens = [
        e.event.data["text"]
        for e in events
        if e.event is not None and e.node == "a" and e.event.type is EventType.TOKEN
    ]
    assert "".join(tokens) == "alpha beta"
    first_token = next(i for i, e in enumerate(events) if e.event is not None)
    assert kinds.index((GraphEventType.NODE_START, "a")) < first_token
    state = next(e for e in events if e.type is GraphEventType.STATE)
    assert state.data["values"].log == ["alpha beta", "gamma"] and state.data["next"] == []


async def test_leaving_a_stream_early_cancels_the_run_and_it_can_continue() -> None:
    gate = anyio.Event()

    async def first(state: Flow) -> dict[str, Any]:
        return {"log": ["first"]}

    async def second(state: Flow) -> dict[str, Any]:
        await gate.wait()  # never set while the stream is open
        return {"log": ["second"]}

    workflow = (
        Graph(Flow)
        .add_node("first", first)
        .add_node("second", second)
        .add_edge(START, "first")
        .add_edge("first", "second")
        .compile()
    )
    async with workflow.stream({}, session_id="s") as events:
        async for event in events:
            if event.type is GraphEventType.NODE_START and event.node == "second":
                break
    stored = await workflow.checkpoint.get("s")
    assert stored is not None and stored.status.value == "cancelled"
    gate.set()
    result = await workflow.run(None, session_id="s")
    assert result.ok and result.values.log == ["first", "second"]


async def test_a_paused_run_streams_its_interrupt_and_its_resume() -> None:
    async def ask(state: Flow, ctx: NodeContext) -> dict[str, Any]:
        return {"output": ctx.interrupt("Name?")}

    workflow = Graph(Flow).add_node("ask", ask).add_edge(START, "ask").compile()
    async with workflow.stream({}) as events:
        types = [e.type async for e in events]
    assert GraphEventType.INTERRUPT in types and types[-1] is GraphEventType.FINAL
    paused = events.result
    assert paused is not None and paused.stopped_reason is StopReason.INTERRUPT
    async with workflow.stream_resume(paused.resume_token or "", answer="Ada") as events:
        ends = [e.data["update"] async for e in events if e.type is GraphEventType.NODE_END]
    assert ends == [{"output": "Ada"}]


async def test_a_stream_must_be_entered_before_iterating() -> None:
    workflow = Graph(Flow).add_node("n", lambda s: None).add_edge(START, "n").compile()
    with pytest.raises(RuntimeError, match="enter the stream first"):
        await workflow.stream({}).__anext__()


async def test_a_sub_graphs_events_name_the_parent_node_first() -> None:
    async def inner_node(state: Flow) -> dict[str, Any]:
        return {"log": ["inner"]}

    inner = Graph(Flow, name="inner").add_node("work", inner_node).add_edge(START, "work")
    outer = Graph(Flow).add_node("sub", inner).add_edge(START, "sub").compile()
    async with outer.stream({}) as events:
        ends = [e.node async for e in events if e.type is GraphEventType.NODE_END]
    assert ends == ["sub/work", "sub"]
