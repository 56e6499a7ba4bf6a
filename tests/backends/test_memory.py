"""The vector memories (in-memory and pgvector, through one set of tests) and the buffer
memory, against the core `Memory` protocol."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from spine_backends import BufferMemory, InMemoryVectorMemory, PgVectorMemory
from spine_core import Memory, MemoryRecord

pytestmark = pytest.mark.anyio

FACTS = [
    ("The user's favourite colour is green", "u1", {"src": "chat"}),
    ("The user lives in Lisbon, Portugal", "u1", None),
    ("Invoices are due on the first Monday of each month", None, None),
    ("The user lives in Oslo", "u2", None),
]


async def _save_facts(memory: Memory) -> list[MemoryRecord]:
    return [await memory.save(c, session_id=s, metadata=m) for c, s, m in FACTS]


@pytest.fixture(params=["in_memory", "pgvector"])
async def vector_memory(request: pytest.FixtureRequest) -> AsyncIterator[Memory]:
    if request.param == "in_memory":
        yield InMemoryVectorMemory()
        return
    dsn = request.getfixturevalue("pgvector_dsn")
    table = f"mem_{uuid.uuid4().hex[:12]}"
    async with PgVectorMemory(dsn, table=table) as memory:
        yield memory
        pool = await memory._pool()
        await pool.execute(f"DROP TABLE {table}")


async def test_save_returns_the_stored_record(vector_memory: Memory) -> None:
    assert isinstance(vector_memory, Memory)
    record = await vector_memory.save("note", session_id="s", metadata={"n": 1})
    assert len(record.id) == 32 and int(record.id, 16) >= 0
    assert (record.content, record.session_id, record.metadata) == ("note", "s", {"n": 1})
    other = await vector_memory.save("shared")
    assert other.id != record.id and other.session_id is None and other.metadata == {}


async def test_search_ranks_by_similarity_across_all_sessions(vector_memory: Memory) -> None:
    saved = await _save_facts(vector_memory)
    hits = await vector_memory.search("where does the user live?", k=3)
    assert len(hits) == 3
    assert {hits[0].record.id, hits[1].record.id} == {saved[1].id, saved[3].id}
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert all(-1 <= h.score <= 1 for h in hits)
    assert hits[0].record.content.startswith("The user lives in")


async def test_search_in_one_session_sees_only_its_records(vector_memory: Memory) -> None:
    saved = await _save_facts(vector_memory)
    hits = await vector_memory.search("where does the user live?", session_id="u2", k=5)
    assert [h.record.id for h in hits] == [saved[3].id]
    mine = await vector_memory.search("favourite colour", session_id="u1", k=5)
    assert [h.record.id for h in mine] == [saved[0].id, saved[1].id]
    assert mine[0].record.metadata == {"src": "chat"}
    assert await vector_memory.search("anything", session_id="nobody") == []
    assert await vector_memory.search("anything", k=0) == []


async def test_load_returns_the_latest_records_oldest_first(vector_memory: Memory) -> None:
    saved = [await vector_memory.save(f"note {i}", session_id="s") for i in range(5)]
    await vector_memory.save("elsewhere", session_id="t")
    await vector_memory.save("shared")
    assert [r.id for r in await vector_memory.load("s")] == [r.id for r in saved]
    assert [r.content for r in await vector_memory.load("s", limit=2)] == ["note 3", "note 4"]
    assert await vector_memory.load("s", limit=0) == []
    assert await vector_memory.load("missing") == []


async def test_returned_records_are_copies(vector_memory: Memory) -> None:
    record = await vector_memory.save("keep me", session_id="s", metadata={"tags": ["a"]})
    record.metadata["tags"].append("changed")
    [loaded] = await vector_memory.load("s")
    loaded.metadata["tags"].append("again")
    [hit] = await vector_memory.search("keep me", session_id="s")
    assert hit.record.metadata == {"tags": ["a"]}


async def test_add_replaces_by_id_and_delete_removes(vector_memory: Memory) -> None:
    assert isinstance(vector_memory, InMemoryVectorMemory | PgVectorMemory)
    saved = await _save_facts(vector_memory)
    await vector_memory.add(
        [MemoryRecord(id=saved[0].id, content="favourite colour is now purple", session_id="u1")]
    )
    [top] = await vector_memory.search("favourite colour", k=1)
    assert top.record.id == saved[0].id
    assert top.record.content == "favourite colour is now purple" and top.record.metadata == {}
    # a replaced record is the session's most recent
    assert [r.id for r in await vector_memory.load("u1")] == [saved[1].id, saved[0].id]
    assert await vector_memory.delete([saved[0].id, saved[1].id, "missing"]) == 2
    remaining = {h.record.id for h in await vector_memory.search("user", k=10)}
    assert remaining == {saved[2].id, saved[3].id}


async def test_buffer_memory_recalls_by_recency_not_similarity() -> None:
    memory = BufferMemory()
    assert isinstance(memory, Memory)
    saved = await _save_facts(memory)
    hits = await memory.search("favourite colour", k=2)
    assert [h.record.id for h in hits] == [saved[3].id, saved[2].id]  # newest first
    assert {h.score for h in hits} == {1.0}
    in_u1 = await memory.search("Oslo", session_id="u1")
    assert [h.record.id for h in in_u1] == [saved[1].id, saved[0].id]
    assert [r.id for r in await memory.load("u1", limit=1)] == [saved[1].id]
    assert await memory.search("x", k=0) == []


async def test_buffer_memory_keeps_at_most_max_records_per_session() -> None:
    memory = BufferMemory(max_records=2)
    for i in range(4):
        await memory.save(f"a{i}", session_id="a")
    shared = await memory.save("shared")
    await memory.save("b0", session_id="b")
    assert [r.content for r in await memory.load("a")] == ["a2", "a3"]
    assert [h.record.content for h in await memory.search("", k=10)] == ["b0", "shared", "a3", "a2"]
    assert await memory.delete([shared.id, "missing"]) == 1
    await memory.add([MemoryRecord(id="x", content="a4", session_id="a")])
    assert [r.content for r in await memory.load("a")] == ["a3", "a4"]


def test_buffer_memory_rejects_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="max_records"):
        BufferMemory(max_records=0)
