"""Handoff: transfer tools, the turn ending at a transfer, per-run paths, the bound, pauses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_backends import SQLiteCheckpoint
from spine_core import (
    Agent,
    FunctionProvider,
    Message,
    ScriptedProvider,
    StopReason,
    ToolCall,
    tool,
)
from spine_orchestration import Handoff

from .helpers import Barrier, agent, calls_tool_then_answers, last_user

pytestmark = pytest.mark.anyio


def transfer(to: str, call_id: str = "t1", reason: str = "") -> Message:
    call = ToolCall(id=call_id, name=f"transfer_to_{to}", arguments={"reason": reason})
    return Message.assistant(tool_calls=[call])


async def test_a_transfer_hands_the_original_task_to_the_peer() -> None:
    billing_calls: list[str] = []
    triage = Agent(ScriptedProvider([transfer("billing", reason="money")]), name="triage")
    team = Handoff(
        {"triage": triage, "billing": agent("billing", "refunded: {text}", calls=billing_calls)},
        start="triage",
    )

    result = await team.run("refund order 7")

    assert result.ok and result.answer == "refunded: refund order 7"
    assert billing_calls == ["refund order 7"]
    assert result.path == ["triage", "billing"]
    assert result.members[0].handoff_to == "billing"
    assert result.members[1].handoff_to is None


async def test_each_agent_gets_a_transfer_tool_per_peer() -> None:
    a, b, c = agent("a"), agent("b"), agent("c")
    Handoff({"a": a, "b": b, "c": c}, start="a")
    assert {n for n in a.tools if n.startswith("transfer_to_")} == {
        "transfer_to_b",
        "transfer_to_c",
    }
    assert {n for n in c.tools if n.startswith("transfer_to_")} == {
        "transfer_to_a",
        "transfer_to_b",
    }
    assert "reason" in a.tools["transfer_to_b"].parameters["properties"]


async def test_a_transfer_ends_the_turn_with_no_further_model_call() -> None:
    side: list[str] = []

    @tool
    def note(text: str) -> str:
        """Write a note."""
        side.append(text)
        return "noted"

    both = Message.assistant(
        tool_calls=[
            ToolCall(id="t1", name="transfer_to_billing", arguments={}),
            ToolCall(id="t2", name="note", arguments={"text": "x"}),
        ]
    )
    script = ScriptedProvider([both, "must never be asked for"])
    triage = Agent(script, tools=[note], name="triage")
    team = Handoff({"triage": triage, "billing": agent("billing", "B")}, start="triage")

    result = await team.run("help")

    assert len(script.calls) == 1  # the turn ended right after the transfer
    assert result.answer == "B" and result.path == ["triage", "billing"]
    visit = result.members[0]
    assert visit.stopped_reason is StopReason.FINAL
    state = await triage.checkpoint.get(visit.session_id)
    assert state is not None and not state.pending_tool_calls()  # the batch was answered


async def test_a_second_transfer_in_one_turn_is_refused() -> None:
    two = Message.assistant(
        tool_calls=[
            ToolCall(id="t1", name="transfer_to_b", arguments={}),
            ToolCall(id="t2", name="transfer_to_c", arguments={}),
        ]
    )
    team = Handoff(
        {"a": Agent(ScriptedProvider([two]), name="a"), "b": agent("b", "B"), "c": agent("c", "C")},
        start="a",
    )
    result = await team.run("x")
    assert result.path == ["a", "b"]


async def test_max_handoffs_bounds_a_transfer_cycle() -> None:
    def ping_pong(peer: str) -> FunctionProvider:
        def reply(messages: list[Message], tools: Any, settings: Any) -> Message:
            return transfer(peer, call_id=f"t{len(messages)}")

        return FunctionProvider(reply)

    team = Handoff(
        {"a": Agent(ping_pong("b"), name="a"), "b": Agent(ping_pong("a"), name="b")},
        start="a",
        max_handoffs=3,
    )
    result = await team.run("loop")
    assert result.stopped_reason is StopReason.MAX_STEPS
    assert result.path == ["a", "b", "a", "b"]  # 3 transfers followed, the 4th refused


def test_invalid_teams_are_rejected() -> None:
    with pytest.raises(ValueError, match="start agent 'x' not in the team"):
        Handoff({"a": agent("a")}, start="x")
    with pytest.raises(ValueError, match="tool name"):
        Handoff({"a b": agent("a")}, start="a b")
    same = agent("same")
    with pytest.raises(ValueError, match="once"):
        Handoff({"a": same, "b": same}, start="a")


def _router(barrier: Barrier) -> FunctionProvider:
    async def reply(messages: list[Message], tools: Any, settings: Any) -> Message:
        n = int(last_user(messages).split()[-1])
        await barrier.wait()  # every run is inside triage at the same time
        if n % 2 == 0:
            return transfer("billing", reason=f"n={n}")
        return Message.assistant(f"triage solved {n}")

    return FunctionProvider(reply)


async def test_100_concurrent_runs_keep_their_own_paths() -> None:
    team = Handoff(
        {
            "triage": Agent(_router(Barrier(100)), name="triage"),
            "billing": agent("billing", "billing solved {text}"),
        },
        start="triage",
    )
    seen: dict[int, tuple[str | None, list[str], list[str]]] = {}

    async def one(n: int) -> None:
        result = await team.run(f"task {n}")
        seen[n] = (result.answer, result.path, team.path)  # team.path: this task's own

    async with anyio.create_task_group() as group:
        for n in range(100):
            group.start_soon(one, n)

    for n in range(100):
        if n % 2 == 0:
            expected = (f"billing solved task {n}", ["triage", "billing"], ["triage", "billing"])
        else:
            expected = (f"triage solved {n}", ["triage"], ["triage"])
        assert seen[n] == expected, n


async def test_pause_in_the_agent_holding_the_conversation_resumes_from_a_fresh_process(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    refunds: list[int] = []

    def team(store: Any) -> Handoff:
        @tool(approve=True)
        def refund(order: int) -> str:
            """Refund an order.

            Args:
                order: The order number.
            """
            refunds.append(order)
            return f"refunded {order}"

        triage = Agent(ScriptedProvider([transfer("billing")]), name="triage", checkpoint=store)
        billing = Agent(
            calls_tool_then_answers("refund", {"order": 7}, lambda task, out: out),
            tools=[refund],
            name="billing",
            checkpoint=store,
        )
        return Handoff({"triage": triage, "billing": billing}, start="triage")

    async with SQLiteCheckpoint(db) as store:
        paused = await team(store).run("refund 7", session_id="h1")
    assert paused.interrupted and paused.path == ["triage", "billing"]
    assert paused.interrupt.data["agent"] == "billing"
    assert refunds == []

    async with SQLiteCheckpoint(db) as store:
        fresh = team(store)  # its triage script would fail if triage ran again
        done = await fresh.resume(paused.resume_token or "", "approve")
    assert done.ok and done.answer == "refunded 7"
    assert done.path == ["triage", "billing"] and fresh.path == ["triage", "billing"]
    assert refunds == [7]
