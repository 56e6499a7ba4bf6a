"""`PgVectorMemory`: a `Memory` in PostgreSQL with the pgvector extension (HNSW, cosine)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spine_core import Embedder, MemoryHit, MemoryRecord

from ._codec import validate_identifier
from ._postgres import PoolOwner, qualified
from .embedders import HashEmbedder

__all__ = ["PgVectorMemory"]

_DDL = """
CREATE EXTENSION IF NOT EXISTS vector;
{schema_ddl}
CREATE TABLE IF NOT EXISTS {t} (
    id text PRIMARY KEY,
    namespace text NOT NULL,
    text text NOT NULL,
    metadata jsonb NOT NULL,
    embedding vector({d}) NOT NULL
);
CREATE INDEX IF NOT EXISTS {name}_namespace ON {t} (namespace);
CREATE INDEX IF NOT EXISTS {name}_embedding ON {t} USING hnsw (embedding vector_cosine_ops);
"""


class PgVectorMemory:
    """A `Memory` in a PostgreSQL table with a pgvector column and an HNSW index on cosine
    distance (`vector_cosine_ops`); `search` orders by `embedding <=> query` and reports
    `score = 1 - cosine distance`, a cosine similarity in [-1, 1].

    HNSW is approximate: `ef_search` (pgvector's `hnsw.ef_search`, set per query) trades
    recall for speed, and because the namespace filter applies to the index's candidates, a
    search in a small namespace of a large table can return fewer than `k` records (pgvector
    docs, "Filtering"). PostgreSQL text cannot hold U+0000; such records are rejected by the
    server.

    Args:
        dsn: PostgreSQL URL for the pool this store creates on first use.
        pool: An existing `asyncpg.Pool` instead (not closed by `aclose`).
        embedder: Turns text into vectors (default `HashEmbedder()`); its `dimensions` fix
            the column type.
        table: Table name; an SQL identifier.
        schema: Optional schema (created when missing); an SQL identifier.
        ef_search: HNSW candidate list size per query (pgvector default 40).

    Raises:
        ValueError: invalid `table` / `schema`, or neither `dsn` nor `pool`.
        ImportError: asyncpg is missing (`pip install "spine-backends[pgvector]"`).
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: Any = None,
        embedder: Embedder | None = None,
        table: str = "spine_memory",
        schema: str | None = None,
        ef_search: int = 100,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        name = validate_identifier(table)
        if schema is not None:
            validate_identifier(schema, what="schema name")
        self.embedder: Embedder = embedder or HashEmbedder()
        self._t = qualified(schema, name)
        self._ef_search = int(ef_search)
        self._ddl = _DDL.format(
            schema_ddl=f"CREATE SCHEMA IF NOT EXISTS {schema};" if schema else "",
            t=self._t,
            name=name,
            d=int(self.embedder.dimensions),
        )
        self._owner = PoolOwner(dsn, pool, min_size=min_size, max_size=max_size)

    async def _pool(self) -> Any:
        return await self._owner.pool(self._ddl, f"spine:{self._t}")

    async def __aenter__(self) -> PgVectorMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool this store created."""
        await self._owner.aclose()

    async def add(self, records: Sequence[MemoryRecord]) -> None:
        """Insert or replace records by id (embedded in one `embed` call, written in one
        transaction)."""
        if not records:
            return
        vectors = await self.embedder.embed([r.text for r in records])
        pool = await self._pool()
        await pool.executemany(
            f"INSERT INTO {self._t} (id, namespace, text, metadata, embedding)"
            " VALUES ($1, $2, $3, $4::text::jsonb, $5::text::vector)"
            " ON CONFLICT (id) DO UPDATE SET namespace = excluded.namespace,"
            " text = excluded.text, metadata = excluded.metadata,"
            " embedding = excluded.embedding",
            [
                (r.id, r.namespace, r.text, json.dumps(r.metadata), _vector(v))
                for r, v in zip(records, vectors, strict=True)
            ],
        )

    async def search(
        self, query: str, *, k: int = 5, namespace: str = "default"
    ) -> list[MemoryHit]:
        """Up to `k` records of `namespace` nearest to `query` by cosine distance, best
        first."""
        if k <= 0:
            return []
        [target] = await self.embedder.embed([query])
        pool = await self._pool()
        async with pool.acquire() as con, con.transaction():
            await con.execute(
                "SELECT set_config('hnsw.ef_search', $1, true)", str(max(self._ef_search, k))
            )
            rows = await con.fetch(
                f"SELECT id, namespace, text, metadata::text AS metadata,"
                f" 1 - (embedding <=> $1::text::vector) AS score FROM {self._t}"
                " WHERE namespace = $2 ORDER BY embedding <=> $1::text::vector LIMIT $3",
                _vector(target),
                namespace,
                k,
            )
        return [
            MemoryHit(
                record=MemoryRecord(
                    id=r["id"],
                    text=r["text"],
                    namespace=r["namespace"],
                    metadata=json.loads(r["metadata"]),
                ),
                score=float(r["score"]),
            )
            for r in rows
        ]

    async def delete(self, ids: Sequence[str]) -> int:
        """Remove records by id; returns how many existed."""
        pool = await self._pool()
        deleted = await pool.fetchval(
            f"WITH d AS (DELETE FROM {self._t} WHERE id = ANY($1::text[]) RETURNING 1)"
            " SELECT count(*) FROM d",
            list(set(ids)),
        )
        return int(deleted)


def _vector(values: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in values) + "]"
