"""`CircuitBreaker`: stop calling a failing model for a while, then probe it once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from enum import StrEnum
from typing import Any

from spine_core import (
    InMemoryKeyValueStore,
    KeyValueStore,
    Message,
    Middleware,
    ModelResponse,
    Provider,
    ProviderError,
    ProviderErrorKind,
    StepContext,
    StreamChunk,
    ToolSpec,
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


class CircuitOpenError(ProviderError):
    """The circuit of a provider is open: the call was refused without reaching it.

    Not retryable, so `Retry` passes it on and `ModelFallback` moves to the next model.
    """

    def __init__(self, provider: Provider, detail: str) -> None:
        super().__init__(
            f"circuit open ({detail})",
            kind=ProviderErrorKind.OVERLOADED,
            retryable=False,
            provider=provider.name,
            model=provider.model,
        )


class CircuitBreaker(Middleware):
    """The circuit-breaker pattern (Nygard, "Release It!", 2007) around model calls.

    Per provider identity ("scheme:model"): closed until `failure_threshold` consecutive
    failed calls, then open for `reset_timeout_s` seconds (calls fail at once with
    `CircuitOpenError`), then half-open: exactly one probe call goes through (a lease in the
    store, so one probe across all workers); its success closes the circuit, its failure
    opens it again. Request-specific failures (bad_request, context_length, content_filter)
    are not counted.

    The breaker wraps the provider chosen for the step, so every attempt (retries included)
    passes the check. Place it inner to `ModelFallback` and `Retry`
    (`[ModelFallback(...), Retry(), CircuitBreaker()]`): an open circuit then fails fast and
    the fallback takes over.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        reset_timeout_s: Seconds the circuit stays open before a probe is allowed.
        probe_timeout_s: Seconds a probe lease lasts (a worker that died mid-probe frees it).
        store: Shared state (default: a process-local `InMemoryKeyValueStore`).
        prefix: Key prefix in the store.
        clock: Wall-clock seconds (epoch time, comparable across workers).

    Raises:
        ValueError: `failure_threshold` < 1.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        probe_timeout_s: float = 60.0,
        store: KeyValueStore | None = None,
        prefix: str = "spine:breaker",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.probe_timeout_s = probe_timeout_s
        self.store: KeyValueStore = store or InMemoryKeyValueStore()
        self.prefix = prefix
        self._clock = clock

    def _key(self, provider: Provider, part: str) -> str:
        return f"{self.prefix}:{provider_identity(provider)}:{part}"

    async def state(self, provider: Provider) -> CircuitState:
        """The circuit state of `provider` now."""
        open_until = await self.store.get(self._key(provider, "open_until"))
        if open_until is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if self._clock() < float(open_until) else CircuitState.HALF_OPEN

    async def acquire(self, provider: Provider) -> bool:
        """Admit a call; True when it is the half-open probe.

        Raises:
            CircuitOpenError: the circuit is open, or half-open with a probe in flight.
        """
        state = await self.state(provider)
        if state is CircuitState.CLOSED:
            return False
        if state is CircuitState.OPEN:
            raise CircuitOpenError(provider, f"retry after {self.reset_timeout_s:g} s")
        won = await self.store.set(
            self._key(provider, "probe"), "1", ttl_s=self.probe_timeout_s, only_if_absent=True
        )
        if not won:
            raise CircuitOpenError(provider, "half-open, a probe call is in flight")
        return True

    async def record_success(self, provider: Provider, probe: bool) -> None:
        """Close the circuit (after a probe) or reset the consecutive-failure count."""
        await self.store.delete(self._key(provider, "failures"))
        if probe:
            await self.store.delete(self._key(provider, "open_until"))
            await self.store.delete(self._key(provider, "probe"))

    async def record_failure(self, provider: Provider, probe: bool, error: Exception) -> None:
        """Count a failure; open the circuit at the threshold or when the probe failed."""
        if isinstance(error, ProviderError) and error.kind in _NOT_COUNTED:
            if probe:
                await self.store.delete(self._key(provider, "probe"))
            return
        if not probe:
            failures = await self.store.incr(self._key(provider, "failures"))
            if failures < self.failure_threshold:
                return
        until = self._clock() + self.reset_timeout_s
        await self.store.set(self._key(provider, "open_until"), repr(until))
        await self.store.delete(self._key(provider, "failures"))
        await self.store.delete(self._key(provider, "probe"))

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        inner = ctx.provider
        if not isinstance(inner, _Guarded):
            ctx.provider = (
                _GuardedStreaming(inner, self)
                if hasattr(inner, "stream")
                else _Guarded(inner, self)
            )
        return None


class _Guarded:
    """The step's provider behind the breaker: checks before, records after each call."""

    def __init__(self, inner: Provider, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker
        self.name = inner.name
        self.model = inner.model

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], **settings: Any
    ) -> ModelResponse:
        probe = await self.breaker.acquire(self.inner)
        try:
            response = await self.inner.complete(messages, tools, **settings)
        except Exception as exc:
            await self.breaker.record_failure(self.inner, probe, exc)
            raise
        await self.breaker.record_success(self.inner, probe)
        return response


class _GuardedStreaming(_Guarded):
    async def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], **settings: Any
    ) -> AsyncIterator[StreamChunk]:
        probe = await self.breaker.acquire(self.inner)
        try:
            async for chunk in self.inner.stream(messages, tools, **settings):  # type: ignore[attr-defined]
                yield chunk
        except Exception as exc:
            await self.breaker.record_failure(self.inner, probe, exc)
            raise
        await self.breaker.record_success(self.inner, probe)
