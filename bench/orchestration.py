"""Graph workflow benchmark (run by `make bench`; not a test).

The cost of one node transition of a 10-node linear graph of async function nodes, against
calling the same 10 functions directly (each result validated into the state model, as the
graph does): (graph time - direct time) / 10 per run. Target: <= 50 us per transition with
the in-memory checkpoint store. Each transition includes the node's compare-and-set
checkpoint write (one `put` of the new records). The figure is the median of `--rounds`
rounds of `--runs` runs each, deleting each session after its run; also reported with
SQLite (WAL, synchronous=NORMAL) in a temporary file.

Usage: python bench/orchestration.py [--runs 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel

from spine_backends import SQLiteCheckpoint
from spine_core import CheckpointStore, InMemoryCheckpointStore
from spine_orchestration import END, START, Graph, Workflow

NODES = 10
TARGET_US = 50.0


class Counter(BaseModel):
    x: int = 0


async def step(state: Counter) -> dict[str, Any]:
    return {"x": state.x + 1}


def linear(store: CheckpointStore) -> Workflow:
    graph = Graph(Counter)
    for i in range(NODES):
        graph.add_node(f"n{i}", step)
        graph.add_edge(START if i == 0 else f"n{i - 1}", f"n{i}")
    graph.add_edge(f"n{NODES - 1}", END)
    return graph.compile(checkpoint=store)


async def graph_seconds(workflow: Workflow, store: Any, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        result = await workflow.run({})
        await store.delete(result.session_id)
    elapsed = time.perf_counter() - start
    assert result.values.x == NODES
    return elapsed


async def direct_seconds(runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        state = Counter()
        for _ in range(NODES):
            state = Counter(**(await step(state)))
    return time.perf_counter() - start


async def per_transition_us(workflow: Workflow, store: Any, runs: int, rounds: int) -> float:
    await graph_seconds(workflow, store, max(runs // 10, 10))  # warm up
    figures = []
    for _ in range(rounds):
        graph = await graph_seconds(workflow, store, runs)
        direct = await direct_seconds(runs)
        figures.append((graph - direct) / runs / NODES * 1e6)
    return statistics.median(figures)


async def main(args: argparse.Namespace) -> int:
    memory = InMemoryCheckpointStore(max_sessions=None)
    in_memory = await per_transition_us(linear(memory), memory, args.runs, args.rounds)
    direct = await direct_seconds(args.runs) / args.runs / NODES * 1e6
    with tempfile.TemporaryDirectory() as folder:
        async with SQLiteCheckpoint(Path(folder) / "bench.db") as sqlite:
            runs = max(args.runs // 10, 20)
            on_sqlite = await per_transition_us(linear(sqlite), sqlite, runs, args.rounds)
    verdict = "ok" if in_memory <= TARGET_US else "OVER TARGET"
    print(f"direct call of a node function:          {direct:8.2f} us")
    target = f"(target <= {TARGET_US:g}: {verdict})"
    print(f"graph transition overhead, in memory:    {in_memory:8.1f} us  {target}")
    print(f"graph transition overhead, SQLite (WAL): {on_sqlite:8.1f} us")
    return 0 if in_memory <= TARGET_US else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    raise SystemExit(anyio.run(main, parser.parse_args()))
