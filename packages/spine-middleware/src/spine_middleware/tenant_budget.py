"""`TenantBudget`: cumulative cost and token ceilings per tenant, shared across workers."""

from __future__ import annotations

import time
from collections.abc import Callable

from spine_core import (
    InMemoryKeyValueStore,
    KeyValueStore,
    Middleware,
    ModelResponse,
    StepContext,
    StopReason,
    StopRun,
)

__all__ = ["TenantBudget"]


class TenantBudget(Middleware):
    """Stop runs of a tenant whose cumulative spend reached its ceiling.

    Spend is banked after each model call with atomic `KeyValueStore.incr` (INCRBYFLOAT on
    Redis) under `<prefix>:<tenant>:<period>:cost_usd` / `:tokens`, so every worker sharing
    the store sees one total. Before each model call the totals are read; at or over a ceiling
    the run stops with `StopReason.max_cost` (also for the token ceiling, since both are
    spending limits). Like `Guards`, a ceiling may be overshot by the one call in flight.
    Runs without a `tenant_id` are charged to `default_tenant`.

    Cost comes from `Usage.cost_usd`: list `CostTracking` after `TenantBudget` (inner to it)
    so the cost is filled before this middleware banks it.

    Args:
        max_cost_usd: Ceiling per tenant and period, USD.
        max_tokens: Ceiling per tenant and period, input + output tokens.
        period_s: Length of a budget period in seconds (e.g. 86400 for daily budgets, keys
            expire with the period); None for a lifetime budget.
        default_tenant: Tenant charged when a run has no `tenant_id`.
        store: Shared store (default: a process-local `InMemoryKeyValueStore`).
        prefix: Key prefix in the store.
        clock: Epoch seconds (periods are aligned to the epoch).

    Raises:
        ValueError: neither ceiling given.
    """

    def __init__(
        self,
        *,
        max_cost_usd: float | None = None,
        max_tokens: int | None = None,
        period_s: float | None = None,
        default_tenant: str = "default",
        store: KeyValueStore | None = None,
        prefix: str = "spine:budget",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_cost_usd is None and max_tokens is None:
            raise ValueError("TenantBudget needs max_cost_usd or max_tokens")
        self.max_cost_usd = max_cost_usd
        self.max_tokens = max_tokens
        self.period_s = period_s
        self.default_tenant = default_tenant
        self.store: KeyValueStore = store or InMemoryKeyValueStore()
        self.prefix = prefix
        self._clock = clock

    def _key(self, tenant: str | None, what: str) -> str:
        period = "all" if self.period_s is None else str(int(self._clock() // self.period_s))
        return f"{self.prefix}:{tenant or self.default_tenant}:{period}:{what}"

    async def spent(self, tenant: str | None) -> tuple[float, int]:
        """(USD, tokens) spent by `tenant` in the current period."""
        cost = await self.store.get(self._key(tenant, "cost_usd"))
        tokens = await self.store.get(self._key(tenant, "tokens"))
        return float(cost or 0), int(float(tokens or 0))

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        cost, tokens = await self.spent(ctx.tenant_id)
        tenant = ctx.tenant_id or self.default_tenant
        if self.max_cost_usd is not None and cost >= self.max_cost_usd:
            raise StopRun(
                StopReason.MAX_COST,
                f"tenant '{tenant}' spent ${cost:.4f} of its ${self.max_cost_usd:g} budget",
            )
        if self.max_tokens is not None and tokens >= self.max_tokens:
            raise StopRun(
                StopReason.MAX_COST,
                f"tenant '{tenant}' used {tokens} of its {self.max_tokens} token budget",
            )
        return None

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        usage = response.usage
        ttl = self.period_s
        if usage.cost_usd:
            await self.store.incr(self._key(ctx.tenant_id, "cost_usd"), usage.cost_usd, ttl_s=ttl)
        if usage.total_tokens:
            await self.store.incr(self._key(ctx.tenant_id, "tokens"), usage.total_tokens, ttl_s=ttl)
        return None
