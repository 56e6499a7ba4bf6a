"""The lazily imported `redis.asyncio` client shared by the Redis stores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from ._codec import validate_key_prefix

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStoreBase", "connect", "text"]


def connect(url: str, **options: Any) -> Redis:
    """A `redis.asyncio.Redis` client for `url` (no network until the first command).

    Raises:
        ImportError: the `redis` package is missing (install `spine-backends[redis]`).
    """
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the Redis stores need the redis package: pip install "spine-backends[redis]"'
        ) from exc
    return aioredis.from_url(url, **options)


def text(value: Any) -> str:
    """A reply as `str`, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStoreBase:
    """What the Redis stores share: a validated key prefix and a lazily created client that
    the store closes only when it created it.

    Raises:
        ValueError: invalid `prefix` (letters, digits and `_:.-`).
    """

    def __init__(self, url: str, *, client: Redis | None, prefix: str) -> None:
        self._prefix = validate_key_prefix(prefix)
        self._url = url
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> Redis:
        """The Redis client (created on first use)."""
        if self._client is None:
            self._client = connect(self._url)
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
