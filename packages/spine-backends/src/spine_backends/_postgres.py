"""What the PostgreSQL stores share: the lazily imported asyncpg pool and one-time DDL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from spine_core.loop import current_loop

__all__ = ["PoolOwner", "qualified"]


class PoolOwner:
    """Holds an asyncpg pool (given, or created from a DSN on first use) and runs the
    store's DDL once, under a transaction-scoped advisory lock so processes starting
    together do not race on `CREATE TABLE IF NOT EXISTS`.

    asyncpg runs on asyncio only, so these stores do too.
    """

    def __init__(self, dsn: str | None, pool: Any, *, min_size: int, max_size: int) -> None:
        if dsn is None and pool is None:
            raise ValueError("give a PostgreSQL dsn or an asyncpg pool")
        self._dsn = dsn
        self._pool = pool
        self._owns_pool = pool is None
        self._sizes = (min_size, max_size)
        self._ready = False
        self._lock: anyio.Lock | None = None
        self._loop: object | None = None

    async def pool(self, ddl: str | Callable[[Any], Awaitable[None]], lock_name: str) -> Any:
        """The ready pool; the first call creates it (if needed) and runs `ddl`: SQL, or an
        async function given the connection, inside the locked transaction.

        Raises:
            ImportError: asyncpg is missing (`pip install "spine-backends[postgres]"`).
        """
        loop = current_loop()
        if self._owns_pool and self._pool is not None and self._loop is not loop:
            # asyncpg pools are bound to their event loop, and each `run_sync` starts a new
            # one: drop the old pool (its loop is gone, it cannot be closed) and make another.
            self._pool, self._lock = None, None
        if self._ready and self._pool is not None:
            return self._pool
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = anyio.Lock(), loop
        async with self._lock:
            if self._ready and self._pool is not None:
                return self._pool
            if self._pool is None:
                try:
                    import asyncpg
                except ImportError as exc:  # pragma: no cover - depends on the environment
                    raise ImportError(
                        'the PostgreSQL stores need asyncpg: pip install "spine-backends[postgres]"'
                    ) from exc
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=self._sizes[0], max_size=self._sizes[1]
                )
            if not self._ready:
                async with self._pool.acquire() as con, con.transaction():
                    await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock_name)
                    if isinstance(ddl, str):
                        await con.execute(ddl)
                    else:
                        await ddl(con)
                self._ready = True
        return self._pool

    async def aclose(self) -> None:
        """Close the pool if this object created it."""
        if self._owns_pool and self._pool is not None:
            await self._pool.close()
            self._pool = None
            self._ready = False


def qualified(schema: str | None, name: str) -> str:
    """`schema.name`, or `name` (both already validated identifiers)."""
    return f"{schema}.{name}" if schema else name
