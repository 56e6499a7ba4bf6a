"""The lazily imported `redis.asyncio` client shared by the Redis stores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from spine_core.loop import current_loop

from ._codec import validate_key_prefix

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_POOL_TIMEOUT_S",
    "RedisStoreBase",
    "connect",
    "join_key",
    "text",
]


DEFAULT_MAX_CONNECTIONS = 50
"""Connections a store's own pool opens at most (each Redis connection is a socket and a
server-side client; the server's default `maxclients` is 10,000)."""

DEFAULT_POOL_TIMEOUT_S = 20.0
"""Seconds a command waits for a free pooled connection before `redis.ConnectionError`."""


def connect(
    url: str,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout_s: float | None = DEFAULT_POOL_TIMEOUT_S,
) -> Redis:
    """A `redis.asyncio.Redis` client for `url` on a `BlockingConnectionPool` (no network
    until the first command): past `max_connections` concurrent commands, callers wait up
    to `pool_timeout_s` seconds (None: forever) for a connection instead of failing with
    `MaxConnectionsError` as redis-py's default pool does.

    Raises:
        ImportError: the `redis` package is missing (install `spine-backends[redis]`).
        ValueError: `max_connections` below 1.
    """
    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, not {max_connections}")
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the Redis stores need the redis package: pip install "spine-backends[redis]"'
        ) from exc
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout_s
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


def text(value: Any) -> str:
    """A reply as `str`, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


def join_key(prefix: str, *parts: str) -> str:
    """`prefix` and `parts` joined by ":" (a prefix that already ends with ":", such as the
    reference's "spine:checkpoint:", is not doubled)."""
    return ":".join([prefix.rstrip(":"), *parts]) if parts else prefix


class RedisStoreBase:
    """What the Redis stores share: a validated key prefix and a lazily created client (on
    a blocking pool of `max_connections`) that the store closes only when it created it.

    Raises:
        ValueError: invalid `prefix` (letters, digits and `_:.-`), or `max_connections`
            below 1.
    """

    def __init__(
        self,
        url: str,
        *,
        client: Redis | None,
        prefix: str,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout_s: float | None = DEFAULT_POOL_TIMEOUT_S,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self._prefix = validate_key_prefix(prefix)
        self._url = url
        self._client = client
        self._owns_client = client is None
        self._loop: object | None = None
        self.max_connections = max_connections
        self.pool_timeout_s = pool_timeout_s

    @property
    def client(self) -> Redis:
        """The Redis client: the one given, else one created on first use on the running
        event loop (a redis.asyncio pool is bound to its loop, and each `run_sync` starts a
        new one: a client made on a loop that is no longer running is dropped and remade)."""
        if self._owns_client and self._client is not None and self._loop is not current_loop():
            self._client = None  # its loop is gone: its connections cannot be used or closed
        if self._client is None:
            self._loop = current_loop()
            self._client = connect(
                self._url,
                max_connections=self.max_connections,
                pool_timeout_s=self.pool_timeout_s,
            )
        return self._client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client this store created."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
