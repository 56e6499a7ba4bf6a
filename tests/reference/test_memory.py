"""The `Memory` and `Embedder` protocols, with implementations written exactly to them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from spine_core import Embedder, Memory, MemoryHit, MemoryRecord

from .refkit import EMPTY, KW, POS, documented

pytestmark = pytest.mark.anyio


class CharEmbedder:
    """The reference Embedder: one text in, one vector out."""

    async def embed(self, text: str) -> list[float]:
        counts = [0.0] * 26
        for ch in text.lower():
            if "a" <= ch <= "z":
                counts[ord(ch) - 97] += 1
        norm = math.sqrt(sum(c * c for c in counts)) or 1.0
        return [c / norm for c in counts]


class ListMemory:
    """The reference Memory protocol over a list."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.records: list[tuple[MemoryRecord, list[float]]] = []

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        record = MemoryRecord(
            id=str(len(self.records)),
            content=content,
            session_id=session_id,
            metadata=metadata or {},
        )
        self.records.append((record, await self.embedder.embed(content)))
        return record

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        q = await self.embedder.embed(query)
        hits = [
            MemoryHit(record=r, score=sum(a * b for a, b in zip(q, v, strict=True)))
            for r, v in self.records
            if session_id is None or r.session_id == session_id
        ]
        return sorted(hits, key=lambda h: h.score, reverse=True)[:k]

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        return [r for r, _ in self.records if r.session_id == session_id][-limit:]


def test_memory_protocol_signatures() -> None:
    assert documented(
        Memory.save,
        ("content", POS, EMPTY),
        ("session_id", KW, None),
        ("metadata", KW, None),
    )
    assert documented(
        Memory.search,
        ("query", POS, EMPTY),
        ("k", KW, 5),
        ("session_id", KW, None),
    )
    assert documented(Memory.load, ("session_id", POS, EMPTY), ("limit", KW, 20))


def test_embedder_protocol_signature() -> None:
    assert documented(Embedder.embed, ("text", POS, EMPTY))


def test_runtime_isinstance() -> None:
    embedder = CharEmbedder()
    assert isinstance(embedder, Embedder)
    assert isinstance(ListMemory(embedder), Memory)
    assert not isinstance(object(), Memory)
    assert not isinstance(object(), Embedder)


async def test_embed_one_text_returns_one_vector() -> None:
    embedder: Embedder = CharEmbedder()

    vector = await embedder.embed("text")

    assert isinstance(vector, list)
    assert len(vector) == 26
    assert all(isinstance(x, float) for x in vector)


def test_memory_record_and_hit() -> None:
    record = MemoryRecord(id="1", content="likes tea")
    assert (record.session_id, record.metadata) == (None, {})
    hit = MemoryHit(record=record, score=0.5)
    assert (hit.record, hit.score) == (record, 0.5)


async def test_memory_save_search_load() -> None:
    memory: Memory = ListMemory(CharEmbedder())

    saved = await memory.save("likes green tea", session_id="s1", metadata={"user": "ada"})
    await memory.save("zzz", session_id="s1")
    await memory.save("likes green tea too", session_id="s2")

    assert saved.content == "likes green tea" and saved.metadata == {"user": "ada"}
    hits = await memory.search("green tea", k=1, session_id="s1")
    assert [h.record.content for h in hits] == ["likes green tea"]
    assert [r.content for r in await memory.load("s1")] == ["likes green tea", "zzz"]
    assert [r.content for r in await memory.load("s1", limit=1)] == ["zzz"]
