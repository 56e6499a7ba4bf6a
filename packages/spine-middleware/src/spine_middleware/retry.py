"""`Retry`: capped exponential backoff with full jitter for retryable provider errors."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import anyio

from spine_core import ErrorAction, Middleware, ProviderError, StepContext, ToolContext

from ._util import provider_identity

__all__ = ["Retry"]


class Retry(Middleware):
    """Retry failed model calls whose error is `ProviderError.retryable`.

    The wait before retry n (0-based) is "full jitter" from the AWS Architecture Blog,
    "Exponential Backoff And Jitter" (Marc Brooker, 2015):
    `uniform(0, min(max_delay_s, base_delay_s * 2**n))`, raised to at least the error's
    `retry_after_s` when the provider sent a Retry-After. Non-retryable kinds (auth,
    bad_request, context_length, content_filter, unknown) are never retried; they pass to
    outer middleware such as `ModelFallback`.

    Attempts are counted per step and per provider, so after a `ModelFallback` switch the
    next model gets its own attempts. A retry whose wait would outlast the run's timeout
    (`Guards.timeout_s`) is not attempted. The kernel also bounds a step's attempts by
    `Guards.max_retries_per_step`.

    Args:
        max_attempts: Calls per provider per step, the first included (>= 1).
        base_delay_s: Backoff base, seconds.
        max_delay_s: Backoff cap, seconds (a longer Retry-After is still honoured).
        sleep: Awaitable sleep in seconds (inject a fake in tests).
        random: Uniform [0, 1) source for the jitter.

    Raises:
        ValueError: `max_attempts` < 1 or a negative delay.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 4,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay_s < 0 or max_delay_s < 0:
            raise ValueError("delays must be >= 0 seconds")
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep
        self._random = random

    def delay_s(self, retry: int, error: ProviderError) -> float:
        """Seconds to wait before retry number `retry` (0-based) after `error`."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0**retry)
        delay = self._random() * ceiling
        if error.retry_after_s is not None:
            delay = max(delay, error.retry_after_s)
        return delay

    async def on_error(
        self, ctx: StepContext | ToolContext, error: Exception
    ) -> ErrorAction | None:
        if isinstance(ctx, ToolContext) or not isinstance(error, ProviderError):
            return None
        if not error.retryable:
            return None
        counts: dict[tuple[int, str], int] = ctx.scratch.setdefault("retry.attempts", {})
        key = (ctx.step, provider_identity(ctx.provider))
        retries = counts.get(key, 0)
        if retries + 1 >= self.max_attempts:
            return None
        delay = self.delay_s(retries, error)
        left = ctx.time_left()
        if left is not None and delay >= left:
            return None
        counts[key] = retries + 1
        await self._sleep(delay)
        return ErrorAction.RETRY
