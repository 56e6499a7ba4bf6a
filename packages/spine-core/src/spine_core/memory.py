"""Long-term memory contracts: `Memory` stores and searches text records, `Embedder` turns
text into vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Embedder", "Memory", "MemoryHit", "MemoryRecord"]


class MemoryRecord(BaseModel):
    """A remembered piece of text in a `namespace` (e.g. a user or tenant id)."""

    model_config = ConfigDict(defer_build=True)

    id: str
    text: str
    namespace: str = "default"
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryHit(BaseModel):
    """A search result; `score` is a similarity in [-1, 1] (cosine) or [0, 1], higher is
    closer."""

    model_config = ConfigDict(defer_build=True)

    record: MemoryRecord
    score: float


@runtime_checkable
class Memory(Protocol):
    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Insert or replace records by id."""
        ...

    async def search(
        self, query: str, *, k: int = 5, namespace: str = "default"
    ) -> list[MemoryHit]:
        """The `k` records closest to `query` in `namespace`, best first."""
        ...

    async def delete(self, ids: Sequence[str]) -> int:
        """Remove records; returns how many existed."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-length vectors of `dimensions` floats."""

    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
