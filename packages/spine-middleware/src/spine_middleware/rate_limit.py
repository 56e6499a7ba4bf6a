"""`RateLimit`: a token bucket on model calls, local or shared through a `KeyValueStore`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio

from spine_core import InMemoryKeyValueStore, KeyValueStore, Middleware, ModelResponse, StepContext

from ._util import provider_identity

__all__ = ["RateLimit"]


class RateLimit(Middleware):
    """Pace model calls to `requests_per_second`, allowing bursts of `burst` calls.

    A token bucket written as GCRA, the Generic Cell Rate Algorithm (ITU-T I.371; the
    "virtual scheduling" form): the store keeps one number per bucket, the theoretical arrival
    time (TAT, epoch seconds). Each call atomically adds one emission interval
    (`1 / requests_per_second`) with `KeyValueStore.incr` - a single INCRBYFLOAT on Redis - and
    waits until `TAT - burst * interval`. Calls queue rather than fail. With the default store
    the bucket is local to the process; pass a shared store so all workers draw on one budget.

    Args:
        requests_per_second: Sustained rate (use e.g. `60 / 60` for 60 calls per minute).
        burst: Calls allowed back to back after an idle period (>= 1).
        scope: One bucket for everything ("global"), per "scheme:model" ("model"), or per
            tenant ("tenant").
        store: Where the bucket lives (default: a process-local `InMemoryKeyValueStore`).
        prefix: Key prefix in the store.
        clock: Epoch seconds (comparable across workers).
        sleep: Awaitable sleep, seconds.

    Raises:
        ValueError: a non-positive rate or `burst` < 1.
    """

    def __init__(
        self,
        *,
        requests_per_second: float,
        burst: int = 1,
        scope: Literal["global", "model", "tenant"] = "global",
        store: KeyValueStore | None = None,
        prefix: str = "spine:ratelimit",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be > 0")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.interval_s = 1.0 / requests_per_second
        self.burst = burst
        self.scope = scope
        self.store: KeyValueStore = store or InMemoryKeyValueStore()
        self.prefix = prefix
        self._clock = clock
        self._sleep = sleep

    def _key(self, ctx: StepContext) -> str:
        if self.scope == "model":
            return f"{self.prefix}:model:{provider_identity(ctx.provider)}"
        if self.scope == "tenant":
            return f"{self.prefix}:tenant:{ctx.tenant_id or '-'}"
        return f"{self.prefix}:global"

    async def acquire(self, key: str) -> float:
        """Reserve the next slot of bucket `key`, wait for it; returns the seconds waited."""
        tat = await self.store.incr(key, self.interval_s)
        now = self._clock()
        start = tat - self.interval_s
        if start < now:
            # Idle bucket: the schedule restarts now. Concurrent catch-ups can only push the
            # TAT later (callers wait a little more), never admit more than the rate.
            tat = await self.store.incr(key, now - start)
            start = tat - self.interval_s
        wait = start - (self.burst - 1) * self.interval_s - now
        if wait > 0:
            await self._sleep(wait)
            return wait
        return 0.0

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        await self.acquire(self._key(ctx))
        return None
