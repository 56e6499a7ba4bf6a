"""Vector and buffer memory, the embedders, and the plugin entry points."""

import json
import uuid
from collections.abc import AsyncIterator, Callable

import httpx2
import openai
import pytest

from spine_backends import (
    BufferMemory,
    HashEmbedder,
    InMemoryVectorMemory,
    OpenAIEmbedder,
    PgVectorMemory,
    PostgresCheckpoint,
    RedisCheckpoint,
    SQLiteCheckpoint,
)
from spine_core import Embedder, Memory, MemoryRecord
from spine_core.registry import CHECKPOINTS, EMBEDDERS, MEMORY, lookup

pytestmark = pytest.mark.anyio

FACTS = [
    MemoryRecord(id="1", text="The user's favourite colour is green", metadata={"src": "chat"}),
    MemoryRecord(id="2", text="The user lives in Lisbon, Portugal"),
    MemoryRecord(id="3", text="Invoices are due on the first Monday of each month"),
    MemoryRecord(id="4", text="The user lives in Oslo", namespace="other-user"),
]


async def test_hash_embedder_is_deterministic_unit_length_and_sized() -> None:
    embedder = HashEmbedder(dimensions=64)
    [a, b, empty] = await embedder.embed(["Hello world", "Hello world", "  "])
    assert a == b and len(a) == 64
    assert sum(x * x for x in a) == pytest.approx(1.0)
    assert empty == [0.0] * 64
    assert isinstance(embedder, Embedder)


def test_hash_embedder_rejects_tiny_dimensions() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        HashEmbedder(dimensions=4)


@pytest.fixture
async def pgvector_memory(pgvector_dsn: str, pgvector_schema: str) -> AsyncIterator[PgVectorMemory]:
    async with PgVectorMemory(pgvector_dsn, schema=pgvector_schema) as memory:
        yield memory


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


async def test_vector_memory_finds_the_closest_record_in_its_namespace(
    vector_memory: Memory,
) -> None:
    await vector_memory.add(FACTS)
    hits = await vector_memory.search("where does the user live?", k=2)
    assert hits[0].record.id == "2"
    assert all(h.record.namespace == "default" for h in hits)
    assert hits[0].score > hits[1].score and -1 <= hits[1].score <= 1
    other = await vector_memory.search("where does the user live?", namespace="other-user")
    assert [h.record.id for h in other] == ["4"]


async def test_vector_memory_replaces_by_id_and_deletes(vector_memory: Memory) -> None:
    await vector_memory.add(FACTS)
    await vector_memory.add([MemoryRecord(id="1", text="favourite colour is now purple")])
    [top] = await vector_memory.search("favourite colour", k=1)
    assert top.record.text == "favourite colour is now purple"
    assert await vector_memory.delete(["1", "2", "missing"]) == 2
    remaining = {h.record.id for h in await vector_memory.search("user", k=10)}
    assert remaining == {"3"}


async def test_vector_memory_keeps_metadata(vector_memory: Memory) -> None:
    await vector_memory.add(FACTS)
    [top] = await vector_memory.search("favourite colour green", k=1)
    assert top.record.metadata == {"src": "chat"}


async def test_pgvector_creates_an_hnsw_cosine_index(pgvector_memory: PgVectorMemory) -> None:
    await pgvector_memory.add(FACTS[:1])
    pool = await pgvector_memory._pool()
    indexdef = await pool.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'spine_memory_embedding'"
    )
    assert "hnsw" in indexdef and "vector_cosine_ops" in indexdef


async def test_buffer_memory_keeps_only_the_latest_records() -> None:
    memory = BufferMemory(max_records=2)
    await memory.add(FACTS[:3])
    hits = await memory.search("anything at all", k=5)
    assert [h.record.id for h in hits] == ["3", "2"]  # newest first, "1" dropped


async def test_buffer_memory_ranks_by_word_overlap() -> None:
    memory = BufferMemory()
    await memory.add(FACTS)
    hits = await memory.search("favourite colour", k=2)
    assert hits[0].record.id == "1" and hits[0].score == 1.0
    assert hits[1].score == 0.0
    assert await memory.delete(["1", "4"]) == 2
    assert [h.record.id for h in await memory.search("user", namespace="other-user")] == []


def _embeddings_api(seen: list[dict[str, object]]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 0.5, -1.0]}
            for i, text in enumerate(body["input"])
        ]
        data.reverse()  # the API does not promise order; the index field does
        return httpx2.Response(
            200,
            json={
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            },
        )

    return handle


async def test_openai_embedder_batches_and_orders_by_index() -> None:
    seen: list[dict[str, object]] = []
    client = openai.AsyncOpenAI(
        api_key="sk-test",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_embeddings_api(seen))),
    )
    embedder = OpenAIEmbedder(dimensions=3, client=client, batch_size=2)
    vectors = await embedder.embed(["a", "bb", "ccc"])
    assert vectors == [[1.0, 0.5, -1.0], [2.0, 0.5, -1.0], [3.0, 0.5, -1.0]]
    assert [b["input"] for b in seen] == [["a", "bb"], ["ccc"]]
    assert seen[0]["dimensions"] == 3 and seen[0]["model"] == "text-embedding-3-small"
    assert seen[0]["encoding_format"] == "float"


async def test_openai_embedder_rejects_wrong_dimensions() -> None:
    client = openai.AsyncOpenAI(
        api_key="sk-test",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_embeddings_api([]))),
    )
    with pytest.raises(ValueError, match="returned 3 dimensions"):
        await OpenAIEmbedder(dimensions=8, client=client).embed(["x"])


def test_openai_embedder_needs_no_key_until_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = OpenAIEmbedder()
    assert embedder.dimensions == 1536 and embedder._client is None


@pytest.mark.parametrize(
    ("group", "name", "target"),
    [
        (CHECKPOINTS, "sqlite", SQLiteCheckpoint),
        (CHECKPOINTS, "redis", RedisCheckpoint),
        (CHECKPOINTS, "postgres", PostgresCheckpoint),
        (MEMORY, "in_memory", InMemoryVectorMemory),
        (MEMORY, "buffer", BufferMemory),
        (MEMORY, "pgvector", PgVectorMemory),
        (EMBEDDERS, "hash", HashEmbedder),
        (EMBEDDERS, "openai", OpenAIEmbedder),
    ],
)
def test_entry_points_resolve_to_the_classes(group: str, name: str, target: type) -> None:
    assert lookup(group, name) is target
