"""Crash safety of graph runs: processes SIGKILLed inside nodes and around checkpoint writes
resume at the first unfinished node; a node whose write was committed never runs again
(see crash_worker.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from spine_backends import PostgresCheckpoint, SQLiteCheckpoint
from spine_core import RunStatus
from spine_orchestration import START, Graph

from .crash_worker import NODES, Trail

pytestmark = [pytest.mark.slow]

WORKER = Path(__file__).with_name("crash_worker.py")
KILLS = int(os.environ.get("SPINE_SOAK_KILLS", "12"))


def _run_worker(log: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(WORKER), "--log", str(log), "--min-kills", str(KILLS), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


async def _check(store: Any, summary: dict[str, Any], log: Path) -> None:
    lines = [line.split() for line in log.read_text().splitlines()]
    assert sum(1 for x in lines if x[0] == "kill") == summary["kills"] >= KILLS
    kinds = Counter(x[2] if x[2] != "during" else "during-node" for x in lines if x[0] == "kill")
    assert kinds["during-node"] > 0 and kinds["before-put"] + kinds["after-put"] > 0
    # reads the runs' logs back (the nodes do not matter for that, only the state type)
    reader = (
        Graph(Trail)
        .add_node("any", lambda s: None)
        .add_edge(START, "any")
        .compile(checkpoint=store)
    )
    for sid in summary["sessions"]:
        state = await store.get(sid)
        assert state is not None and state.status is RunStatus.DONE, sid
        writes = [json.loads(m.content)["node"] for m in state.messages if m.name == "graph.write"]
        assert sorted(writes) == sorted(NODES), sid  # every node finished exactly once
        committed: set[str] = set()
        for kind, where, *rest in lines:
            if where != sid:
                continue
            if kind == "commit":
                assert rest[0] not in committed, (sid, rest[0], "committed twice")
                committed.add(rest[0])
            elif kind == "run":
                assert rest[0] not in committed, (sid, rest[0], "ran again after its commit")
        runs = Counter(x[2] for x in lines if x[0] == "run" and x[1] == sid)
        assert set(runs) == set(NODES)
        final = await reader.get_state(sid)
        assert final.next == [] and final.values.trail == NODES, sid  # each once, in order


@pytest.mark.anyio
async def test_graph_runs_on_sqlite_survive_sigkill(tmp_path: Path) -> None:
    db, log = tmp_path / "state.db", tmp_path / "log"
    summary = _run_worker(log, "--store", "sqlite", "--target", str(db), "--seed", "1")
    assert summary["kills"] >= KILLS
    async with SQLiteCheckpoint(db) as store:
        await _check(store, summary, log)


@pytest.mark.services
@pytest.mark.anyio
async def test_graph_runs_on_postgres_survive_sigkill(
    tmp_path: Path, postgres_dsn: str, postgres_schema: str
) -> None:
    log = tmp_path / "log"
    summary = _run_worker(
        log,
        "--store",
        "postgres",
        "--target",
        postgres_dsn,
        "--scope",
        postgres_schema,
        "--seed",
        "2",
    )
    assert summary["kills"] >= KILLS
    async with PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as store:
        await _check(store, summary, log)
