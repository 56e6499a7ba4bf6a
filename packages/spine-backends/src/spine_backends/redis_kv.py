"""`RedisKeyValueStore`: the core `KeyValueStore` on Redis, for middleware state shared by
every worker (rate limits, tenant budgets, idempotency keys, caches, circuit breakers)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._redis import RedisStoreBase, text

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisKeyValueStore"]

# KEYS: the key. ARGV: amount, TTL in milliseconds (0 = none).
# INCRBYFLOAT then PEXPIRE only when this call created the key, atomically.
_INCR = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""


class RedisKeyValueStore(RedisStoreBase):
    """A `KeyValueStore` on Redis: every operation is one atomic server-side step
    (GET; SET with PX and NX; an INCRBYFLOAT + PEXPIRE Lua script; DEL).

    Keys are stored as `{prefix}:{key}`. TTLs are seconds, kept by Redis with millisecond
    precision (rounded up, so a tiny TTL never means "no expiry"). Counters follow Redis
    INCRBYFLOAT: values are decimal strings ("3", "2.5").

    Args:
        url: Redis URL; ignored with `client`.
        client: An existing `redis.asyncio.Redis` (not closed by `aclose`).
        prefix: Key prefix; letters, digits and `_:.-`.

    Raises:
        ValueError: invalid `prefix`.
        ImportError: `redis` is not installed (`pip install "spine-backends[redis]"`).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Redis | None = None,
        prefix: str = "spine:kv",
    ) -> None:
        super().__init__(url, client=client, prefix=prefix)
        self._incr: Any = None

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def get(self, key: str) -> str | None:
        """The value, or None when missing or expired."""
        value = await self.client.get(self._key(key))
        return None if value is None else text(value)

    async def set(
        self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> bool:
        """Store `value` (expiring after `ttl_s` seconds); with `only_if_absent`, only when
        the key does not exist (SET NX).

        Returns:
            True when the value was written.

        Raises:
            ValueError: `ttl_s` is not positive.
        """
        done = await self.client.set(self._key(key), value, px=_ttl_ms(ttl_s), nx=only_if_absent)
        return bool(done)

    async def incr(self, key: str, amount: float = 1, *, ttl_s: float | None = None) -> float:
        """Atomically add `amount` (a missing key counts as 0) and return the new value;
        `ttl_s` (seconds) applies only when this call creates the key.

        Raises:
            ValueError: `ttl_s` is not positive.
            redis.exceptions.ResponseError: the stored value is not a number.
        """
        if self._incr is None:
            self._incr = self.client.register_script(_INCR)
        value = await self._incr(
            keys=[self._key(key)],
            args=[repr(float(amount)), _ttl_ms(ttl_s) or 0],
            client=self.client,
        )
        return float(text(value))

    async def delete(self, key: str) -> bool:
        """Remove the key; True when it existed."""
        return int(await self.client.delete(self._key(key))) > 0


def _ttl_ms(ttl_s: float | None) -> int | None:
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive, not {ttl_s}")
    return max(1, math.ceil(ttl_s * 1000))
