"""PgVectorMemory specifics: the schema and HNSW index, exact per-session search, vector
length and identifier checks, U+0000 and all-zero vectors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from spine_backends import HashEmbedder, PgVectorMemory, cosine
from spine_core import MemoryRecord

pytestmark = pytest.mark.anyio


@pytest.fixture
async def memory(pgvector_dsn: str, pgvector_schema: str) -> AsyncIterator[PgVectorMemory]:
    async with PgVectorMemory(pgvector_dsn, schema=pgvector_schema, ef_search=1) as memory:
        yield memory


async def test_creates_an_hnsw_cosine_index_and_a_session_index(
    memory: PgVectorMemory, pgvector_schema: str
) -> None:
    await memory.save("first")
    pool = await memory._pool()
    rows = await pool.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1", pgvector_schema
    )
    indexes = {r["indexname"]: r["indexdef"] for r in rows}
    assert "hnsw" in indexes["spine_memory_embedding"]
    assert "vector_cosine_ops" in indexes["spine_memory_embedding"]
    assert "(session_id, seq)" in indexes["spine_memory_session"]
    column = await pool.fetchval(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = $1::regclass AND attname = 'embedding'",
        f"{pgvector_schema}.spine_memory",
    )
    assert column == "vector(256)"


async def test_search_in_a_session_is_exact(memory: PgVectorMemory) -> None:
    # With half the table in the session, the planner would scan the HNSW index and filter
    # its candidates: all near the query, all from the other session, so the session's
    # records would be missed. The per-session search ranks every record of the session.
    records = [_record(f"m{i}", f"invoice {i} paid by card", "mine") for i in range(200)]
    records += [_record(f"n{i}", f"weather report {i} notes", "noise") for i in range(200)]
    await memory.add(records)
    pool = await memory._pool()
    await pool.execute(f"ANALYZE {memory._t}")
    query = await memory.embedder.embed("weather report notes")
    exact = sorted(
        [cosine(query, await memory.embedder.embed(r.content)) for r in records[:200]],
        reverse=True,
    )[:10]
    hits = await memory.search("weather report notes", k=10, session_id="mine")
    assert {h.record.session_id for h in hits} == {"mine"}
    assert [h.score for h in hits] == pytest.approx(exact, abs=1e-5)
    assert len(hits) == 10
    everywhere = await memory.search("invoice 1 paid by card", k=3)
    assert everywhere[0].record.id == "m1" and everywhere[0].score == pytest.approx(1.0)


async def test_vectors_of_another_length_are_rejected(
    pgvector_dsn: str, pgvector_schema: str
) -> None:
    async with PgVectorMemory(
        pgvector_dsn, embedder=HashEmbedder(8), dim=16, schema=pgvector_schema
    ) as memory:
        with pytest.raises(ValueError, match=r"returned 8 floats.*pass dim=8"):
            await memory.save("x")
        with pytest.raises(ValueError, match="pass dim=8"):
            await memory.search("x")


async def test_large_dim_skips_the_hnsw_index_and_still_searches(
    pgvector_dsn: str, pgvector_schema: str
) -> None:
    async with PgVectorMemory(
        pgvector_dsn, dim=3072, schema=pgvector_schema, table="big"
    ) as memory:
        saved = await memory.save("a large vector", session_id="s")
        [hit] = await memory.search("large vector")
        assert hit.record.id == saved.id and hit.score > 0.5
        pool = await memory._pool()
        names = await pool.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1", pgvector_schema
        )
    assert "big_embedding" not in {r["indexname"] for r in names}


async def test_nul_characters_are_rejected_before_the_server(memory: PgVectorMemory) -> None:
    with pytest.raises(ValueError, match="U\\+0000"):
        await memory.save("a\x00b")
    with pytest.raises(ValueError, match="U\\+0000"):
        await memory.save("ok", metadata={"k": ["x\x00"]})
    assert await memory.search("ok") == []


async def test_all_zero_vectors_score_zero_not_nan(memory: PgVectorMemory) -> None:
    await memory.save("words here", session_id="s")
    hits = await memory.search("!!!", session_id="s")  # no words: an all-zero query vector
    assert [h.score for h in hits] == [0.0]


@pytest.mark.parametrize("name", ["x; DROP TABLE y", "1abc", "", "a.b", "a" * 64])
def test_invalid_table_or_schema_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        PgVectorMemory("postgresql://x", table=name)
    with pytest.raises(ValueError, match="invalid schema name"):
        PgVectorMemory("postgresql://x", schema=name or "-")


def test_table_name_leaves_room_for_its_index_names() -> None:
    PgVectorMemory("postgresql://x", table="a" * 53)
    with pytest.raises(ValueError, match="invalid table name"):
        PgVectorMemory("postgresql://x", table="a" * 54)  # "{table}_embedding" is too long


def test_needs_a_dsn_or_a_pool_and_a_positive_dim() -> None:
    with pytest.raises(ValueError, match="dsn or an asyncpg pool"):
        PgVectorMemory()
    with pytest.raises(ValueError, match="dim"):
        PgVectorMemory("postgresql://x", dim=0)
    memory = PgVectorMemory("postgresql://x", dim=64)
    assert isinstance(memory.embedder, HashEmbedder) and memory.embedder.dim == 64
    assert (memory.dsn, memory.table, memory.dim) == ("postgresql://x", "spine_memory", 64)


def _record(id: str, content: str, session_id: str) -> MemoryRecord:
    return MemoryRecord(id=id, content=content, session_id=session_id)
