"""Long-term memory contracts: `Memory` saves and recalls text records across sessions,
`Embedder` turns text into a vector."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Embedder", "Memory", "MemoryHit", "MemoryRecord"]


class MemoryRecord(BaseModel):
    """A remembered piece of text.

    Attributes:
        id: Unique id.
        content: The text.
        session_id: The session it came from (None for records shared by all sessions).
        metadata: JSON-ready extra data (e.g. a tenant or user id).
    """

    model_config = ConfigDict(defer_build=True)

    id: str
    content: str
    session_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryHit(BaseModel):
    """A search result; `score` is a similarity, higher is closer (cosine: in [-1, 1])."""

    model_config = ConfigDict(defer_build=True)

    record: MemoryRecord
    score: float


@runtime_checkable
class Memory(Protocol):
    """Persist and recall snippets across sessions."""

    async def save(
        self, content: str, *, session_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> MemoryRecord:
        """Store `content` and return its record."""
        ...

    async def search(
        self, query: str, *, k: int = 5, session_id: str | None = None
    ) -> list[MemoryHit]:
        """The `k` records closest to `query`, best first (only `session_id`'s when given)."""
        ...

    async def load(self, session_id: str, *, limit: int = 20) -> list[MemoryRecord]:
        """The session's most recent `limit` records, oldest first."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns text into a vector. Async so API-backed embedders fit too."""

    async def embed(self, text: str) -> list[float]:
        """One vector (a list of floats) for `text`."""
        ...
