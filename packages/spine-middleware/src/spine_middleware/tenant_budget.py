"""`TenantBudget`: cumulative cost and token ceilings per tenant, shared across workers."""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from spine_core import (
    InMemoryKeyValueStore,
    KeyValueStore,
    Middleware,
    StepContext,
    StopReason,
    StopRun,
)

from ._util import as_key_value_store

__all__ = ["TenantBudget"]


class TenantBudget(Middleware):
    """Enforce a cumulative per-tenant spend ceiling (cost and/or tokens).

    Spend is banked after each model call with atomic `KeyValueStore.incr` (INCRBYFLOAT on
    Redis) under `<prefix>:<tenant>:<period>:cost_usd` / `:tokens`, so every worker sharing
    the store sees one total. Before each model call the totals are read; at or over a ceiling
    the run stops (`StopRun`) with `StopReason.max_cost` for the cost ceiling and
    `StopReason.max_tokens` for the token ceiling, and `Result.answer` says which tenant spent
    what. Like `Guards`, a ceiling may be overshot by the one call in flight. Runs without a
    `tenant_id` are charged to `default_tenant`. With neither ceiling the middleware only
    tracks spend (read it with `spend` / `spent`).

    Cost comes from `Usage.cost_usd`: list `CostTracking` after `TenantBudget` (inner to it)
    so the cost is filled before this middleware banks it.

    Args:
        max_cost_usd: Ceiling per tenant and period, USD.
        max_tokens: Ceiling per tenant and period, input + output tokens.
        store: Shared store: a `KeyValueStore`, or a `dict` to share totals between
            instances in one process (default: a process-local `InMemoryKeyValueStore`).
        message: Start of the stop message.
        period_s: Length of a budget period in seconds (e.g. 86400 for daily budgets, keys
            expire with the period); None for a lifetime budget.
        default_tenant: Tenant charged when a run has no `tenant_id`.
        prefix: Key prefix in the store.
        clock: Epoch seconds (periods are aligned to the epoch).

    Raises:
        ValueError: a negative ceiling or a non-positive `period_s`.
    """

    def __init__(
        self,
        *,
        max_cost_usd: float | None = None,
        max_tokens: int | None = None,
        store: KeyValueStore | MutableMapping[str, Any] | None = None,
        message: str = "tenant budget exceeded",
        period_s: float | None = None,
        default_tenant: str = "default",
        prefix: str = "spine:budget",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (max_cost_usd is not None and max_cost_usd < 0) or (
            max_tokens is not None and max_tokens < 0
        ):
            raise ValueError("TenantBudget ceilings must be >= 0")
        if period_s is not None and period_s <= 0:
            raise ValueError("period_s must be > 0 seconds")
        self.max_cost_usd = max_cost_usd
        self.max_tokens = max_tokens
        self.message = message
        self.period_s = period_s
        self.default_tenant = default_tenant
        self.store: KeyValueStore = as_key_value_store(store, clock=clock) or (
            InMemoryKeyValueStore()
        )
        self.prefix = prefix
        self._clock = clock
        # What `spend` reports: per tenant, the bucket (tenant + period) and the totals this
        # process last read or banked there.
        self._seen: dict[str, tuple[str, dict[str, float]]] = {}

    def _bucket(self, tenant: str | None) -> str:
        period = "all" if self.period_s is None else str(int(self._clock() // self.period_s))
        return f"{self.prefix}:{tenant or self.default_tenant}:{period}"

    def _totals(self, tenant: str | None, bucket: str) -> dict[str, float]:
        """The remembered totals of `bucket` (fresh zeros when the period moved on)."""
        name = tenant or self.default_tenant
        seen = self._seen.get(name)
        if seen is None or seen[0] != bucket:
            seen = (bucket, {"cost": 0.0, "tokens": 0.0})
            self._seen[name] = seen
        return seen[1]

    async def spent(self, tenant: str | None) -> tuple[float, int]:
        """(USD, tokens) spent by `tenant` in the current period, read from the store."""
        bucket = self._bucket(tenant)
        cost = float(await self.store.get(f"{bucket}:cost_usd") or 0)
        tokens = float(await self.store.get(f"{bucket}:tokens") or 0)
        self._totals(tenant, bucket).update(cost=cost, tokens=tokens)
        return cost, int(tokens)

    def spend(self, tenant_id: str | None) -> dict[str, float]:
        """Current accumulated spend for a tenant: `{"cost": USD, "tokens": tokens}`.

        The totals as this process last read or banked them (exact for a process-local
        store; with a store shared by several workers, `await spent(tenant)` reads the
        latest)."""
        return dict(self._totals(tenant_id, self._bucket(tenant_id)))

    async def before_model(self, ctx: StepContext[Any]) -> None:
        cost, tokens = await self.spent(ctx.tenant_id)
        tenant = ctx.tenant_id or self.default_tenant
        if self.max_cost_usd is not None and cost >= self.max_cost_usd:
            raise StopRun(
                StopReason.MAX_COST,
                f"{self.message}: tenant '{tenant}' spent ${cost:.4f} of its "
                f"${self.max_cost_usd:g} budget",
            )
        if self.max_tokens is not None and tokens >= self.max_tokens:
            raise StopRun(
                StopReason.MAX_TOKENS,
                f"{self.message}: tenant '{tenant}' used {tokens} of its "
                f"{self.max_tokens} token budget",
            )

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if ctx.response is None:
            return
        usage = ctx.response.usage
        bucket = self._bucket(ctx.tenant_id)
        seen = self._totals(ctx.tenant_id, bucket)
        ttl = self.period_s
        if usage.cost_usd:
            seen["cost"] = await self.store.incr(f"{bucket}:cost_usd", usage.cost_usd, ttl_s=ttl)
        if usage.total_tokens:
            seen["tokens"] = await self.store.incr(
                f"{bucket}:tokens", usage.total_tokens, ttl_s=ttl
            )
