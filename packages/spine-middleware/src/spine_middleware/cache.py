"""`Cache`: serve repeated model calls from an LRU cache with an optional TTL."""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from spine_core import KeyValueStore, Middleware, ModelResponse, StepContext, Usage, provider_model

from ._util import digest, provider_identity

__all__ = ["Cache"]

Entries = MutableMapping[str, tuple[ModelResponse, float | None]]
"""A local cache: key -> (response, expiry on the cache's clock, or None)."""


class Cache(Middleware):
    """Prompt/response cache with an optional TTL and a size bound (LRU).

    When the exact same request was made before, `before_model` presets `ctx.response` and
    the provider is not called. A hit is a deep copy of the entry (so downstream edits cannot
    corrupt it), marked `cached` (also in the `model_response` trace event) and, by default,
    free: zero usage, so cost guards and reports reflect the saving.

    The key is a SHA-256 over the provider identity ("scheme:model" and endpoint), the model,
    the settings, every message sent (system prompt included) and the full tool schemas (name,
    description, parameters), so two models, two prompts or two tool sets never share an
    entry (the reference keyed on the messages and tool names only). A response is stored
    under the provider that produced it, also after a `ModelFallback` switch. The key is
    computed from what the model is actually sent: place `Cache` inner to middleware that
    rewrite the request (e.g. `Compaction`).

    `hits` and `misses` count lookups since construction, across runs.

    Args:
        ttl_s: Seconds an entry lives; None keeps it until evicted.
        max_size: Entries kept in a local cache; the least recently used is evicted.
        zero_cost_on_hit: Give hits zero usage (else the usage the original call reported).
        store: Where entries live: a `dict` to share one local cache between agents (entries
            `key -> (ModelResponse, expires_at | None)`), or a `KeyValueStore` (e.g. Redis)
            to share it across workers (JSON values with the TTL; `max_size` does not apply).
            Default: a private dict.
        max_entries: Alias of `max_size` (Spine's earlier name).
        prefix: Key prefix in a `KeyValueStore`.
        clock: Monotonic seconds for the local TTL.

    Raises:
        ValueError: `max_size` < 1 or a non-positive `ttl_s`.
    """

    def __init__(
        self,
        *,
        ttl_s: float | None = None,
        max_size: int = 1024,
        zero_cost_on_hit: bool = True,
        store: KeyValueStore | Entries | None = None,
        max_entries: int | None = None,
        prefix: str = "spine:cache",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries is not None:
            max_size = max_entries
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError("ttl_s must be > 0 seconds (or None)")
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.zero_cost_on_hit = zero_cost_on_hit
        self.prefix = prefix
        self._clock = clock
        self.store: KeyValueStore | None = None
        self._entries: Entries = {}
        if isinstance(store, KeyValueStore):
            self.store = store
        elif store is not None:
            self._entries = store
        self.hits = 0
        self.misses = 0
        self._slot = f"cache.{id(self)}"  # per-run: (step, request digest), in ctx.extra

    @staticmethod
    def _request(ctx: StepContext[Any]) -> str:
        """Digest of what is sent, the provider aside."""
        return digest(
            {
                "settings": ctx.settings,
                "messages": [m.model_dump(mode="json") for m in ctx.messages],
                "tools": [t.schema for t in ctx.tools],
            }
        )

    @staticmethod
    def _key_for(provider: Any, request: str) -> str:
        return digest(
            {
                "provider": provider_identity(provider),
                "model": provider_model(provider),
                "request": request,
            }
        )

    def key(self, ctx: StepContext[Any]) -> str:
        """The cache key of the call `ctx` is about to make."""
        return self._key_for(ctx.provider, self._request(ctx))

    async def _get(self, key: str) -> ModelResponse | None:
        if self.store is not None:
            blob = await self.store.get(f"{self.prefix}:{key}")
            return None if blob is None else ModelResponse.model_validate_json(blob)
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        response, expires = entry
        if expires is not None and self._clock() >= expires:
            return None
        self._entries[key] = entry  # re-inserted last: the most recently used
        return response.model_copy(deep=True)

    async def _put(self, key: str, response: ModelResponse) -> None:
        if self.store is not None:
            await self.store.set(
                f"{self.prefix}:{key}", response.model_dump_json(), ttl_s=self.ttl_s
            )
            return
        expires = None if self.ttl_s is None else self._clock() + self.ttl_s
        self._entries.pop(key, None)
        self._entries[key] = (response.model_copy(deep=True), expires)
        while len(self._entries) > self.max_size:
            del self._entries[next(iter(self._entries))]

    async def before_model(self, ctx: StepContext[Any]) -> None:
        request = self._request(ctx)
        ctx.extra[self._slot] = (ctx.step, request)
        hit = await self._get(self._key_for(ctx.provider, request))
        if hit is None:
            self.misses += 1
            return
        self.hits += 1
        update: dict[str, Any] = {"cached": True}
        if self.zero_cost_on_hit:
            update["usage"] = Usage()
        ctx.response = hit.model_copy(update=update)

    async def after_model(self, ctx: StepContext[Any]) -> None:
        response = ctx.response
        if response is None or response.cached:
            return
        slot = ctx.extra.get(self._slot)
        request = slot[1] if slot is not None and slot[0] == ctx.step else self._request(ctx)
        # Keyed by the provider that answered (a fallback may have switched it mid-step).
        await self._put(self._key_for(ctx.provider, request), response)
