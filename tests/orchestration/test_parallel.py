"""Parallel: fan-out, aggregation, the concurrency limit, partial results, pauses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from spine_backends import SQLiteCheckpoint
from spine_core import (
    Agent,
    FunctionProvider,
    InMemoryCheckpointStore,
    Interrupt,
    Message,
    ProviderError,
    Result,
    ScriptedProvider,
    StopReason,
    tool,
)
from spine_orchestration import Parallel

from .helpers import Barrier, agent, calls_tool_then_answers, last_user

pytestmark = pytest.mark.anyio


async def test_fans_out_and_concatenates_in_agent_order() -> None:
    team = Parallel(agent("pro", "pro: {text}"), agent("con", "con: {text}"))
    result = await team.run("tabs")
    assert result.ok
    assert result.answer == "[pro]\npro: tabs\n\n[con]\ncon: tabs"
    assert result.path == ["pro", "con"]


async def test_a_function_aggregates_the_answered_results() -> None:
    seen: list[list[str | None]] = []

    async def vote(results: list[Result]) -> dict[str, Any]:
        seen.append([r.answer for r in results])
        return {"votes": len(results)}

    team = Parallel(agent("a", "yes"), agent("b", "no"), aggregate=vote)
    result = await team.run("?")
    assert seen == [["yes", "no"]]
    assert result.output == {"votes": 2}
    assert result.answer == '{"votes": 2}'


async def test_an_agent_aggregates_the_answers() -> None:
    judge = ScriptedProvider(["both agree"])
    team = Parallel(agent("a", "A"), agent("b", "B"), aggregate=Agent(judge, name="judge"))
    result = await team.run("the task")
    prompt = judge.prompts[0][-1].text
    assert "the task" in prompt and "[a]\nA" in prompt and "[b]\nB" in prompt
    assert result.answer == "both agree"
    assert result.path == ["a", "b", "judge"]


def test_rejects_a_bad_aggregate_and_limit() -> None:
    with pytest.raises(TypeError, match="aggregate"):
        Parallel(agent("a"), aggregate=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrency"):
        Parallel(agent("a"), max_concurrency=0)


def _counting(peak: dict[str, int]) -> FunctionProvider:
    async def reply(messages: list[Message], tools: Any, settings: Any) -> str:
        peak["now"] += 1
        peak["max"] = max(peak["max"], peak["now"])
        for _ in range(5):  # give every other ready branch the chance to start
            await anyio.lowlevel.checkpoint()
        peak["now"] -= 1
        return "ok"

    return FunctionProvider(reply)


@pytest.mark.parametrize(("limit", "expected"), [(2, 2), (None, 6)])
async def test_the_concurrency_limit_bounds_the_branches_running_at_once(
    limit: int | None, expected: int
) -> None:
    peak = {"now": 0, "max": 0}
    team = Parallel(
        *[Agent(_counting(peak), name=f"b{i}") for i in range(6)], max_concurrency=limit
    )
    result = await team.run("go")
    assert result.ok
    assert peak["max"] == expected


async def test_a_failing_branch_gives_a_partial_result_with_the_error() -> None:
    broken = Agent(ScriptedProvider([ProviderError("boom", kind="server")]), name="broken")
    team = Parallel(agent("a", "A"), broken, agent("c", "C"))

    result = await team.run("go")

    assert result.stopped_reason is StopReason.ERROR
    assert result.answer == "[a]\nA\n\n[c]\nC"  # the branches that answered
    assert result.error is not None
    assert result.error.startswith("1 of 3 branches failed: broken (error")
    assert "boom" in result.error
    assert [m.ok for m in result.members] == [True, False, True]


async def test_100_concurrent_runs_do_not_cross_talk() -> None:
    barrier = Barrier(300)  # all 3 branches of all 100 runs in flight together
    team = Parallel(
        agent("x", "x{text}", barrier=barrier),
        agent("y", "y{text}", barrier=barrier),
        agent("z", "z{text}", barrier=barrier),
    )
    answers: dict[int, str | None] = {}

    async def one(n: int) -> None:
        answers[n] = (await team.run(str(n))).answer

    async with anyio.create_task_group() as group:
        for n in range(100):
            group.start_soon(one, n)

    assert answers == {n: f"[x]\nx{n}\n\n[y]\ny{n}\n\n[z]\nz{n}" for n in range(100)}


def _asker(store: Any, asked: list[str]) -> Agent:
    @tool
    def ask(question: str) -> str:
        """Ask the user.

        Args:
            question: What to ask.
        """
        asked.append(question)
        raise Interrupt(question)

    provider = calls_tool_then_answers(
        "ask", {"question": "which city?"}, lambda t, a: f"go to {a}"
    )
    return Agent(provider, tools=[ask], name="asker", checkpoint=store)


async def test_pauses_in_two_branches_surface_one_at_a_time_then_aggregate(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    other_calls: list[str] = []

    def team(store: Any) -> Parallel:
        return Parallel(
            _asker(store, []),
            agent("plain", "plain {text}", checkpoint=store, calls=other_calls),
            _asker(store, []),
        )

    async with SQLiteCheckpoint(db) as store:
        first = await team(store).run("trip", session_id="p1")
    assert first.interrupted and first.interrupt.data["session_id"] == "p1/0"
    assert other_calls == ["trip"]

    async with SQLiteCheckpoint(db) as store:  # a fresh process for each resume
        second = await team(store).resume(first.resume_token or "", answer="Rome")
    assert second.interrupted and second.interrupt.data["session_id"] == "p1/2"
    assert second.resume_token != first.resume_token

    async with SQLiteCheckpoint(db) as store:
        done = await team(store).resume(second.resume_token or "", answer="Oslo")
    assert done.ok
    assert done.answer == "[asker]\ngo to Rome\n\n[plain]\nplain trip\n\n[asker]\ngo to Oslo"
    assert other_calls == ["trip"]  # the finished branch never ran again


async def test_members_run_in_their_own_sessions() -> None:
    store = InMemoryCheckpointStore()
    team = Parallel(agent("a", checkpoint=store), agent("b", checkpoint=store))
    result = await team.run("hi", session_id="r")
    assert [m.session_id for m in result.members] == ["r/0", "r/1"]
    for member in ("r/0", "r/1"):
        state = await store.get(member)
        assert state is not None and last_user(state.messages) == "hi"


async def test_continuing_a_partial_run_retries_only_the_failed_branches() -> None:
    steady_calls: list[str] = []
    flaky = Agent(ScriptedProvider([ProviderError("blip", kind="server"), "recovered"]), name="f")
    team = Parallel(agent("steady", "S", calls=steady_calls), flaky)

    partial = await team.run("go", session_id="retry")
    assert partial.stopped_reason is StopReason.ERROR and partial.answer == "[steady]\nS"

    result = await team.run(None, session_id="retry")
    assert result.ok and result.answer == "[steady]\nS\n\n[f]\nrecovered"
    assert steady_calls == ["go"]
