from __future__ import annotations

import anyio
import pytest

from spine_core import Agent, InMemoryKeyValueStore, ScriptedProvider
from spine_middleware import RateLimit

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


async def test_max_calls_per_window_then_paced(clock: FakeClock) -> None:
    limit = RateLimit(2, per_s=1.0, clock=clock, sleep=clock.sleep)
    agent = Agent(ScriptedProvider(["a", "b", "c", "d"]), middleware=[limit])
    for _ in range(4):
        await agent.run("hi")
    # a full bucket admits max_calls at once, then one call per per_s / max_calls seconds
    assert clock.sleeps == pytest.approx([0.5, 0.5])


async def test_per_s_defaults_to_one_second(clock: FakeClock) -> None:
    limit = RateLimit(1, clock=clock, sleep=clock.sleep)
    assert [await limit.acquire("k") for _ in range(3)] == pytest.approx([0.0, 1.0, 1.0])


async def test_waiting_calls_never_share_a_slot(clock: FakeClock) -> None:
    # The reference's bucket let two calls through at once after a sleep. Here every call
    # reserves its own slot before waiting: with a clock that does not move, three
    # back-to-back calls are scheduled 0, 1 and 2 seconds out.
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    limit = RateLimit(1, per_s=1.0, clock=clock, sleep=record)
    for _ in range(3):
        await limit.acquire("k")
    assert waits == pytest.approx([1.0, 2.0])


async def test_concurrent_runs_are_spread_out() -> None:
    limit = RateLimit(1, per_s=0.05)
    provider = ScriptedProvider(["x"] * 4)
    agent = Agent(provider, middleware=[limit])
    started = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(agent.run, "hi")
    assert anyio.current_time() - started >= 0.15 - 0.01


async def test_burst_then_paces(clock: FakeClock) -> None:
    limit = RateLimit(requests_per_second=1, burst=3, clock=clock, sleep=clock.sleep)
    agent = Agent(ScriptedProvider(["x"] * 5), middleware=[limit])
    for _ in range(5):
        await agent.run("hi")
    assert clock.sleeps == pytest.approx([1.0, 1.0])


async def test_requests_per_second_defaults_to_no_burst(clock: FakeClock) -> None:
    limit = RateLimit(requests_per_second=2, clock=clock, sleep=clock.sleep)
    agent = Agent(ScriptedProvider(["a", "b", "c", "d"]), middleware=[limit])
    for _ in range(4):
        await agent.run("hi")
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5])


async def test_idle_bucket_refills(clock: FakeClock) -> None:
    limit = RateLimit(2, per_s=2.0, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        assert await limit.acquire("k") == 0
    clock.advance(60)
    for _ in range(2):
        assert await limit.acquire("k") == 0
    assert await limit.acquire("k") == pytest.approx(1.0)


async def test_workers_sharing_a_store_share_one_budget(clock: FakeClock) -> None:
    store = InMemoryKeyValueStore(clock=clock)
    worker_a = RateLimit(1, store=store, clock=clock, sleep=clock.sleep)
    worker_b = RateLimit(1, store=store, clock=clock, sleep=clock.sleep)
    assert await worker_a.acquire("spine:ratelimit:global") == 0
    assert await worker_b.acquire("spine:ratelimit:global") == pytest.approx(1.0)
    separate = RateLimit(1, clock=clock, sleep=clock.sleep)
    assert await separate.acquire("spine:ratelimit:global") == 0


async def test_model_scope_keeps_separate_buckets(clock: FakeClock) -> None:
    limit = RateLimit(1, scope="model", clock=clock, sleep=clock.sleep)
    await Agent(ScriptedProvider(["a"], model="one"), middleware=[limit]).run("hi")
    await Agent(ScriptedProvider(["b"], model="two"), middleware=[limit]).run("hi")
    assert clock.sleeps == []


async def test_tenant_scope_keeps_separate_buckets(clock: FakeClock) -> None:
    limit = RateLimit(1, scope="tenant", clock=clock, sleep=clock.sleep)
    provider = ScriptedProvider(["a", "b", "c"])
    await Agent(provider, middleware=[limit], tenant_id="acme").run("hi")
    await Agent(provider, middleware=[limit], tenant_id="globex").run("hi")
    assert clock.sleeps == []
    await Agent(provider, middleware=[limit], tenant_id="acme").run("hi")
    assert clock.sleeps == pytest.approx([1.0])


def test_rate_limit_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        RateLimit(0)
    with pytest.raises(ValueError):
        RateLimit(1, per_s=0)
    with pytest.raises(ValueError):
        RateLimit(requests_per_second=0)
    with pytest.raises(ValueError):
        RateLimit(1, burst=0)
    with pytest.raises(ValueError):
        RateLimit()
