from __future__ import annotations

import pytest

from spine_core import Agent, InMemoryKeyValueStore, ScriptedProvider
from spine_middleware import RateLimit

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


async def test_rate_limit_paces_calls(clock: FakeClock) -> None:
    limit = RateLimit(requests_per_second=2, clock=clock, sleep=clock.sleep)
    agent = Agent(ScriptedProvider(["a", "b", "c", "d"]), middleware=[limit])
    for _ in range(4):
        await agent.run("hi")
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5])


async def test_rate_limit_allows_a_burst_then_paces(clock: FakeClock) -> None:
    limit = RateLimit(requests_per_second=1, burst=3, clock=clock, sleep=clock.sleep)
    agent = Agent(ScriptedProvider(["x"] * 5), middleware=[limit])
    for _ in range(5):
        await agent.run("hi")
    assert clock.sleeps == pytest.approx([1.0, 1.0])


async def test_idle_bucket_refills(clock: FakeClock) -> None:
    limit = RateLimit(requests_per_second=1, burst=2, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        assert await limit.acquire("k") == 0
    clock.advance(60)
    for _ in range(2):
        assert await limit.acquire("k") == 0
    assert await limit.acquire("k") == pytest.approx(1.0)


async def test_workers_sharing_a_store_share_one_budget(clock: FakeClock) -> None:
    store = InMemoryKeyValueStore(clock=clock)
    worker_a = RateLimit(requests_per_second=1, store=store, clock=clock, sleep=clock.sleep)
    worker_b = RateLimit(requests_per_second=1, store=store, clock=clock, sleep=clock.sleep)
    assert await worker_a.acquire("spine:ratelimit:global") == 0
    assert await worker_b.acquire("spine:ratelimit:global") == pytest.approx(1.0)
    separate = RateLimit(requests_per_second=1, clock=clock, sleep=clock.sleep)
    assert await separate.acquire("spine:ratelimit:global") == 0


async def test_model_scope_keeps_separate_buckets(clock: FakeClock) -> None:
    limit = RateLimit(requests_per_second=1, scope="model", clock=clock, sleep=clock.sleep)
    await Agent(ScriptedProvider(["a"], model="one"), middleware=[limit]).run("hi")
    await Agent(ScriptedProvider(["b"], model="two"), middleware=[limit]).run("hi")
    assert clock.sleeps == []


def test_rate_limit_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        RateLimit(requests_per_second=0)
    with pytest.raises(ValueError):
        RateLimit(requests_per_second=1, burst=0)
