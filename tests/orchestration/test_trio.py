"""The patterns and graphs are anyio code: they run under trio as under asyncio."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from pydantic import BaseModel

from spine_orchestration import START, Graph, GraphEventType, Handoff, Parallel, append

from .helpers import agent


class Flow(BaseModel):
    input: str = ""
    log: Annotated[list[str], append] = []


async def _scenario() -> dict[str, Any]:
    fan = await Parallel(agent("a", "A{text}"), agent("b", "B{text}")).run("x")
    team = await Handoff({"a": agent("a2", "done"), "b": agent("b2")}, start="a").run("y")
    graph = (
        Graph(Flow)
        .add_node("one", agent("one", "1"), output="log")
        .add_node("two", agent("two", "2"), output="log")
        .add_edge(START, ["one", "two"])
        .compile()
    )
    async with graph.stream({"input": "z"}) as events:
        types = [event.type async for event in events]
    assert events.result is not None
    return {
        "fan": fan.answer,
        "team": (team.answer, team.path),
        "graph": events.result.values.log,
        "agent_events": types.count(GraphEventType.AGENT) > 0,
    }


def test_patterns_and_graphs_run_under_trio() -> None:
    outcome = anyio.run(_scenario, backend="trio")
    assert outcome == {
        "fan": "[a]\nAx\n\n[b]\nBx",
        "team": ("done", ["a"]),
        "graph": ["1", "2"],
        "agent_events": True,
    }
