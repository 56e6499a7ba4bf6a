"""spine_backends' memories and embedders called exactly as the Spine API reference shows:
InMemoryVectorMemory, BufferMemory, PgVectorMemory (save / search / load, `dim`), HashEmbedder
and OpenAIEmbedder (`embed(text) -> vector`)."""

from __future__ import annotations

import math
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

import spine_backends
from spine_backends import (
    BufferMemory,
    HashEmbedder,
    InMemoryVectorMemory,
    OpenAIEmbedder,
    PgVectorMemory,
)
from spine_core import Embedder, Memory, MemoryHit, MemoryRecord

from .refkit import KW, POS, documented
from .servicekit import pgvector_dsn

__all__ = ["pgvector_dsn"]  # fixture

pytestmark = pytest.mark.anyio

DOCUMENTED = [
    "SQLiteCheckpoint",
    "RedisCheckpoint",
    "PostgresCheckpoint",
    "InMemoryVectorMemory",
    "BufferMemory",
    "PgVectorMemory",
    "HashEmbedder",
    "OpenAIEmbedder",
]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_documented_backend_is_exported(name: str) -> None:
    assert name in spine_backends.__all__


async def exercise(memory: Any) -> None:
    """The reference's Memory calls and what they return."""
    assert isinstance(memory, Memory)
    first = await memory.save("the user lives in Lisbon", session_id="s1", metadata={"src": "a"})
    assert isinstance(first, MemoryRecord) and first.content == "the user lives in Lisbon"
    assert first.session_id == "s1" and first.metadata == {"src": "a"}
    await memory.save("the user likes jazz", session_id="s1")
    await memory.save("shared fact about Lisbon trams")
    hits = await memory.search("Lisbon", k=2)
    assert len(hits) == 2 and all(isinstance(h, MemoryHit) for h in hits)
    assert hits[0].score >= hits[1].score
    mine = await memory.search("Lisbon", session_id="s1")
    assert {h.record.session_id for h in mine} == {"s1"}
    assert [r.content for r in await memory.load("s1")] == [
        "the user lives in Lisbon",
        "the user likes jazz",
    ]
    assert [r.content for r in await memory.load("s1", limit=1)] == ["the user likes jazz"]


# -- InMemoryVectorMemory --------------------------------------------------------------------


def test_in_memory_vector_memory_signature() -> None:
    assert documented(InMemoryVectorMemory, ("embedder", KW, None), ("dim", KW, 256))
    memory = InMemoryVectorMemory(dim=64)
    assert memory.dim == 64 and isinstance(memory.embedder, HashEmbedder)
    assert memory.embedder.dim == 64  # type: ignore[attr-defined]


async def test_in_memory_vector_memory_protocol() -> None:
    memory = InMemoryVectorMemory()
    await exercise(memory)
    [best] = await memory.search("where does the user live? Lisbon", k=1, session_id="s1")
    assert best.record.content == "the user lives in Lisbon"


# -- BufferMemory ----------------------------------------------------------------------------


async def test_buffer_memory_search_returns_the_most_recent_newest_first() -> None:
    """The documented behaviour: `search` ignores the query; the k most recent records, each
    with score 1.0, newest first."""
    documented(BufferMemory)
    memory = BufferMemory()
    await exercise(memory)
    hits = await memory.search("completely unrelated words", k=2)
    assert [h.record.content for h in hits] == [
        "shared fact about Lisbon trams",
        "the user likes jazz",
    ]
    assert [h.score for h in hits] == [1.0, 1.0]


# -- PgVectorMemory --------------------------------------------------------------------------


def test_pgvector_memory_signature() -> None:
    assert documented(
        PgVectorMemory,
        ("dsn", POS, None),
        ("embedder", KW, None),
        ("dim", KW, 256),
        ("table", KW, "spine_memory"),
        ("pool", KW, None),
    )


async def test_pgvector_memory_protocol(pgvector_dsn: str) -> None:
    memory = PgVectorMemory(pgvector_dsn, dim=64, table=f"ref_{uuid.uuid4().hex[:10]}")
    assert memory.dim == 64
    await exercise(memory)
    await memory.aclose()


# -- Embedders -------------------------------------------------------------------------------


async def test_hash_embedder_one_text_one_unit_vector() -> None:
    assert documented(HashEmbedder, ("dim", POS, 256))
    embedder = HashEmbedder(32)
    assert isinstance(embedder, Embedder)
    vector = await embedder.embed("hello world")
    assert len(vector) == 32 and math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)
    assert vector == await embedder.embed("hello world")  # deterministic
    assert await HashEmbedder(8).embed("") == [0.0] * 8


async def test_openai_embedder_calls_the_embeddings_api_with_one_text() -> None:
    assert documented(
        OpenAIEmbedder,
        ("model", POS, "text-embedding-3-small"),
        ("client", KW, None),
        ("api_key", KW, None),
    )
    sent: list[dict[str, Any]] = []

    class Embeddings:
        async def create(self, **kwargs: Any) -> Any:
            sent.append(kwargs)
            texts = kwargs["input"] if isinstance(kwargs["input"], list) else [kwargs["input"]]
            return SimpleNamespace(
                data=[SimpleNamespace(index=i, embedding=[0.5, 0.5]) for i in range(len(texts))]
            )

    embedder = OpenAIEmbedder(client=SimpleNamespace(embeddings=Embeddings()))
    assert await embedder.embed("hi") == [0.5, 0.5]
    assert sent[0]["model"] == "text-embedding-3-small"
    assert sent[0]["input"] in ("hi", ["hi"])
    OpenAIEmbedder("text-embedding-3-large", api_key="sk-test")  # no key check, no network
