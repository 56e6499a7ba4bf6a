"""A store outlives the event loop it first ran on: repeated `run_sync` calls (each starts a new
loop) keep working on Redis and PostgreSQL, whose clients and pools are bound to a loop."""

from __future__ import annotations

import uuid

import pytest

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import Agent, TestProvider

pytestmark = pytest.mark.services


def _three_sync_turns(agent: Agent) -> list[str | None]:
    session = uuid.uuid4().hex
    return [agent.run_sync(f"turn {n}", session_id=session).answer for n in range(3)]


def test_repeated_run_sync_on_redis(redis_url: str) -> None:
    store = RedisCheckpoint(redis_url, prefix=f"spine-test:{uuid.uuid4().hex[:12]}")
    answers = _three_sync_turns(Agent(TestProvider(), checkpoint=store))
    assert answers == ["You said: turn 0", "You said: turn 1", "You said: turn 2"]


def test_repeated_run_sync_on_postgres(postgres_dsn: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = PostgresCheckpoint(postgres_dsn, schema=schema, min_size=1, max_size=2)
    answers = _three_sync_turns(Agent(TestProvider(), checkpoint=store))
    assert answers == ["You said: turn 0", "You said: turn 1", "You said: turn 2"]


def test_repeated_run_sync_on_sqlite(tmp_path: object) -> None:
    store = SQLiteCheckpoint(f"{tmp_path}/state.db")
    answers = _three_sync_turns(Agent(TestProvider(), checkpoint=store))
    assert answers == ["You said: turn 0", "You said: turn 1", "You said: turn 2"]
