"""Human in the loop inside graphs: an approval in an agent node, `ctx.interrupt` in a
function node, a pause in a sub-graph — each pauses the whole graph until `resume`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

from spine_backends import SQLiteCheckpoint
from spine_core import (
    Agent,
    ResumeError,
    SpineError,
    StopReason,
    tool,
)
from spine_orchestration import START, Graph, NodeContext, Workflow, append

from .helpers import YieldingStore, agent, calls_tool_then_answers

pytestmark = pytest.mark.anyio


class Flow(BaseModel):
    input: str = ""
    output: str = ""
    log: Annotated[list[str], append] = []


def paying_graph(store: Any, paid: list[int]) -> Workflow:
    @tool(approve=True)
    def pay(usd: int) -> str:
        """Pay.

        Args:
            usd: US dollars.
        """
        paid.append(usd)
        return f"paid {usd}"

    payer = Agent(
        calls_tool_then_answers("pay", {"usd": 3}, lambda task, out: f"{out} ({task})"),
        tools=[pay],
        name="payer",
        checkpoint=store,
    )

    async def audit(state: Flow) -> dict[str, Any]:
        return {"log": [f"audited {state.output}"]}

    graph = (
        Graph(Flow)
        .add_node("pay", payer)
        .add_node("audit", audit)
        .add_edge(START, "pay")
        .add_edge("pay", "audit")
    )
    return graph.compile(checkpoint=store)


async def test_an_approval_in_an_agent_node_pauses_the_graph_until_resumed(tmp_path: Path) -> None:
    db, paid = tmp_path / "state.db", list[int]()
    async with SQLiteCheckpoint(db) as store:
        paused = await paying_graph(store, paid).run({"input": "rent"}, session_id="g")
    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt.kind == "approval"
    assert paused.interrupt.data["node"] == "pay" and paused.interrupt.data["agent"] == "payer"
    assert paused.next == ["pay"] and paid == []

    async with SQLiteCheckpoint(db) as store:  # a fresh process
        workflow = paying_graph(store, paid)
        assert (await workflow.run(None, session_id="g")).interrupted  # still waiting
        with pytest.raises(SpineError, match="waiting for a human"):
            await workflow.run({"input": "more"}, session_id="g")
        done = await workflow.resume(paused.resume_token or "", "approve")
        assert done.ok and done.values.log == ["audited paid 3 (rent)"]
        assert paid == [3]
        with pytest.raises(ResumeError, match="has nothing to resume: it is done"):
            await workflow.resume(paused.resume_token or "", "approve")


async def test_a_rejection_reaches_the_agent_node() -> None:
    paid: list[int] = []
    workflow = paying_graph(None, paid)
    paused = await workflow.run({"input": "rent"})
    done = await workflow.resume(paused.resume_token or "", "reject", reason="not today")
    assert paid == [] and "not today" in done.values.output


async def test_of_two_resumers_one_continues_and_the_other_gets_a_clear_error() -> None:
    paid: list[int] = []
    workflow = paying_graph(YieldingStore(), paid)
    paused = await workflow.run({"input": "rent"})
    outcomes: list[str] = []

    async def resumer() -> None:
        try:
            await workflow.resume(paused.resume_token or "", "approve")
            outcomes.append("resumed")
        except ResumeError as exc:
            outcomes.append(str(exc))

    async with anyio.create_task_group() as group:
        group.start_soon(resumer)
        group.start_soon(resumer)
    assert sorted(outcomes) == [
        "resumed",
        f"session '{paused.session_id}' was resumed by another worker first",
    ]
    assert paid == [3]


async def test_ctx_interrupt_in_a_function_node_returns_each_answer_in_turn() -> None:
    entered: Counter[str] = Counter()

    async def interview(state: Flow, ctx: NodeContext) -> dict[str, Any]:
        entered["interview"] += 1  # the node runs again from the top on each resume
        name = ctx.interrupt("Your name?")
        city = ctx.interrupt("Your city?", data={"hint": "a city"})
        return {"output": f"{name} from {city}"}

    workflow = Graph(Flow).add_node("interview", interview).add_edge(START, "interview").compile()
    first = await workflow.run({})
    assert first.interrupt.question == "Your name?" and first.interrupt.kind == "input"
    assert first.interrupt.data == {"node": "interview"}
    second = await workflow.resume(first.resume_token or "", answer="Ada")
    assert second.interrupt.question == "Your city?" and second.interrupt.data["hint"] == "a city"
    done = await workflow.resume(second.resume_token or "", "London")  # decision as the answer
    assert done.values.output == "Ada from London"
    assert entered["interview"] == 3


async def test_an_approval_asked_by_a_function_node() -> None:
    async def gate(state: Flow, ctx: NodeContext) -> dict[str, Any]:
        approved = ctx.interrupt("Ship it?", kind="approval")
        reason = ctx.decision.reason if ctx.decision is not None else None
        return {"output": "shipped" if approved else f"held: {reason}"}

    workflow = Graph(Flow).add_node("gate", gate).add_edge(START, "gate").compile()
    paused = await workflow.run({})
    assert paused.interrupt.kind == "approval"
    assert (await workflow.resume(paused.resume_token or "", True)).values.output == "shipped"
    paused = await workflow.run({})
    held = await workflow.resume(paused.resume_token or "", "no", reason="friday")
    assert held.values.output == "held: friday"


async def test_a_pause_in_a_sub_graph_pauses_the_parent() -> None:
    async def ask(state: Flow, ctx: NodeContext) -> dict[str, Any]:
        return {"output": ctx.interrupt("Topic?")}

    inner = Graph(Flow, name="inner").add_node("ask", ask).add_edge(START, "ask")
    parent_runs: Counter[str] = Counter()

    async def before(state: Flow) -> dict[str, Any]:
        parent_runs["before"] += 1
        return {"log": ["before"]}

    outer = (
        Graph(Flow)
        .add_node("before", before)
        .add_node("inner", inner)
        .add_edge(START, "before")
        .add_edge("before", "inner")
        .compile()
    )
    paused = await outer.run({})
    assert paused.interrupted and paused.interrupt.question == "Topic?"
    assert paused.interrupt.data["node"] == "inner"
    done = await outer.resume(paused.resume_token or "", answer="owls")
    assert done.ok and done.values.output == "owls" and done.values.log == ["before"]
    assert parent_runs["before"] == 1


async def test_a_pause_in_one_parallel_node_waits_for_its_siblings() -> None:
    async def ask(state: Flow, ctx: NodeContext) -> dict[str, Any]:
        return {"output": ctx.interrupt("Go?")}

    sibling_calls: list[str] = []
    graph = (
        Graph(Flow)
        .add_node("ask", ask)
        .add_node("work", agent("worker", "worked", calls=sibling_calls), output="log")
        .add_edge(START, ["ask", "work"])
    )
    workflow = graph.compile()
    paused = await workflow.run({"input": "x"})
    assert paused.interrupted and sibling_calls == ["x"]
    done = await workflow.resume(paused.resume_token or "", answer="yes")
    assert done.values.output == "yes" and done.values.log == ["worked"]
    assert sibling_calls == ["x"]  # its write was checkpointed: not run again


async def test_a_node_in_a_cycle_asks_again_on_each_visit() -> None:
    class Loop(BaseModel):
        rounds: int = 0
        answers: Annotated[list[str], append] = []

    async def ask(state: Loop, ctx: NodeContext) -> dict[str, Any]:
        name = ctx.interrupt(f"Round {state.rounds}: name?")
        city = ctx.interrupt(f"Round {state.rounds}: city?")
        return {"rounds": state.rounds + 1, "answers": [f"{name}@{city}"]}

    def again(state: Loop) -> str:
        return "ask" if state.rounds < 2 else "__end__"

    graph = Graph(Loop).add_node("ask", ask).add_edge(START, "ask")
    workflow = graph.add_conditional_edges("ask", again).compile()
    result = await workflow.run({})
    questions = []
    for answer in ["ada", "rome", "bo", "oslo"]:
        questions.append(result.interrupt.question)
        result = await workflow.resume(result.resume_token or "", answer=answer)
    assert questions == [
        "Round 0: name?",
        "Round 0: city?",
        "Round 1: name?",  # asked anew: the first visit's answers are spent
        "Round 1: city?",
    ]
    assert result.ok and result.values.answers == ["ada@rome", "bo@oslo"]
