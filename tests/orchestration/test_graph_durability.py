"""Graph durability: one compare-and-set write per finished node holding only the new records,
crashes and failures that re-run only unfinished nodes, history, fork and replay."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

import anyio
import pytest
from pydantic import BaseModel

from spine_core import CheckpointConflict, InMemoryCheckpointStore, SpineError, State, StopReason
from spine_orchestration import START, Graph, append

from .helpers import Barrier, agent

pytestmark = pytest.mark.anyio


class Log(BaseModel):
    topic: str = ""
    count: int = 0
    log: Annotated[list[str], append] = []


def counted(name: str, runs: Counter[str], *, bump: bool = True) -> Any:
    async def node(state: Log) -> dict[str, Any]:
        runs[name] += 1
        return {"log": [name], "count": state.count + 1} if bump else {"log": [name]}

    return node


def chain(names: list[str], runs: Counter[str]) -> Graph:
    graph = Graph(Log)
    for index, name in enumerate(names):
        graph.add_node(name, counted(name, runs))
        graph.add_edge(START if index == 0 else names[index - 1], name)
    return graph


class RecordingStore(InMemoryCheckpointStore):
    """Notes, for every put, the revision it claimed and how many messages it added."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[tuple[int, int]] = []
        self._stored: dict[str, int] = {}

    async def put(self, state: State) -> None:
        before, revision = self._stored.get(state.session_id, 0), state.revision
        await super().put(state)
        self.puts.append((revision, len(state.messages) - before))
        self._stored[state.session_id] = len(state.messages)


async def test_each_finished_node_is_one_compare_and_set_write_of_only_new_records() -> None:
    store, runs = RecordingStore(), Counter[str]()
    workflow = chain([f"n{i}" for i in range(10)], runs).compile(checkpoint=store)

    result = await workflow.run({}, session_id="r")

    assert result.ok and result.values.count == 10
    # the start, one write per node, and the end of the run
    assert len(store.puts) == 12
    assert [revision for revision, _ in store.puts] == list(range(12))  # each put claims the last
    assert max(added for _, added in store.puts) <= 2  # a node's write (+ the step it closes)
    assert sum(added for _, added in store.puts) == len(result.state.messages) == 22


class Killed(BaseException):
    """Stands in for the process dying (no `except Exception` catches it)."""


async def test_a_stale_writer_gets_a_checkpoint_conflict() -> None:
    barrier, calls = Barrier(2), Counter[str]()

    async def slow(state: Log) -> dict[str, Any]:
        calls["slow"] += 1
        if calls["slow"] == 1:
            raise Killed  # the first process dies inside the node
        await barrier.wait()  # both workers that continue the run are inside the node
        return {"log": ["slow"]}

    workflow = Graph(Log).add_node("slow", slow).add_edge(START, "slow").compile()
    with pytest.raises(Killed):
        await workflow.run({}, session_id="shared")
    outcomes: list[str] = []

    async def worker() -> None:
        try:
            await workflow.run(None, session_id="shared")
            outcomes.append("done")
        except CheckpointConflict:
            outcomes.append("conflict")

    async with anyio.create_task_group() as group:
        group.start_soon(worker)
        group.start_soon(worker)

    assert sorted(outcomes) == ["conflict", "done"]
    final = await workflow.checkpoint.get("shared")
    assert final is not None
    assert [m.name for m in final.messages].count("graph.write") == 1


class DiesOnWriteOf(InMemoryCheckpointStore):
    """Dies (raises `Killed`) instead of storing the write record of node `node`, and stays
    dead until `revive()`: nothing the dying process does later is stored."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node
        self.dead = False

    def revive(self) -> None:
        self.dead, self.node = False, ""

    async def put(self, state: State) -> None:
        last = state.messages[-1]
        if last.name == "graph.write" and json.loads(last.content or "")["node"] == self.node:
            self.dead = True
        if self.dead:
            raise Killed
        await super().put(state)


async def test_a_crash_mid_step_reruns_only_the_nodes_not_checkpointed() -> None:
    runs: Counter[str] = Counter()
    graph = Graph(Log)
    for name in ("a", "b", "c", "after"):
        graph.add_node(name, counted(name, runs, bump=False))
    graph.add_edge(START, ["a", "b", "c"]).add_edge(["a", "b", "c"], "after")
    store = DiesOnWriteOf("b")
    workflow = graph.compile(checkpoint=store)

    with pytest.raises(BaseException) as died:
        await workflow.run({}, session_id="crash")
    assert died.group_contains(Killed)  # raised out of the step's task group
    assert runs == {"a": 1, "b": 1, "c": 1}

    store.revive()
    result = await workflow.run(None, session_id="crash")  # "the next process"

    assert result.ok and result.values.log == ["a", "b", "c", "after"]
    # a's write was committed before the process died; b's and c's were not
    assert runs == {"a": 1, "b": 2, "c": 2, "after": 1}


async def test_a_failed_node_reruns_when_the_run_continues_and_its_siblings_do_not() -> None:
    runs: Counter[str] = Counter()

    async def flaky(state: Log) -> dict[str, Any]:
        runs["flaky"] += 1
        if runs["flaky"] == 1:
            raise ValueError("first time unlucky")
        return {"log": ["flaky"]}

    graph = Graph(Log).add_node("steady", counted("steady", runs, bump=False))
    graph.add_node("flaky", flaky)
    workflow = graph.add_edge(START, ["steady", "flaky"]).compile()

    failed = await workflow.run({}, session_id="f")
    assert failed.stopped_reason is StopReason.ERROR
    assert failed.error == "node 'flaky' failed: ValueError: first time unlucky"
    assert failed.state.status.value == "error"

    result = await workflow.run(None, session_id="f")
    assert result.ok and result.values.log == ["steady", "flaky"]
    assert runs == {"steady": 1, "flaky": 2}


async def test_history_has_a_checkpoint_per_step() -> None:
    runs: Counter[str] = Counter()
    workflow = chain(["a", "b", "c"], runs).compile()
    result = await workflow.run({"topic": "t"}, session_id="h")

    history = await workflow.history("h")

    assert [c.step for c in history] == [0, 1, 2, 3]
    assert [c.next for c in history] == [["a"], ["b"], ["c"], []]
    assert [c.values.log for c in history] == [[], ["a"], ["a", "b"], ["a", "b", "c"]]
    assert (await workflow.get_state("h")).values == result.values
    with pytest.raises(SpineError, match="no run"):
        await workflow.history("missing")


async def test_a_fork_from_an_earlier_checkpoint_runs_on_from_there() -> None:
    runs: Counter[str] = Counter()
    writes: list[str] = []
    writer = agent("writer", "essay on {text}", calls=writes)
    graph = (
        Graph(Log)
        .add_node("plan", counted("plan", runs))
        .add_node("write", writer, input="topic", output="log")
        .add_edge(START, "plan")
        .add_edge("plan", "write")
    )
    workflow = graph.compile()
    original = await workflow.run({"topic": "cats"}, session_id="orig")
    assert original.values.log == ["plan", "essay on cats"]

    forked = await workflow.fork("orig", 1, new_session_id="fork", update={"topic": "dogs"})
    assert forked == "fork"
    result = await workflow.run(None, session_id="fork")

    assert result.values.log == ["plan", "essay on dogs"]
    assert runs["plan"] == 1  # before the fork point: not run again
    assert writes == ["cats", "dogs"]  # after it: the agent ran anew, in its own session
    assert (await workflow.get_state("orig")).values.log == ["plan", "essay on cats"]
    assert [c.step for c in await workflow.history("fork")] == [0, 1, 2, 3]
    with pytest.raises(SpineError, match="has no checkpoint 9"):
        await workflow.fork("orig", 9)
    with pytest.raises(SpineError, match="already exists"):
        await workflow.fork("orig", 1, new_session_id="fork")


async def test_replay_runs_again_from_a_checkpoint() -> None:
    runs: Counter[str] = Counter()
    workflow = chain(["a", "b"], runs).compile()
    await workflow.run({}, session_id="once")
    again = await workflow.replay("once", 1)
    assert again.ok and again.values.log == ["a", "b"]
    assert runs == {"a": 1, "b": 2}
    assert again.session_id != "once"
