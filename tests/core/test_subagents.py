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
    child_state = await store.get("top/1.c1")
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
            return await tools[to].call({"input": input}, ctx)

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


sent: list[str] = []


@tool(approve=True)
async def send_email(to: str) -> str:
    """Send an email."""
    sent.append(to)
    return f"sent to {to}"


def mailer(store: InMemoryCheckpointStore) -> Agent:
    """A child whose one tool needs approval, then reports."""
    provider = ScriptedProvider([asks(call("send_email", "m1", to="ana@example.com")), "mailed"])
    return Agent(provider, name="mailer", tools=[send_email], checkpoint=store)


@pytest.mark.anyio
async def test_a_child_approval_pauses_the_parent_and_approving_it_runs_the_child_tool() -> None:
    sent.clear()
    store = InMemoryCheckpointStore()
    child = mailer(store)
    script = ScriptedProvider([asks(call("mailer", "d1", input="email Ana")), "Ana is emailed"])
    parent = Agent(script, tools=[child.as_tool()], checkpoint=store)

    paused = await parent.run("tell Ana", session_id="p")

    assert paused.stopped_reason is StopReason.INTERRUPT and sent == []
    assert paused.interrupt is not None
    assert paused.interrupt.kind == "approval"
    assert paused.interrupt.tool_call.name == "mailer"
    assert paused.interrupt.data["agent"] == "mailer"
    assert paused.interrupt.data["session_id"] == "p/1.d1"
    assert paused.interrupt.data["tool_call"]["name"] == "send_email"
    assert paused.interrupt.data["tool_call"]["arguments"] == {"to": "ana@example.com"}
    assert paused.resume_token is not None

    # Another process: fresh agents, sharing only the store; the child's model is asked once.
    fresh_child = Agent(
        ScriptedProvider(["mailed"]), name="mailer", tools=[send_email], checkpoint=store
    )
    fresh = Agent(
        ScriptedProvider(["Ana is emailed"]), tools=[fresh_child.as_tool()], checkpoint=store
    )
    done = await fresh.resume(paused.resume_token, "approve")

    assert done.answer == "Ana is emailed"
    assert sent == ["ana@example.com"]
    assert tool_messages(done.state.messages) == [("mailer", "mailed", False)]
    child_state = await store.get("p/1.d1")
    assert child_state is not None and child_state.status == "done"


@pytest.mark.anyio
async def test_rejecting_a_child_approval_reaches_the_child_tool_as_a_rejection() -> None:
    sent.clear()
    store = InMemoryCheckpointStore()
    child_provider = ScriptedProvider([asks(call("send_email", to="bo@example.com")), "not sent"])
    child = Agent(child_provider, name="mailer", tools=[send_email], checkpoint=store)
    parent = Agent(
        ScriptedProvider([asks(call("mailer", "d1", input="email Bo")), "Bo is not emailed"]),
        tools=[child.as_tool()],
        checkpoint=store,
    )

    paused = await parent.run("tell Bo", session_id="p")
    assert paused.resume_token is not None
    done = await parent.resume(paused.resume_token, "reject", reason="not today")

    assert sent == []
    assert done.answer == "Bo is not emailed"
    assert tool_messages(done.state.messages) == [("mailer", "not sent", False)]
    assert tool_messages(child_provider.calls[-1].messages) == [
        ("send_email", "The user rejected this tool call: not today", True)
    ]


@pytest.mark.anyio
async def test_a_grandchild_question_reaches_the_top_and_the_answer_flows_back_down() -> None:
    from spine_core import Interrupt

    @tool
    async def ask_budget(project: str) -> str:
        """Ask the human for the budget."""
        raise Interrupt(f"What is the budget for {project}?", data={"currency": "EUR"})

    store = InMemoryCheckpointStore()
    leaf = Agent(
        ScriptedProvider([asks(call("ask_budget", project="Atlas")), "budget noted"]),
        name="leaf",
        tools=[ask_budget],
        checkpoint=store,
    )
    middle = Agent(
        ScriptedProvider([asks(call("leaf", "l1", input="get the budget")), "leaf done"]),
        name="middle",
        tools=[leaf.as_tool()],
        checkpoint=store,
    )
    top = Agent(
        ScriptedProvider([asks(call("middle", "m1", input="plan Atlas")), "planned"]),
        tools=[middle.as_tool()],
        checkpoint=store,
    )

    paused = await top.run("plan", session_id="t")

    assert paused.interrupt is not None and paused.interrupt.kind == "input"
    assert paused.interrupt.question == "What is the budget for Atlas?"
    # The innermost paused agent and call are what the human sees.
    assert paused.interrupt.data["agent"] == "leaf"
    assert paused.interrupt.data["session_id"] == "t/1.m1/1.l1"
    assert paused.interrupt.data["tool_call"]["name"] == "ask_budget"
    assert paused.interrupt.data["currency"] == "EUR"
    assert paused.resume_token is not None

    done = await top.resume(paused.resume_token, answer="12000")

    assert done.answer == "planned"
    leaf_state = await store.get("t/1.m1/1.l1")
    assert leaf_state is not None and leaf_state.depth == 2
    assert tool_messages(leaf_state.messages) == [("ask_budget", "12000", False)]
