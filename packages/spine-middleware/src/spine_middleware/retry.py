"""`Retry`: capped exponential backoff with full jitter for retryable provider errors."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from spine_core import ErrorAction, Middleware, ProviderError, StepContext, ToolContext

from ._util import provider_identity

__all__ = ["Retry"]

_KEY = "retry.attempts"


class Retry(Middleware):
    """Retry a failed model call with capped exponential backoff.

    Implemented purely via the `on_error` hook: the kernel re-issues the call on `RETRY`.
    The wait before retry n (0-based) is `min(max_delay, base * factor**n)` seconds; with
    `jitter` it is "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter",
    Marc Brooker, 2015): `uniform(0, min(max_delay, base * factor**n))`. When the provider
    sent a Retry-After (`ProviderError.retry_after_s`) the wait is at least that long.

    Only errors a retry can cure are retried: a `ProviderError` whose `retryable` is True
    (rate_limit, timeout, connection, server, overloaded). Others (auth, bad_request,
    context_length, content_filter, unknown) and an exhausted budget return None, so the
    decision passes to outer middleware such as `ModelFallback` (and the kernel then fails
    the run). Tool errors are left alone.

    Attempts are counted per step and per provider, so after a `ModelFallback` switch the
    next model gets its own attempts. A retry whose wait would outlast the run's timeout
    (`Guards.timeout_s`) is not attempted. The kernel also bounds a step's attempts by
    `Guards.max_retries_per_step`. The attempt counts live in `ctx.extra` (per run).

    Args:
        max_attempts: Calls per provider per step, the first included (>= 1).
        base: Backoff base, seconds.
        factor: Growth factor of the backoff per retry (>= 1).
        max_delay: Backoff cap, seconds (a longer Retry-After is still honoured).
        jitter: Draw the wait uniformly from [0, backoff) (full jitter).
        base_delay_s: Alias of `base` (Spine's earlier name).
        max_delay_s: Alias of `max_delay` (Spine's earlier name).
        sleep: Awaitable sleep in seconds (inject a fake in tests).
        random: Uniform [0, 1) source for the jitter.

    Raises:
        ValueError: `max_attempts` < 1, a negative delay or `factor` < 1.
    """

    def __init__(
        self,
        max_attempts: int = 3,
        *,
        base: float = 0.1,
        factor: float = 2.0,
        max_delay: float = 10.0,
        jitter: bool = True,
        base_delay_s: float | None = None,
        max_delay_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        if base_delay_s is not None:
            base = base_delay_s
        if max_delay_s is not None:
            max_delay = max_delay_s
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base < 0 or max_delay < 0:
            raise ValueError("delays must be >= 0 seconds")
        if factor < 1:
            raise ValueError("factor must be >= 1")
        self.max_attempts = max_attempts
        self.base = base
        self.factor = factor
        self.max_delay = max_delay
        self.jitter = jitter
        self._sleep = sleep
        self._random = random

    def delay_s(self, retry: int, error: ProviderError | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based) after `error`."""
        delay = min(self.max_delay, self.base * self.factor**retry)
        if self.jitter:
            delay *= self._random()
        if error is not None and error.retry_after_s is not None:
            delay = max(delay, error.retry_after_s)
        return delay

    async def on_error(
        self, ctx: StepContext[Any] | ToolContext[Any], err: Exception
    ) -> ErrorAction | None:
        if isinstance(ctx, ToolContext) or not isinstance(err, ProviderError):
            return None
        if not err.retryable:
            return None
        step, counts = ctx.extra.get(_KEY, (None, {}))
        if step != ctx.step:  # a new step: every provider starts with fresh attempts
            counts = {}
            ctx.extra[_KEY] = (ctx.step, counts)
        key = provider_identity(ctx.provider)
        retries = counts.get(key, 0)
        if retries + 1 >= self.max_attempts:
            return None
        delay = self.delay_s(retries, err)
        left = ctx.time_left()
        if left is not None and delay >= left:
            return None
        counts[key] = retries + 1
        if delay > 0:
            await self._sleep(delay)
        return ErrorAction.RETRY
