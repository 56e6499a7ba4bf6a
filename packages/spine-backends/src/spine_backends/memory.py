"""Process-local `Memory` stores: `InMemoryVectorMemory` (embedding search) and
`BufferMemory` (a bounded window of recent records)."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

from spine_core import Embedder, MemoryHit, MemoryRecord

from .embedders import HashEmbedder, cosine

__all__ = ["BufferMemory", "InMemoryVectorMemory"]

_WORD = re.compile(r"\w+", re.UNICODE)


class InMemoryVectorMemory:
    """A `Memory` that embeds records and ranks them by cosine similarity to the query
    (exact search over every record of the namespace; fine up to tens of thousands).

    Args:
        embedder: Turns text into vectors (default: `HashEmbedder()`, offline).
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder: Embedder = embedder or HashEmbedder()
        self._records: dict[str, tuple[MemoryRecord, list[float]]] = {}

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Insert or replace records by id (embedded in one `embed` call)."""
        if not records:
            return
        vectors = await self.embedder.embed([r.text for r in records])
        for record, vector in zip(records, vectors, strict=True):
            self._records[record.id] = (record.model_copy(deep=True), vector)

    async def search(
        self, query: str, *, k: int = 5, namespace: str = "default"
    ) -> list[MemoryHit]:
        """The `k` records of `namespace` closest to `query`, best first; `score` is the
        cosine similarity in [-1, 1]."""
        if k <= 0:
            return []
        [target] = await self.embedder.embed([query])
        hits = [
            MemoryHit(record=record.model_copy(deep=True), score=cosine(target, vector))
            for record, vector in self._records.values()
            if record.namespace == namespace
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    async def delete(self, ids: Sequence[str]) -> int:
        """Remove records by id; returns how many existed."""
        return sum(self._records.pop(i, None) is not None for i in set(ids))


class BufferMemory:
    """A `Memory` that keeps only the most recent `max_records` records of each namespace
    (a conversation buffer). `search` ranks them by word overlap with the query (score: the
    fraction of the query's distinct words found in the record, in [0, 1]), most recent first
    among equal scores; with no words in common it still returns the most recent records.

    Args:
        max_records: Records kept per namespace; the oldest are dropped first.

    Raises:
        ValueError: `max_records` below 1.
    """

    def __init__(self, max_records: int = 100) -> None:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, not {max_records}")
        self.max_records = max_records
        self._spaces: dict[str, OrderedDict[str, MemoryRecord]] = {}

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Append records (a replaced id moves to the most recent position)."""
        for record in records:
            for space in self._spaces.values():
                space.pop(record.id, None)
            space = self._spaces.setdefault(record.namespace, OrderedDict())
            space[record.id] = record.model_copy(deep=True)
            while len(space) > self.max_records:
                space.popitem(last=False)

    async def search(
        self, query: str, *, k: int = 5, namespace: str = "default"
    ) -> list[MemoryHit]:
        """Up to `k` records of `namespace`, best word overlap first, newest first among
        ties."""
        space = self._spaces.get(namespace)
        if not space or k <= 0:
            return []
        wanted = set(_WORD.findall(query.lower()))
        newest_first = list(reversed(space.values()))
        scored = [
            (len(wanted & set(_WORD.findall(r.text.lower()))) / len(wanted) if wanted else 0.0, r)
            for r in newest_first
        ]
        ranked = sorted(scored, key=lambda pair: pair[0], reverse=True)  # stable: keeps recency
        return [MemoryHit(record=r.model_copy(deep=True), score=s) for s, r in ranked[:k]]

    async def delete(self, ids: Sequence[str]) -> int:
        """Remove records by id; returns how many existed."""
        removed = 0
        for i in set(ids):
            for space in self._spaces.values():
                if space.pop(i, None) is not None:
                    removed += 1
                    break
        return removed
