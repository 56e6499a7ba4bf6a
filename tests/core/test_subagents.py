"""Agents as tools: child sessions, recorded depth, and max_depth on delegation cycles."""

from __future__ import annotations

from typing import Any

import pytest

from spine_core import (
    Agent,
    Guards,
    InMemoryCheckpointStore,
    ScriptedProvider,
    StopReason,
    TestProvider,
    Tool,
    ToolContext,
    tool,
)

from .helpers import asks, call, priced, tool_messages


@pytest.mark.anyio
async def test_as_tool_runs_the_child_in_its_own_session_at_depth_one() -> None:
    store = InMemoryCheckpointStore()
    child = Agent(ScriptedProvider([priced("42", cost_usd=0.25)]), name="math", checkpoint=store)
    parent = Agent(
        ScriptedProvider(
            [asks(call("math", "c1", input="6*7?")), priced("It is 42", cost_usd=0.5)]
        ),
        tools=[child.as_tool(description="Does arithmetic.")],
        checkpoint=store,
    )

    result = await parent.run("what is 6*7", session_id="top")

    assert result.answer == "It is 42"
    assert tool_messages(result.state.messages) == [("math", "42", False)]
    child_state = await store.get("top/c1")
    assert child_state is not None
    assert child_state.depth == 1 and child_state.agent == "math"
    assert [m.text for m in child_state.messages] == ["6*7?", "42"]
    assert result.usage.cost_usd == pytest.approx(0.75)  # the child's spend is added


def test_as_tool_schema_takes_one_input_string() -> None:
    child = Agent(ScriptedProvider([]), name="researcher")

    delegated = child.as_tool()

    assert delegated.name == "researcher"
    assert delegated.parameters["required"] == ["input"]
    assert list(delegated.parameters["properties"]) == ["input"]


@pytest.mark.anyio
async def test_a_failing_child_reaches_the_parent_as_a_tool_error() -> None:
    child = Agent(
        ScriptedProvider([asks(call("nothing"))] * 5), name="w", guards=Guards(max_steps=1)
    )
    parent = Agent(
        ScriptedProvider([asks(call("w", input="x")), "gave up"]), tools=[child.as_tool()]
    )

    result = await parent.run("go")

    [(_, text, is_error)] = tool_messages(result.state.messages)
    assert is_error and "sub-agent 'w' stopped with max_steps" in text
    assert result.ok


@pytest.mark.anyio
async def test_delegation_cycle_stops_with_max_depth_and_the_top_run_ends() -> None:
    store = InMemoryCheckpointStore()
    tools: dict[str, Tool] = {}

    def forwarder(to: str) -> Tool:
        @tool(name=f"ask_{to}")
        async def forward(input: str, ctx: ToolContext) -> Any:
            """Forward a task."""
            return await tools[to].invoke({"input": input}, ctx)

        return forward

    a = Agent(TestProvider(), name="a", tools=[forwarder("b")], checkpoint=store)
    b = Agent(TestProvider(), name="b", tools=[forwarder("a")], checkpoint=store)
    tools["a"] = a.as_tool(max_depth=3)
    tools["b"] = b.as_tool(max_depth=3)

    result = await a.run("start", session_id="root")

    assert result.stopped_reason is StopReason.FINAL
    children = {
        s.session_id: s for s in [await store.get(i.session_id) for i in await store.list()] if s
    }
    depths = sorted(s.depth for s in children.values())
    assert depths == [0, 1, 2, 3, 4]
    deepest = max(children.values(), key=lambda s: s.depth)
    assert deepest.stopped_reason is StopReason.MAX_DEPTH
    assert "max_depth" in tool_messages(result.state.messages)[0][1]
