"""Test helpers for the middleware tests."""

from __future__ import annotations

from collections.abc import Sequence

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
    """A small real `Memory`: records scored by the share of query words they contain."""

    def __init__(self) -> None:
        self.records: dict[str, MemoryRecord] = {}

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        for record in records:
            self.records[record.id] = record

    async def search(
        self, query: str, *, k: int = 5, namespace: str = "default"
    ) -> list[MemoryHit]:
        words = set(query.lower().split())
        hits = []
        for record in self.records.values():
            if record.namespace != namespace or not words:
                continue
            score = len(words & set(record.text.lower().split())) / len(words)
            if score > 0:
                hits.append(MemoryHit(record=record, score=score))
        return sorted(hits, key=lambda h: -h.score)[:k]

    async def delete(self, ids: Sequence[str]) -> int:
        return sum(self.records.pop(i, None) is not None for i in ids)
