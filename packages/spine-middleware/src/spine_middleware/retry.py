"""`Retry`: capped exponential backoff with full jitter for retryable provider errors."""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from spine_core import ErrorAction, Middleware, ProviderError, StepContext, ToolContext

from ._util import provider_identity

__all__ = ["Retry", "parse_duration", "provider_wait_s", "should_retry_header"]

_KEY = "retry.attempts"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_WORDS = {
    "millisecond": 0.001, "milliseconds": 0.001, "msec": 0.001, "msecs": 0.001,
    "second": 1.0, "seconds": 1.0, "sec": 1.0, "secs": 1.0,
    "minute": 60.0, "minutes": 60.0, "min": 60.0, "mins": 60.0,
    "hour": 3600.0, "hours": 3600.0,
}  # fmt: skip
_GO_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+", re.IGNORECASE)
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)", re.IGNORECASE)
_PHRASE = re.compile(
    r"(?:try again|retry|retrying|wait)\s+(?:in|after)\s+"
    r"((?:\d+(?:\.\d+)?(?:ms|h|m|s))+\b"
    r"|\d+(?:\.\d+)?\s*[a-z]+(?:(?:\s*,\s*|\s+and\s+|\s+)\d+(?:\.\d+)?\s*[a-z]+)*)",
    re.IGNORECASE,
)
_WORD_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    """Seconds in a duration as providers write it: Go's form ("1m30s", "1h2m", "250ms",
    "2.5s"), or words ("90 seconds", "1 minute 30 seconds"); None when `text` is neither."""
    text = text.strip().rstrip(".")
    if _GO_DURATION.fullmatch(text):
        return sum(float(n) * _UNITS[u.lower()] for n, u in _GO_PART.findall(text))
    parts = _WORD_PART.findall(text)
    if not parts or any(u.lower() not in _WORDS and u.lower() not in _UNITS for _, u in parts):
        return None
    return sum(float(n) * _WORDS.get(u.lower(), _UNITS.get(u.lower(), 0.0)) for n, u in parts)


def _headers(err: BaseException) -> Mapping[str, str]:
    """The HTTP response headers behind a provider error (the SDK exception it was mapped
    from, kept as `__cause__`), lower-cased; empty when there are none."""
    for source in (err, err.__cause__):
        headers = getattr(getattr(source, "response", None), "headers", None)
        if headers is not None:
            try:
                return {str(k).lower(): str(v) for k, v in headers.items()}
            except (AttributeError, TypeError):
                return {}
    return {}


def should_retry_header(err: BaseException) -> bool | None:
    """The server's `x-should-retry` verdict ("true" / "false", sent by the OpenAI and
    Anthropic APIs and honoured by their SDKs), or None when it sent none."""
    value = _headers(err).get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


def provider_wait_s(err: ProviderError, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the provider asked to wait before retrying, read again from the source:
    the `retry-after-ms` / `retry-after` headers (RFC 9110 §10.2.3: delay-seconds or an
    HTTP-date), then a "try again in 1m30s" phrase in the message, then
    `err.retry_after_s`. May be `inf` (a hostile or broken header): callers cap it."""
    headers = _headers(err)
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value) * scale, 0.0)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            continue
        return max(when.timestamp() - now(), 0.0)
    match = _PHRASE.search(err.message)
    if match:
        seconds = parse_duration(match.group(1).strip(" ,"))
        if seconds is not None:
            return seconds
    return err.retry_after_s


class Retry(Middleware):
    """Retry a failed model call with capped exponential backoff.

    Implemented purely via the `on_error` hook: the kernel re-issues the call on `RETRY`.
    The wait before retry n (0-based) is `min(max_delay, base * factor**n)` seconds; with
    `jitter` it is "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter",
    Marc Brooker, 2015): `uniform(0, min(max_delay, base * factor**n))`. When the provider
    sent a Retry-After (`ProviderError.retry_after_s`) the wait is at least that long.

    Only errors a retry can cure are retried: a `ProviderError` whose `retryable` is True
    (rate_limit, timeout, connection, server, overloaded), unless the server answered
    `x-should-retry: false` (a `true` makes any kind retryable, as the OpenAI and Anthropic
    SDKs do). Others (auth, bad_request, context_length, content_filter, unknown) and an
    exhausted budget return None, so the decision passes to outer middleware such as
    `ModelFallback` (and the kernel then fails the run). Tool errors are left alone.

    The provider's wait (`provider_wait_s`: the Retry-After headers, a "try again in 1m30s"
    phrase, read as 90 s) is honoured up to `max_retry_after_s`: a longer, infinite or
    unparseable-far wait (`inf`, `1e309`, an HTTP-date a week ahead) is not slept on - the
    call is not retried and the error goes on to `ModelFallback` or fails the run, so no
    worker is parked.

    Attempts are counted per step and per provider, so after a `ModelFallback` switch the
    next model gets its own attempts. A retry whose wait would outlast the run's timeout
    (`Guards.timeout_s`) is not attempted. The kernel also bounds a step's attempts by
    `Guards.max_retries_per_step`. The attempt counts live in `ctx.extra` (per run).

    Args:
        max_attempts: Calls per provider per step, the first included (>= 1).
        base: Backoff base, seconds.
        factor: Growth factor of the backoff per retry (>= 1).
        max_delay: Backoff cap, seconds (a longer Retry-After, up to `max_retry_after_s`,
            is still honoured).
        jitter: Draw the wait uniformly from [0, backoff) (full jitter).
        max_retry_after_s: Longest provider-requested wait honoured, seconds.
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
        max_retry_after_s: float = 60.0,
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
        if not max_retry_after_s >= 0:
            raise ValueError("max_retry_after_s must be >= 0 seconds")
        self.max_attempts = max_attempts
        self.base = base
        self.factor = factor
        self.max_delay = max_delay
        self.jitter = jitter
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._random = random

    def delay_s(self, retry: int, error: ProviderError | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based) after `error`: the backoff,
        or the provider's wait when longer (`inf` when that exceeds `max_retry_after_s`,
        meaning: do not retry)."""
        delay = min(self.max_delay, self.base * self.factor**retry)
        if self.jitter:
            delay *= self._random()
        wait = provider_wait_s(error) if error is not None else None
        if wait is not None:
            if not math.isfinite(wait) or wait > self.max_retry_after_s:
                return math.inf
            delay = max(delay, wait)
        return delay

    async def on_error(
        self, ctx: StepContext[Any] | ToolContext[Any], err: Exception
    ) -> ErrorAction | None:
        if isinstance(ctx, ToolContext) or not isinstance(err, ProviderError):
            return None
        verdict = should_retry_header(err)
        if not (err.retryable if verdict is None else verdict):
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
        if not math.isfinite(delay) or (left is not None and delay >= left):
            return None
        counts[key] = retries + 1
        if delay > 0:
            await self._sleep(delay)
        return ErrorAction.RETRY
