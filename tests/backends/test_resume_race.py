"""Racing resumers: many processes resume one approval pause at once on a real store; the
approved tool runs exactly once and every other resumer gets a `ResumeError` and runs
nothing (see resume_race_worker.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.anyio]

WORKER = Path(__file__).with_name("resume_race_worker.py")
# Processes racing per store (`make soak` raises it with SPINE_SOAK_RESUMERS).
RESUMERS = int(os.environ.get("SPINE_SOAK_RESUMERS", "50"))
# Each resumer holds one PostgreSQL connection; the server's max_connections is 100 by default.
PG_RESUMERS = min(RESUMERS, 90)


def _race(log: Path, *args: str, resumers: int = RESUMERS) -> Counter[str]:
    done = subprocess.run(
        [sys.executable, str(WORKER), "--log", str(log), "--resumers", str(resumers), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["failed_children"] == 0, log.read_text()
    return Counter(" ".join(line.split()[:2]) for line in log.read_text().splitlines())


def _check_the_others_lost(lines: Counter[str], resumers: int = RESUMERS) -> None:
    assert lines["outcome won"] == 1, lines
    assert lines["outcome lost"] == resumers - 1, lines
    assert not any(key.startswith("outcome crashed") for key in lines), lines


async def test_racing_resumers_on_sqlite_run_the_tool_once(tmp_path: Path) -> None:
    lines = _race(tmp_path / "log", "--store", "sqlite", "--target", str(tmp_path / "s.db"))
    assert lines["ran A-1"] == 1, lines  # the side effect happened exactly once
    _check_the_others_lost(lines)


async def test_racing_resumers_on_redis_run_the_tool_once(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    args = ["--store", "redis", "--target", redis_url, "--scope", redis_prefix]
    lines = _race(tmp_path / "log", *args)
    assert lines["ran A-1"] == 1, lines  # the side effect happened exactly once
    _check_the_others_lost(lines)


async def test_racing_resumers_on_postgres_run_the_tool_once(
    tmp_path: Path, postgres_dsn: str, postgres_schema: str
) -> None:
    args = ["--store", "postgres", "--target", postgres_dsn, "--scope", postgres_schema]
    lines = _race(tmp_path / "log", *args, resumers=PG_RESUMERS)
    assert lines["ran A-1"] == 1, lines  # the side effect happened exactly once
    _check_the_others_lost(lines, PG_RESUMERS)
