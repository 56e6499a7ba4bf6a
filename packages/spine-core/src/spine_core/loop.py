"""Event-loop identity, for clients that must not outlive the loop that made them.

SDK clients and connection pools (httpx, redis.asyncio, asyncpg) are bound to the event loop
that created them; `run_sync` starts a new loop on every call. A plugin keeps such an object
in a `LoopBound` and gets a fresh one whenever it is used from another loop.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LoopBound", "current_loop"]

T = TypeVar("T")


def current_loop() -> object | None:
    """The running event loop: the asyncio loop, or the trio run's token; None outside one."""
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_trio_token()  # type: ignore[no-any-return]
        except RuntimeError:
            pass
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            return asyncio.get_running_loop()  # type: ignore[no-any-return]
        except RuntimeError:
            pass
    return None


class LoopBound(Generic[T]):
    """A value made by `factory` once per event loop it is used from.

    `get()` returns the value made on the running loop, calling `factory()` on first use and
    again after the loop changed (the old value is dropped: its loop is gone or elsewhere).
    `take()` removes and returns the current value (for closing it).
    """

    __slots__ = ("_factory", "_loop", "_value")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._loop: object | None = None
        self._value: T | None = None

    def get(self) -> T:
        loop = current_loop()
        if self._value is None or self._loop is not loop:
            self._value, self._loop = self._factory(), loop
        return self._value

    def peek(self) -> T | None:
        """The value made on the running loop, or None (never creates one)."""
        return self._value if self._loop is current_loop() else None

    def take(self) -> T | None:
        value, self._value, self._loop = self._value, None, None
        return value
