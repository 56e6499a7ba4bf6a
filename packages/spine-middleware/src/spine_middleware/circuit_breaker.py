"""`CircuitBreaker`: stop calling a failing model for a while, then probe it once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Any

import anyio

from spine_core import (
    InMemoryKeyValueStore,
    KeyValueStore,
    Message,
    Middleware,
    ModelResponse,
    ProviderError,
    ProviderErrorKind,
    StepContext,
    StreamChunk,
    provider_model,
    provider_name,
)

from ._util import provider_identity

__all__ = ["CircuitBreaker", "CircuitOpenError", "CircuitState"]

# Failures caused by the request itself say nothing about the model's health.
_NOT_COUNTED = frozenset(
    {
        ProviderErrorKind.BAD_REQUEST,
        ProviderErrorKind.CONTEXT_LENGTH,
        ProviderErrorKind.CONTENT_FILTER,
    }
)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_DEFAULT_MESSAGE = "circuit breaker open: too many recent failures"


class CircuitOpenError(ProviderError):
    """The circuit of a provider is open: the call was refused without reaching it.

    A `ProviderError` (kind overloaded, not retryable) raised where the provider call would
    be, so `on_error` runs: `Retry` passes it on and `ModelFallback` moves to the next model;
    with no fallback the run ends with `StopReason.error` and the breaker's `message`.
    """

    def __init__(self, provider: Any, detail: str, message: str = _DEFAULT_MESSAGE) -> None:
        super().__init__(
            f"{message} ({detail})",
            kind=ProviderErrorKind.OVERLOADED,
            retryable=False,
            provider=provider_name(provider),
            model=provider_model(provider),
        )


class CircuitBreaker(Middleware):
    """Open the circuit after repeated provider failures; fail fast while open.

    The circuit-breaker pattern (Nygard, "Release It!", 2007) around model calls, per provider
    identity ("scheme:model"): closed until `threshold` consecutive failed calls, then open for
    `cooldown_s` seconds, then half-open: exactly one probe call goes through (a lease in the
    store, so one probe across all workers); its success closes the circuit, its failure opens
    it again. A successful call resets the count. Request-specific failures (bad_request,
    context_length, content_filter) are not counted.

    While the circuit is open a call fails at once with `CircuitOpenError`, a `ProviderError`
    carrying `message`: it goes through `on_error` like any provider failure, so a
    `ModelFallback` can take over; with none the run ends with `StopReason.error` and
    `message` in `Result.error`. (The reference raises `StopRun` from `before_model`, which
    skips `on_error`, so no fallback could ever take over.)

    The breaker wraps the provider chosen for the step, so every attempt (retries included)
    passes the check. Place it inner to `ModelFallback` and `Retry`
    (`[ModelFallback(...), Retry(), CircuitBreaker()]`): an open circuit then fails fast and
    the fallback takes over. The circuit state lives in `store` (shared by every run and,
    with a shared store, every worker), never on the run.

    Args:
        threshold: Consecutive failures that open the circuit (>= 1).
        cooldown_s: Seconds the circuit stays open before a probe is allowed.
        message: The error text of a refused call.
        failure_threshold: Alias of `threshold` (Spine's earlier name).
        reset_timeout_s: Alias of `cooldown_s` (Spine's earlier name).
        probe_timeout_s: Seconds a probe lease lasts (a worker that died mid-probe frees it).
        store: Shared state (default: a process-local `InMemoryKeyValueStore`).
        prefix: Key prefix in the store.
        clock: Wall-clock seconds (epoch time, comparable across workers).

    Raises:
        ValueError: `threshold` < 1 or a negative `cooldown_s`.
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        message: str = _DEFAULT_MESSAGE,
        failure_threshold: int | None = None,
        reset_timeout_s: float | None = None,
        probe_timeout_s: float = 60.0,
        store: KeyValueStore | None = None,
        prefix: str = "spine:breaker",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold is not None:
            threshold = failure_threshold
        if reset_timeout_s is not None:
            cooldown_s = reset_timeout_s
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        if cooldown_s < 0:
            raise ValueError("cooldown_s must be >= 0 seconds")
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.message = message
        self.probe_timeout_s = probe_timeout_s
        self.store: KeyValueStore = store or InMemoryKeyValueStore()
        self.prefix = prefix
        self._clock = clock

    def _key(self, provider: Any, part: str) -> str:
        return f"{self.prefix}:{provider_identity(provider)}:{part}"

    async def state(self, provider: Any) -> CircuitState:
        """The circuit state of `provider` now."""
        open_until = await self.store.get(self._key(provider, "open_until"))
        if open_until is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if self._clock() < float(open_until) else CircuitState.HALF_OPEN

    async def acquire(self, provider: Any) -> bool:
        """Admit a call; True when it is the half-open probe.

        Raises:
            CircuitOpenError: the circuit is open, or half-open with a probe in flight.
        """
        open_until = await self.store.get(self._key(provider, "open_until"))
        if open_until is None:
            return False
        left = float(open_until) - self._clock()
        if left > 0:
            raise CircuitOpenError(provider, f"retry in {left:.3g} s", self.message)
        won = await self.store.set(
            self._key(provider, "probe"), "1", ttl_s=self.probe_timeout_s, only_if_absent=True
        )
        if not won:
            raise CircuitOpenError(provider, "half-open, a probe call is in flight", self.message)
        return True

    async def record_success(self, provider: Any, probe: bool) -> None:
        """Close the circuit (after a probe) or reset the consecutive-failure count."""
        await self.store.delete(self._key(provider, "failures"))
        if probe:
            await self.store.delete(self._key(provider, "open_until"))
            await self.store.delete(self._key(provider, "probe"))

    async def record_failure(self, provider: Any, probe: bool, error: Exception) -> None:
        """Count a failure; open the circuit at the threshold or when the probe failed."""
        if isinstance(error, ProviderError) and error.kind in _NOT_COUNTED:
            if probe:
                await self.store.delete(self._key(provider, "probe"))
            return
        if not probe:
            failures = await self.store.incr(self._key(provider, "failures"))
            if failures < self.threshold:
                return
        until = self._clock() + self.cooldown_s
        await self.store.set(self._key(provider, "open_until"), repr(until))
        await self.store.delete(self._key(provider, "failures"))
        await self.store.delete(self._key(provider, "probe"))

    async def release_probe(self, provider: Any) -> None:
        """Free the half-open probe lease without a verdict (the probe was cancelled)."""
        with anyio.CancelScope(shield=True):
            await self.store.delete(self._key(provider, "probe"))

    async def before_model(self, ctx: StepContext[Any]) -> None:
        inner = ctx.provider
        if not (isinstance(inner, _Guarded) and inner.breaker is self):
            ctx.provider = (
                _GuardedStreaming(inner, self)
                if hasattr(inner, "stream")
                else _Guarded(inner, self)
            )


class _Guarded:
    """The step's provider behind the breaker: checks before, records after each call."""

    def __init__(self, inner: Any, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker
        self.name = provider_name(inner)
        self.model = provider_model(inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> ModelResponse:
        probe = await self.breaker.acquire(self.inner)
        try:
            response: ModelResponse = await self.inner.complete(messages, tools, **kwargs)
        except Exception as exc:
            await self.breaker.record_failure(self.inner, probe, exc)
            raise
        except BaseException:
            if probe:
                await self.breaker.release_probe(self.inner)
            raise
        await self.breaker.record_success(self.inner, probe)
        return response


class _GuardedStreaming(_Guarded):
    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[StreamChunk]:
        probe = await self.breaker.acquire(self.inner)
        try:
            async for chunk in self.inner.stream(messages, tools, **kwargs):
                yield chunk
        except Exception as exc:
            await self.breaker.record_failure(self.inner, probe, exc)
            raise
        except BaseException:
            if probe:
                await self.breaker.release_probe(self.inner)
            raise
        await self.breaker.record_success(self.inner, probe)
