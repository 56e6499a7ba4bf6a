from __future__ import annotations

from typing import Any

import pytest

from spine_core import Agent, InMemoryKeyValueStore, Result, ScriptedProvider, StopReason
from spine_middleware import CostTracking, TenantBudget

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def stop_message(result: Result) -> str:
    """The StopRun message, as the guard_trip trace event records it."""
    trips = [e for e in result.trace if e.type == "guard_trip"]
    return str(trips[-1].data.get("message", ""))


def agent(budget: TenantBudget, tenant: str | None, answers: int = 5) -> Agent:
    # 400 characters -> 100 output tokens at $10,000 per million: $1 per answer
    provider = ScriptedProvider(["x" * 400] * answers, model="priced")
    return Agent(provider, middleware=[budget, CostTracking(0.0, 10_000.0)], tenant_id=tenant)


async def test_tenant_is_stopped_once_its_budget_is_spent() -> None:
    budget = TenantBudget(max_cost_usd=2.0)
    acme = agent(budget, "acme")
    assert (await acme.run("a")).ok
    assert (await acme.run("b")).ok
    blocked = await acme.run("c")
    assert blocked.stopped_reason is StopReason.MAX_COST
    assert stop_message(blocked).startswith("tenant budget exceeded")
    assert "acme" in stop_message(blocked)
    assert (await agent(budget, "globex").run("a")).ok  # another tenant is unaffected


async def test_spend_reports_cost_and_tokens_per_tenant() -> None:
    budget = TenantBudget(max_cost_usd=100.0)
    acme = agent(budget, "acme")
    await acme.run("a")
    await acme.run("b")
    spend = budget.spend("acme")
    assert spend["cost"] == pytest.approx(2.0)
    assert spend["tokens"] > 200  # two answers of 100 output tokens plus the prompts
    assert budget.spend("globex") == {"cost": 0.0, "tokens": 0.0}
    cost, tokens = await budget.spent("acme")
    assert cost == pytest.approx(2.0) and tokens == int(spend["tokens"])


async def test_token_ceiling_stops_with_max_tokens() -> None:
    budget = TenantBudget(max_tokens=100, message="quota used up")
    acme = agent(budget, "acme")
    await acme.run("a")
    blocked = await acme.run("b")
    assert blocked.stopped_reason is StopReason.MAX_TOKENS
    assert stop_message(blocked).startswith("quota used up")


async def test_the_stop_message_is_the_answer() -> None:
    budget = TenantBudget(max_cost_usd=1.0)
    acme = agent(budget, "acme")
    await acme.run("a")
    blocked = await acme.run("b", session_id="fresh")
    assert blocked.answer is not None and blocked.answer.startswith("tenant budget exceeded")


async def test_without_ceilings_it_only_tracks_spend() -> None:
    budget = TenantBudget()
    runs = agent(budget, None)
    for _ in range(3):
        assert (await runs.run("a")).ok
    assert budget.spend(None)["cost"] == pytest.approx(3.0)


async def test_workers_share_the_tenant_total() -> None:
    store = InMemoryKeyValueStore()
    worker_a = agent(TenantBudget(max_tokens=150, store=store), "acme")
    worker_b = agent(TenantBudget(max_tokens=150, store=store), "acme")
    await worker_a.run("a")
    await worker_b.run("a")
    assert (await worker_a.run("a")).stopped_reason is StopReason.MAX_TOKENS
    assert (await worker_b.run("a")).stopped_reason is StopReason.MAX_TOKENS


async def test_a_dict_store_is_shared_between_instances() -> None:
    shared: dict[str, Any] = {}
    first = TenantBudget(max_cost_usd=1.0, store=shared)
    second = TenantBudget(max_cost_usd=1.0, store=shared)
    assert (await agent(first, "acme").run("a")).ok
    assert (await agent(second, "acme").run("a")).stopped_reason is StopReason.MAX_COST
    assert second.spend("acme")["cost"] == pytest.approx(1.0)


async def test_budget_resets_with_the_period(clock: FakeClock) -> None:
    store = InMemoryKeyValueStore(clock=clock)
    budget = TenantBudget(max_cost_usd=1.0, period_s=86_400, store=store, clock=clock)
    acme = agent(budget, "acme")
    await acme.run("a")
    assert (await acme.run("b")).stopped_reason is StopReason.MAX_COST
    clock.advance(86_400)
    assert budget.spend("acme")["cost"] == 0.0
    assert (await acme.run("c")).ok
