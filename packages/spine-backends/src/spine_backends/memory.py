"""Process-local `Memory` stores: `InMemoryVectorMemory` (recall by embedding similarity) and
`BufferMemory` (recall by recency)."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from spine_core import Embedder, MemoryHit, MemoryRecord

from .embedders import HashEmbedder, cosine, embed_all

__all__ = ["BufferMemory", "InMemoryVectorMemory", "new_record"]


def new_record(
    content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
) -> MemoryRecord:
    """A `MemoryRecord` with a fresh random id (32 hex characters)."""
    return MemoryRecord(
        id=uuid.uuid4().hex, content=content, session_id=session_id, metadata=metadata or {}
    )


def _copy(record: MemoryRecord) -> MemoryRecord:
    return record.model_copy(deep=True)


class InMemoryVectorMemory:
    """A process-local `Memory` that embeds every record and recalls by cosine similarity
    to the query (exact search over the records; fine up to tens of thousands).

    Records come back as copies, so editing one does not change the memory.

    Args:
        embedder: Turns text into vectors (default: `HashEmbedder(dim)`, offline).
        dim: Vector length of the default embedder (ignored with `embedder`).
    """

    def __init__(self, *, embedder: Embedder | None = None, dim: int = 256) -> None:
        self.embedder: Embedder = embedder or HashEmbedder(dim)
        self.dim = dim
        self._records: dict[str, tuple[MemoryRecord, list[float]]] = {}  # oldest first

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        """Embed and store `content` (of `session_id`, or shared by all sessions when None)
        with its JSON-ready `metadata`; returns the new record."""
        record = new_record(content, session_id=session_id, metadata=metadata)
        self._records[record.id] = (_copy(record), await self.embedder.embed(content))
        return record

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Insert records, or replace them by id (a replaced record becomes the most recent),
        embedding all their texts in one batch when the embedder has `embed_many`."""
        vectors = await embed_all(self.embedder, [r.content for r in records])
        for record, vector in zip(records, vectors, strict=True):
            self._records.pop(record.id, None)
            self._records[record.id] = (_copy(record), vector)

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        """The `k` records closest to `query`, best first; only `session_id`'s records when
        given, every record otherwise. `score` is the cosine similarity, in [-1, 1].

        Raises:
            ValueError: the embedder returned vectors of different lengths.
        """
        if k <= 0:
            return []
        target = await self.embedder.embed(query)
        hits = [
            MemoryHit(record=_copy(record), score=cosine(target, vector))
            for record, vector in self._records.values()
            if session_id is None or record.session_id == session_id
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        """The session's `limit` most recent records, oldest first."""
        return _latest((r for r, _ in self._records.values()), session_id, limit)

    async def delete(self, ids: Sequence[str]) -> int:
        """Remove records by id; returns how many existed."""
        return sum(self._records.pop(i, None) is not None for i in set(ids))


class BufferMemory:
    """A process-local `Memory` that recalls by recency, not similarity: `search` ignores
    the query and returns the most recent records, newest first, each with score 1.0.
    Cheap and predictable when similarity is not needed (a rolling notes buffer).

    Args:
        max_records: Most records kept per session (records without a session count as one
            session); the oldest are dropped first. None keeps every record.

    Raises:
        ValueError: `max_records` below 1.
    """

    def __init__(self, *, max_records: int | None = None) -> None:
        if max_records is not None and max_records < 1:
            raise ValueError(f"max_records must be at least 1, not {max_records}")
        self.max_records = max_records
        self._records: OrderedDict[str, MemoryRecord] = OrderedDict()  # oldest first
        self._sessions: dict[str | None, OrderedDict[str, None]] = {}

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        """Store `content` (of `session_id`, or shared when None) as the most recent record;
        returns the new record."""
        record = new_record(content, session_id=session_id, metadata=metadata)
        self._insert(record)
        return record

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Insert records in order, or replace them by id (a replaced record becomes the most
        recent)."""
        for record in records:
            self._remove(record.id)
            self._insert(record)

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        """The `k` most recent records, newest first, whatever `query` says; only
        `session_id`'s records when given, every record otherwise."""
        if k <= 0:
            return []
        hits: list[MemoryHit] = []
        for record in reversed(self._records.values()):
            if session_id is None or record.session_id == session_id:
                hits.append(MemoryHit(record=_copy(record), score=1.0))
                if len(hits) == k:
                    break
        return hits

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        """The session's `limit` most recent records, oldest first."""
        return _latest(self._records.values(), session_id, limit)

    async def delete(self, ids: Sequence[str]) -> int:
        """Remove records by id; returns how many existed."""
        return sum(self._remove(i) for i in set(ids))

    def _insert(self, record: MemoryRecord) -> None:
        self._records[record.id] = _copy(record)
        order = self._sessions.setdefault(record.session_id, OrderedDict())
        order[record.id] = None
        while self.max_records is not None and len(order) > self.max_records:
            oldest, _ = order.popitem(last=False)
            del self._records[oldest]

    def _remove(self, record_id: str) -> bool:
        record = self._records.pop(record_id, None)
        if record is None:
            return False
        order = self._sessions[record.session_id]
        del order[record_id]
        if not order:
            del self._sessions[record.session_id]
        return True


def _latest(records: Iterable[MemoryRecord], session_id: str, limit: int) -> list[MemoryRecord]:
    """The last `limit` of `records` (oldest first) that belong to `session_id`, copied."""
    if limit <= 0:
        return []
    mine = [r for r in records if r.session_id == session_id]
    return [_copy(r) for r in mine[-limit:]]
