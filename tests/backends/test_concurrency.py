"""Concurrency: 50 workers, each with its own store instance (own connection), race on one
session; every revision is committed by exactly one of them and no update is lost."""

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import Agent, CheckpointConflict, Message, ModelResponse, State, ToolCall, tool

pytestmark = [pytest.mark.anyio, pytest.mark.services]

WORKERS = 50


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    if request.param == "sqlite":
        return lambda: SQLiteCheckpoint(tmp_path / "race.db")
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        return lambda: RedisCheckpoint(url, prefix=prefix)
    dsn = request.getfixturevalue("postgres_dsn")
    schema = request.getfixturevalue("postgres_schema")
    return lambda: PostgresCheckpoint(dsn, schema=schema, min_size=1, max_size=1)


@pytest.fixture
async def workers(make_store: Callable[[], Any]) -> AsyncIterator[list[Any]]:
    stores = [make_store() for _ in range(WORKERS)]
    async with contextlib.AsyncExitStack() as stack:
        for store in stores:
            await stack.enter_async_context(store)
        await stores[0].put(State(session_id="hot", messages=[Message.user("start")]))
        yield stores


async def test_exactly_one_of_50_resuming_workers_commits_each_revision(
    workers: list[Any],
) -> None:
    for round_ in range(3):
        states = [await store.get("hot") for store in workers]
        winners: list[int] = []
        conflicts: list[int] = []

        async def resume(
            i: int, store: Any, state: State, winners: list[int], conflicts: list[int], r: int
        ) -> None:
            state.messages.append(Message.user(f"worker {i} round {r}"))
            try:
                await store.put(state)
            except CheckpointConflict:
                conflicts.append(i)
            else:
                winners.append(i)

        async with anyio.create_task_group() as tg:
            for i, (store, state) in enumerate(zip(workers, states, strict=True)):
                tg.start_soon(resume, i, store, state, winners, conflicts, round_)
        assert len(winners) == 1 and len(conflicts) == WORKERS - 1
        stored = await workers[0].get("hot")
        assert stored.revision == round_ + 2
        assert stored.messages[-1].content == f"worker {winners[0]} round {round_}"
        assert len(stored.messages) == round_ + 2


async def test_50_workers_retrying_on_conflict_lose_no_update(workers: list[Any]) -> None:
    committed: dict[int, int] = {}

    async def work(i: int, store: Any) -> None:
        while True:
            state = await store.get("hot")
            state.messages.append(Message.user(f"worker {i}"))
            try:
                await store.put(state)
            except CheckpointConflict:
                continue
            committed[state.revision] = i
            return

    async with anyio.create_task_group() as tg:
        for i, store in enumerate(workers):
            tg.start_soon(work, i, store)
    assert sorted(committed) == list(range(2, WORKERS + 2))  # one commit per revision
    stored = await workers[0].get("hot")
    assert stored.revision == WORKERS + 1
    contents = [m.content for m in stored.messages[1:]]
    assert sorted(contents) == sorted(f"worker {i}" for i in range(WORKERS))
    # the history order is the commit order
    assert contents == [f"worker {committed[r]}" for r in range(2, WORKERS + 2)]


async def test_two_agents_racing_one_new_session_run_its_side_effecting_tool_once(
    make_store: Callable[[], Any],
) -> None:
    """The model's request is checkpointed (compare-and-set) before a side-effecting tool
    runs, so of two workers that both got a tool call for one session, only one acts."""
    charged: list[str] = []
    asked = 0
    both_asked = anyio.Event()

    @tool
    async def charge() -> str:
        """Charge the card."""
        charged.append("x")
        return "charged"

    class Racing:
        async def complete(self, messages: Any, tools: Any = None, **settings: Any) -> Any:
            nonlocal asked
            if any(m.role == "tool" for m in messages):
                return ModelResponse(message=Message.assistant("done"))
            asked += 1
            if asked == 2:
                both_asked.set()
            await both_asked.wait()  # both workers hold the call before either commits
            call = ToolCall(id="c1", name="charge", arguments={})
            return ModelResponse(message=Message.assistant(tool_calls=[call]))

    outcomes: list[str] = []

    async def worker() -> None:
        async with make_store() as store:
            agent = Agent(Racing(), tools=[charge], checkpoint=store)
            try:
                result = await agent.run("pay", session_id="race")
                outcomes.append(result.stopped_reason.value)
            except CheckpointConflict:
                outcomes.append("conflict")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            tg.start_soon(worker)

    assert sorted(outcomes) == ["conflict", "final"]
    assert charged == ["x"]
