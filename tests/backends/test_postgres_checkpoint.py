"""PostgresCheckpoint against the real PostgreSQL server, each test in its own schema."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from spine_backends import PostgresCheckpoint
from spine_core import CheckpointConflict, Message, State
from spine_core.testing import CheckpointStoreContract

from .rows import write_raw

pytestmark = pytest.mark.services


class TestPostgresCheckpoint(CheckpointStoreContract):
    @pytest.fixture
    async def store(
        self, postgres_dsn: str, postgres_schema: str
    ) -> AsyncIterator[PostgresCheckpoint]:
        async with PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as store:
            yield store

    async def write_raw_state(self, store: PostgresCheckpoint, data: dict[str, Any]) -> None:
        header = {k: v for k, v in data.items() if k not in ("history", "rev")}
        await write_raw(store, header, data["history"], data["rev"])


@pytest.mark.parametrize("table", ["x; DROP TABLE y", "1abc", "", "a.b", "a" * 64])
def test_invalid_table_or_schema_is_rejected(table: str) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        PostgresCheckpoint("postgresql://x", table=table)
    with pytest.raises(ValueError, match="invalid schema name"):
        PostgresCheckpoint("postgresql://x", schema=table or "-")


@pytest.mark.anyio
async def test_fresh_worker_without_cache_appends_and_detects_conflicts(
    postgres_dsn: str, postgres_schema: str
) -> None:
    async with (
        PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as a,
        PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as b,
    ):
        state = State(session_id="s", messages=[Message.user("1")])
        await a.put(state)
        state.messages.append(Message.user("2"))
        await b.put(state)  # b never read the session: locked path
        with pytest.raises(CheckpointConflict):
            await a.put(State(session_id="s", revision=1, messages=[Message.user("x")]))
        state.messages.append(Message.user("3"))
        await a.put(state)  # a's cached count is stale (revision moved on)
        loaded = await b.get("s")
    assert loaded is not None and loaded.revision == 3
    assert [m.content for m in loaded.messages] == ["1", "2", "3"]


@pytest.mark.anyio
async def test_put_inserts_only_new_message_rows(postgres_dsn: str, postgres_schema: str) -> None:
    async with PostgresCheckpoint(postgres_dsn, schema=postgres_schema) as store:
        state = State(session_id="s", messages=[Message.user(str(i)) for i in range(20)])
        await store.put(state)
        pool = await store._pool()
        await pool.execute(f'UPDATE {store._m} SET body = \'{{"role":"user","content":"kept"}}\'')
        state.messages.append(Message.user("new"))
        await store.put(state)
        loaded = await store.get("s")
    assert loaded is not None
    assert loaded.messages[0].content == "kept"
    assert loaded.messages[-1].content == "new" and len(loaded.messages) == 21


@pytest.mark.anyio
async def test_uses_a_pool_given_by_the_caller(postgres_dsn: str, postgres_schema: str) -> None:
    pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
    try:
        store = PostgresCheckpoint(pool=pool, schema=postgres_schema, table="mine")
        await store.put(State(session_id="s"))
        await store.aclose()  # does not close the caller's pool
        assert await pool.fetchval(f"SELECT count(*) FROM {postgres_schema}.mine") == 1
    finally:
        await pool.close()
