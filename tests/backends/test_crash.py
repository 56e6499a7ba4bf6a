"""Crash safety: agents SIGKILLed at seeded random points around checkpoint writes resume
to completion from their checkpoints, losing no completed step (see crash_worker.py)."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import Role, RunStatus

pytestmark = [pytest.mark.services, pytest.mark.slow]

WORKER = Path(__file__).with_name("crash_worker.py")
STEPS = 12
# SIGKILLs per store (`make soak` raises it with SPINE_SOAK_KILLS).
KILLS = int(os.environ.get("SPINE_SOAK_KILLS", "20"))


def _run_worker(log: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            "--log",
            str(log),
            "--steps",
            str(STEPS),
            "--min-kills",
            str(KILLS),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120 * max(1, KILLS // 20),
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


async def _check(store: Any, summary: dict[str, Any], log: Path, *, exactly_once: bool) -> None:
    lines = [line.split() for line in log.read_text().splitlines()]
    effects = Counter((x[1], int(x[2])) for x in lines if x[0] == "effect")
    # a kill just before the put that would have recorded tool result n re-runs that tool
    uncommitted = Counter(
        (sid, int(n))
        for kind, sid, where, n in (x for x in lines if x[0] == "kill")
        if where == "before" and int(n) >= 0
    )
    assert sum(1 for x in lines if x[0] == "kill") == summary["kills"]
    for sid in summary["sessions"]:
        state = await store.get(sid)
        assert state is not None
        assert state.status is RunStatus.DONE
        results = [m.content for m in state.messages if m.role is Role.TOOL]
        assert results == [f"did {n}" for n in range(STEPS)]  # every step, once, in order
        assert state.messages[-1].content == f"finished {STEPS}"
        for n in range(STEPS):
            expected = 1 if exactly_once else 1 + uncommitted[(sid, n)]
            assert effects[(sid, n)] == expected, (sid, n)


@pytest.mark.anyio
async def test_sqlite_sessions_survive_sigkill(tmp_path: Path) -> None:
    db, log = tmp_path / "state.db", tmp_path / "log"
    summary = _run_worker(log, "--store", "sqlite", "--target", str(db), "--seed", "1")
    async with SQLiteCheckpoint(db) as store:
        await _check(store, summary, log, exactly_once=False)
    assert summary["kills"] >= KILLS


@pytest.mark.anyio
async def test_postgres_sessions_survive_sigkill(
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
    async with PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as store:
        await _check(store, summary, log, exactly_once=False)
    assert summary["kills"] >= KILLS


@pytest.mark.anyio
async def test_redis_sessions_with_idempotency_survive_sigkill_and_never_repeat_a_tool(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    log = tmp_path / "log"
    summary = _run_worker(
        log,
        "--store",
        "redis",
        "--target",
        redis_url,
        "--scope",
        redis_prefix,
        "--kv-url",
        redis_url,
        "--idempotency",
        "--seed",
        "3",
    )
    async with RedisCheckpoint(redis_url, prefix=redis_prefix) as store:
        await _check(store, summary, log, exactly_once=True)
    assert summary["kills"] >= KILLS
