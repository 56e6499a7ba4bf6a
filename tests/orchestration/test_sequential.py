"""Sequential: answers chained in order, per-run state in the run, pauses and crashes."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from spine_backends import SQLiteCheckpoint
from spine_core import (
    Agent,
    CheckpointStore,
    InMemoryCheckpointStore,
    ProviderError,
    ResumeError,
    RunStatus,
    ScriptedProvider,
    State,
    StopReason,
    tool,
)
from spine_orchestration import Sequential

from .helpers import Barrier, YieldingStore, agent, calls_tool_then_answers

pytestmark = pytest.mark.anyio


async def test_each_answer_is_the_next_agents_input() -> None:
    first, second = ScriptedProvider(["draft"]), ScriptedProvider(["final"])
    chain = Sequential(Agent(first, name="writer"), Agent(second, name="editor"))

    result = await chain.run("Write a haiku")

    assert result.ok and result.answer == "final"
    assert first.prompts[0][-1].text == "Write a haiku"
    assert second.prompts[0][-1].text == "draft"
    assert result.path == ["writer", "editor"]
    assert [m.answer for m in result.members] == ["draft", "final"]


async def test_reference_usage_runs_unchanged() -> None:
    chain = Sequential(agent("a", "A({text})"), agent("b", "B({text})"))
    result = await chain.run("x")
    assert result.answer == "B(A(x))"
    assert result.stopped_reason is StopReason.FINAL


def test_needs_at_least_one_agent() -> None:
    with pytest.raises(ValueError, match="at least one agent"):
        Sequential()


async def test_a_failing_member_stops_the_chain_with_its_error() -> None:
    third: list[str] = []
    broken = Agent(ScriptedProvider([ProviderError("down", kind="server")]), name="broken")
    chain = Sequential(agent("a"), broken, agent("c", calls=third))

    result = await chain.run("go")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and "member 'broken' failed" in result.error
    assert third == []  # the chain stopped there
    assert result.members[1].stopped_reason is StopReason.ERROR


async def test_members_and_chain_checkpoint_in_the_agents_stores() -> None:
    store_a, store_b = InMemoryCheckpointStore(), InMemoryCheckpointStore()
    chain = Sequential(agent("a", checkpoint=store_a), agent("b", checkpoint=store_b))

    result = await chain.run("go", session_id="run-1")

    assert (await store_a.get("run-1")) is not None  # the chain's own session
    member_a, member_b = await store_a.get("run-1/0"), await store_b.get("run-1/1")
    assert member_a is not None and member_a.status is RunStatus.DONE
    assert member_b is not None and member_b.messages[-1].text == "go"
    assert result.state.session_id == "run-1"
    assert [m.session_id for m in result.members] == ["run-1/0", "run-1/1"]


async def test_100_concurrent_runs_do_not_cross_talk() -> None:
    barrier = Barrier(100)  # every run is inside the first agent at the same time
    chain = Sequential(agent("a", "a[{text}]", barrier=barrier), agent("b", "b[{text}]"))
    answers: dict[int, str | None] = {}

    async def one(n: int) -> None:
        result = await chain.run(f"task {n}")
        answers[n] = result.answer
        assert result.members[0].answer == f"a[task {n}]"

    async with anyio.create_task_group() as group:
        for n in range(100):
            group.start_soon(one, n)

    assert answers == {n: f"b[a[task {n}]]" for n in range(100)}


def _payer(store: CheckpointStore, paid: list[int]) -> Agent:
    @tool(approve=True)
    def pay(usd: int) -> str:
        """Pay an amount.

        Args:
            usd: US dollars.
        """
        paid.append(usd)
        return f"paid {usd}"

    provider = calls_tool_then_answers("pay", {"usd": 5}, lambda task, out: f"{out} for {task}")
    return Agent(provider, tools=[pay], name="payer", checkpoint=store)


async def test_pause_in_a_member_is_the_chains_and_resumes_from_a_fresh_process(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    first_calls: list[str] = []
    paid: list[int] = []
    async with SQLiteCheckpoint(db) as store:
        chain = Sequential(agent("a", "bill {text}", checkpoint=store), _payer(store, paid))
        paused = await chain.run("alice", session_id="s1")
    assert paused.interrupted and paused.resume_token is not None
    assert paused.interrupt.kind == "approval"
    assert paused.interrupt.data["agent"] == "payer"
    assert paused.interrupt.data["session_id"] == "s1/1"
    assert paid == []

    # a fresh process: new store connection, new agents, new pattern; nothing in memory
    async with SQLiteCheckpoint(db) as store:
        fresh = Sequential(
            agent("a", "bill {text}", checkpoint=store, calls=first_calls), _payer(store, paid)
        )
        assert (await fresh.run(None, session_id="s1")).interrupted  # the pause stands
        done = await fresh.resume(paused.resume_token, "approve")
        assert done.ok and done.answer == "paid 5 for bill alice"
        assert paid == [5] and first_calls == []  # the first member did not run again
        with pytest.raises(ResumeError, match="has nothing to resume: it is done"):
            await fresh.resume(paused.resume_token, "approve")
        assert paid == [5]


async def test_a_rejection_reaches_the_paused_member() -> None:
    paid: list[int] = []
    store = InMemoryCheckpointStore()

    @tool(approve=True)
    def pay(usd: int) -> str:
        """Pay."""
        paid.append(usd)
        return "paid"

    provider = calls_tool_then_answers("pay", {"usd": 1}, lambda task, out: f"told: {out}")
    chain = Sequential(Agent(provider, tools=[pay], name="payer", checkpoint=store))
    paused = await chain.run("go")
    assert paused.resume_token is not None
    done = await chain.resume(paused.resume_token, "no", reason="too expensive")
    assert paid == []
    assert done.answer is not None and "too expensive" in done.answer


class Killed(BaseException):
    """Stands in for the process dying (not an Exception, so nothing catches it)."""


class DyingStore(InMemoryCheckpointStore):
    """Raises `Killed` on its first put while `armed`."""

    armed = True

    async def put(self, state: State) -> None:
        if self.armed:
            self.armed = False
            raise Killed
        await super().put(state)


async def test_a_crashed_chain_continues_without_rerunning_finished_members() -> None:
    shared, dying = InMemoryCheckpointStore(), DyingStore()
    first_calls: list[str] = []
    chain = Sequential(
        agent("a", "A{text}", checkpoint=shared, calls=first_calls),
        agent("b", "B{text}", checkpoint=dying),
    )
    with pytest.raises(Killed):
        await chain.run("x", session_id="s")
    assert first_calls == ["x"]

    result = await chain.run(None, session_id="s")

    assert result.ok and result.answer == "BAx"
    assert first_calls == ["x"]  # finished before the crash: not run again
    with pytest.raises(Exception, match="already holds"):
        await chain.run("again", session_id="s")


async def test_of_two_resumers_of_a_chain_one_continues_and_the_other_gets_a_clear_error() -> None:
    paid: list[int] = []
    store = YieldingStore()
    chain = Sequential(_payer(store, paid))
    paused = await chain.run("go", session_id="race")
    outcomes: list[str] = []

    async def resumer() -> None:
        try:
            await chain.resume(paused.resume_token or "", "approve")
            outcomes.append("resumed")
        except ResumeError as exc:
            outcomes.append(str(exc))

    async with anyio.create_task_group() as group:
        group.start_soon(resumer)
        group.start_soon(resumer)
    assert sorted(outcomes) == ["resumed", "session 'race' was resumed by another worker first"]
    assert paid == [5]
