"""`Cache`: serve repeated model calls from an LRU cache with a TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from spine_core import KeyValueStore, Middleware, ModelResponse, StepContext, Usage

from ._util import digest, provider_identity

__all__ = ["Cache"]


class Cache(Middleware):
    """Answer a model call from a cache when the exact same request was made before.

    The key is a SHA-256 over the provider identity ("scheme:model" and endpoint), the model,
    the settings, every message sent (system prompt included) and the full tool schemas (name,
    description, parameters), so two models, two prompts or two tool sets never share an
    entry. It is computed from what the model is actually sent: place `Cache` inner to
    middleware that rewrite the request (e.g. `Compaction`). A hit costs nothing (zero usage)
    and is marked `cached` in the `model_response` trace event.

    Args:
        max_entries: LRU capacity of the local cache (entries).
        ttl_s: Seconds an entry lives; None keeps it until evicted.
        store: A shared `KeyValueStore`; when given, entries live there (with the TTL) instead
            of in the local LRU.
        prefix: Key prefix in the store.
        clock: Monotonic seconds for the local TTL.

    Raises:
        ValueError: `max_entries` < 1.
    """

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        ttl_s: float | None = 3600.0,
        store: KeyValueStore | None = None,
        prefix: str = "spine:cache",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.store = store
        self.prefix = prefix
        self._clock = clock
        self._lru: OrderedDict[str, tuple[str, float | None]] = OrderedDict()

    def key(self, ctx: StepContext) -> str:
        """The cache key of the call `ctx` is about to make."""
        return digest(
            {
                "provider": provider_identity(ctx.provider),
                "model": ctx.provider.model,
                "settings": ctx.settings,
                "messages": [m.model_dump(mode="json") for m in ctx.messages],
                "tools": [
                    {"name": t.name, "description": t.description, "parameters": t.parameters}
                    for t in ctx.tools
                ],
            }
        )

    async def _get(self, key: str) -> str | None:
        if self.store is not None:
            return await self.store.get(f"{self.prefix}:{key}")
        item = self._lru.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._lru[key]
            return None
        self._lru.move_to_end(key)
        return value

    async def _put(self, key: str, value: str) -> None:
        if self.store is not None:
            await self.store.set(f"{self.prefix}:{key}", value, ttl_s=self.ttl_s)
            return
        expires = None if self.ttl_s is None else self._clock() + self.ttl_s
        self._lru[key] = (value, expires)
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_entries:
            self._lru.popitem(last=False)

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        hit = await self._get(self.key(ctx))
        if hit is None:
            return None
        response = ModelResponse.model_validate_json(hit)
        return response.model_copy(update={"cached": True, "usage": Usage()})

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        if not response.cached:
            await self._put(self.key(ctx), response.model_dump_json())
        return None
