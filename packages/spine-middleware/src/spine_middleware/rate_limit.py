"""`RateLimit`: a token bucket on model calls, local or shared through a `KeyValueStore`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio

from spine_core import InMemoryKeyValueStore, KeyValueStore, Middleware, StepContext

from ._util import provider_identity

__all__ = ["RateLimit"]


class RateLimit(Middleware):
    """Token-bucket rate limit on model calls: `max_calls` per `per_s` seconds.

    The bucket holds `burst` calls (default `max_calls`, so a full bucket admits `max_calls`
    calls back to back) and refills continuously at `max_calls / per_s` calls per second.
    When it is empty, `before_model` waits for the next slot; calls queue rather than fail.

    Written as GCRA, the Generic Cell Rate Algorithm (ITU-T I.371, the "virtual scheduling"
    form, equivalent to a token bucket): the store keeps one number per bucket, the
    theoretical arrival time (TAT, epoch seconds). Each call atomically reserves one emission
    interval (`per_s / max_calls`) with `KeyValueStore.incr` - a single INCRBYFLOAT on Redis
    - and waits until `TAT - burst * interval`. Because every call reserves its own slot
    before it sleeps, concurrent callers are spread over distinct slots: the reference's
    bucket, which refilled from a timestamp taken before its sleep, let two calls through at
    once after a wait. With the default store the bucket is local to the process; pass a
    shared store (e.g. Redis from spine-backends) so all workers draw on one budget.

    Args:
        max_calls: Calls allowed per `per_s` seconds (> 0).
        per_s: The window of `max_calls`, seconds (> 0).
        burst: Calls allowed back to back after an idle period (>= 1); default `max_calls`,
            or 1 with `requests_per_second`.
        requests_per_second: Alternative to `max_calls` / `per_s`: the sustained rate
            (Spine's earlier form).
        scope: One bucket for everything ("global"), per "scheme:model" ("model"), or per
            tenant ("tenant").
        store: Where the bucket lives (default: a process-local `InMemoryKeyValueStore`).
        prefix: Key prefix in the store.
        clock: Epoch seconds (comparable across workers).
        sleep: Awaitable sleep, seconds.

    Raises:
        ValueError: a non-positive rate or window, `burst` < 1, both `max_calls` and
            `requests_per_second` or neither.
    """

    def __init__(
        self,
        max_calls: float | None = None,
        per_s: float = 1.0,
        *,
        burst: int | None = None,
        requests_per_second: float | None = None,
        scope: Literal["global", "model", "tenant"] = "global",
        store: KeyValueStore | None = None,
        prefix: str = "spine:ratelimit",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if (max_calls is None) == (requests_per_second is None):
            raise ValueError("RateLimit needs max_calls (per per_s seconds) or requests_per_second")
        if max_calls is not None:
            if max_calls <= 0 or per_s <= 0:
                raise ValueError("max_calls and per_s must be positive")
            rate = max_calls / per_s
            default_burst = max(1, int(max_calls))
        else:
            assert requests_per_second is not None
            if requests_per_second <= 0:
                raise ValueError("requests_per_second must be > 0")
            rate = requests_per_second
            default_burst = 1
        burst = default_burst if burst is None else burst
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.interval_s = 1.0 / rate
        self.burst = burst
        self.capacity = float(burst)
        self.scope = scope
        self.store: KeyValueStore = store or InMemoryKeyValueStore()
        self.prefix = prefix
        self._clock = clock
        self._sleep = sleep

    def _key(self, ctx: StepContext[Any]) -> str:
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

    async def before_model(self, ctx: StepContext[Any]) -> None:
        await self.acquire(self._key(ctx))
