"""The key-value store contract for middleware state shared across workers, and its
in-memory implementation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryKeyValueStore", "KeyValueStore"]


@runtime_checkable
class KeyValueStore(Protocol):
    """Small atomic operations middleware build shared state on (rate limits, budgets,
    idempotency keys, caches, breakers). Every operation is atomic on its key, so a Redis
    implementation maps each to one command (GET, SET NX PX, INCRBYFLOAT + PEXPIRE NX in one
    script, DEL).

    Values are strings; TTLs are seconds.
    """

    async def get(self, key: str) -> str | None:
        """The value, or None when missing or expired."""
        ...

    async def set(
        self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> bool:
        """Store `value`; with `only_if_absent`, only when the key does not exist.

        Returns:
            True when the value was written.
        """
        ...

    async def incr(self, key: str, amount: float = 1, *, ttl_s: float | None = None) -> float:
        """Atomically add `amount` (a missing key counts as 0) and return the new value.
        `ttl_s` applies when the increment creates the key."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the key; True when it existed."""
        ...


class InMemoryKeyValueStore:
    """A process-local `KeyValueStore`.

    Args:
        clock: Monotonic seconds; inject a fake clock in tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._clock = clock

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl_s: float | None) -> float | None:
        return None if ttl_s is None else self._clock() + ttl_s

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(
        self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self._data[key] = (value, self._expiry(ttl_s))
        return True

    async def incr(self, key: str, amount: float = 1, *, ttl_s: float | None = None) -> float:
        current = self._live(key)
        if current is None:
            total = float(amount)
            expires = self._expiry(ttl_s)
        else:
            total = float(current) + amount
            expires = self._data[key][1]
        self._data[key] = (_number(total), expires)
        return total

    async def delete(self, key: str) -> bool:
        return self._live(key) is not None and self._data.pop(key, None) is not None


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
