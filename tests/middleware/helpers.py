"""Test helpers for the middleware tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spine_core import MemoryHit, MemoryRecord


class FakeClock:
    """Seconds that only move when someone sleeps (or the test calls `advance`)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class WordMemory:
    """A small real `Memory` (the `spine_core.Memory` protocol): records scored by the share
    of query words they contain."""

    def __init__(self) -> None:
        self.records: dict[str, MemoryRecord] = {}

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        record = MemoryRecord(
            id=f"m{len(self.records) + 1}",
            content=content,
            session_id=session_id,
            metadata=dict(metadata or {}),
        )
        self.records[record.id] = record
        return record

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        words = set(query.lower().split())
        hits = []
        for record in self.records.values():
            if (session_id is not None and record.session_id != session_id) or not words:
                continue
            score = len(words & set(record.content.lower().split())) / len(words)
            if score > 0:
                hits.append(MemoryHit(record=record, score=score))
        return sorted(hits, key=lambda h: -h.score)[:k]

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        mine = [r for r in self.records.values() if r.session_id == session_id]
        return mine[-limit:] if limit > 0 else []

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Store ready-made records (test set-up)."""
        for record in records:
            self.records[record.id] = record

    async def delete(self, ids: Sequence[str]) -> int:
        return sum(self.records.pop(i, None) is not None for i in ids)
