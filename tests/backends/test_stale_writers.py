"""Compare-and-set across store instances (as in two worker processes): a writer holding a stale
revision conflicts even when the session's message count still matches what it last saw (the
other writer committed a header-only change), on every durable store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import CheckpointConflict, Message, RunStatus, State

pytestmark = [pytest.mark.anyio, pytest.mark.services]


async def _stale_writer_conflicts(a: Any, b: Any) -> State:
    """Commit a header-only change through `a`, then a stale append through `b` (which must
    conflict); returns the stored state."""
    await a.put(State(session_id="shared", messages=[Message.user("hi")]))
    mine, theirs = await a.get("shared"), await b.get("shared")
    assert mine is not None and theirs is not None

    mine.status = RunStatus.DONE  # a header-only commit: the message count stays 1
    await a.put(mine)
    theirs.messages.append(Message.user("a message from a stale worker"))

    with pytest.raises(CheckpointConflict):
        await b.put(theirs)
    stored = await b.get("shared")
    assert stored is not None
    return stored


def _nothing_lost(stored: State) -> bool:
    """Only the first writer's commit is in the store."""
    return len(stored.messages) == 1 and stored.status is RunStatus.DONE


async def test_sqlite(tmp_path: Path) -> None:
    async with SQLiteCheckpoint(tmp_path / "s.db") as a, SQLiteCheckpoint(tmp_path / "s.db") as b:
        assert _nothing_lost(await _stale_writer_conflicts(a, b))


async def test_redis(redis_url: str, redis_prefix: str) -> None:
    async with (
        RedisCheckpoint(redis_url, prefix=redis_prefix) as a,
        RedisCheckpoint(redis_url, prefix=redis_prefix) as b,
    ):
        assert _nothing_lost(await _stale_writer_conflicts(a, b))


async def test_postgres(postgres_dsn: str, postgres_schema: str) -> None:
    async with (
        PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as a,
        PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as b,
    ):
        assert _nothing_lost(await _stale_writer_conflicts(a, b))
