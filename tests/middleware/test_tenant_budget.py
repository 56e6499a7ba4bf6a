from __future__ import annotations

import pytest

from spine_core import Agent, InMemoryKeyValueStore, ScriptedProvider, StopReason
from spine_middleware import CostTracking, TenantBudget

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def agent(budget: TenantBudget, tenant: str, answers: int = 5) -> Agent:
    provider = ScriptedProvider(["x" * 400] * answers, model="priced")
    pricing = CostTracking(prices={"priced": {"input": 0.0, "output": 10_000.0}})  # $1 / 100 tokens
    return Agent(provider, middleware=[budget, pricing], tenant_id=tenant)


async def test_tenant_is_stopped_once_its_budget_is_spent() -> None:
    budget = TenantBudget(max_cost_usd=2.0)
    acme = agent(budget, "acme")
    assert (await acme.run("a")).ok
    assert (await acme.run("b")).ok
    blocked = await acme.run("c")
    assert blocked.stopped_reason is StopReason.MAX_COST
    assert "acme" in blocked.message
    assert (await agent(budget, "globex").run("a")).ok  # another tenant is unaffected


async def test_workers_share_the_tenant_total() -> None:
    store = InMemoryKeyValueStore()
    worker_a = agent(TenantBudget(max_tokens=150, store=store), "acme")
    worker_b = agent(TenantBudget(max_tokens=150, store=store), "acme")
    await worker_a.run("a")
    await worker_b.run("a")
    assert (await worker_a.run("a")).stopped_reason is StopReason.MAX_COST
    assert (await worker_b.run("a")).stopped_reason is StopReason.MAX_COST


async def test_budget_resets_with_the_period(clock: FakeClock) -> None:
    store = InMemoryKeyValueStore(clock=clock)
    budget = TenantBudget(max_cost_usd=1.0, period_s=86_400, store=store, clock=clock)
    acme = agent(budget, "acme")
    await acme.run("a")
    assert (await acme.run("b")).stopped_reason is StopReason.MAX_COST
    clock.advance(86_400)
    assert (await acme.run("c")).ok
