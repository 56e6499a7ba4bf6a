from __future__ import annotations

import pytest

from spine_core import Agent, InMemoryKeyValueStore, ProviderError, ScriptedProvider, StopReason
from spine_middleware import CircuitBreaker, CircuitOpenError, CircuitState, ModelFallback, Retry

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def down() -> ProviderError:
    return ProviderError("down", kind="server", status=503)


def breaker(clock: FakeClock, **kwargs: object) -> CircuitBreaker:
    store = InMemoryKeyValueStore(clock=clock)
    return CircuitBreaker(
        failure_threshold=2,
        reset_timeout_s=30,
        store=store,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_breaker_opens_half_opens_and_closes(clock: FakeClock) -> None:
    cb = breaker(clock)
    provider = ScriptedProvider([down(), down(), "probe ok", "after close"], model="m")
    agent = Agent(provider, middleware=[cb])

    for _ in range(2):
        assert (await agent.run("hi")).stopped_reason is StopReason.ERROR
    assert await cb.state(provider) is CircuitState.OPEN

    refused = await agent.run("hi")
    assert refused.stopped_reason is StopReason.ERROR
    assert "circuit open" in refused.message
    assert len(provider.calls) == 2  # failed fast, provider not called

    clock.advance(30)
    assert await cb.state(provider) is CircuitState.HALF_OPEN
    assert (await agent.run("hi")).answer == "probe ok"
    assert await cb.state(provider) is CircuitState.CLOSED
    assert (await agent.run("hi")).answer == "after close"


async def test_failed_probe_reopens_the_circuit(clock: FakeClock) -> None:
    cb = breaker(clock)
    provider = ScriptedProvider([down(), down(), down()], model="m")
    agent = Agent(provider, middleware=[cb])
    for _ in range(2):
        await agent.run("hi")
    clock.advance(30)
    await agent.run("hi")
    assert len(provider.calls) == 3
    assert await cb.state(provider) is CircuitState.OPEN


async def test_half_open_admits_exactly_one_probe(clock: FakeClock) -> None:
    cb = breaker(clock)
    provider = ScriptedProvider([], model="m")
    for _ in range(2):
        await cb.record_failure(provider, False, down())
    clock.advance(30)
    assert await cb.acquire(provider) is True
    with pytest.raises(CircuitOpenError):
        await cb.acquire(provider)


async def test_request_errors_do_not_open_the_circuit(clock: FakeClock) -> None:
    cb = breaker(clock)
    bad = ProviderError("bad", kind="bad_request", status=400)
    provider = ScriptedProvider([bad, bad, bad, "fine"], model="m")
    agent = Agent(provider, middleware=[cb])
    for _ in range(3):
        await agent.run("hi")
    assert await cb.state(provider) is CircuitState.CLOSED
    assert (await agent.run("hi")).answer == "fine"


async def test_open_circuit_fails_fast_to_the_fallback(clock: FakeClock) -> None:
    cb = breaker(clock)
    primary = ScriptedProvider([down(), down()], model="primary")
    backup = ScriptedProvider(["b1", "b2", "b3"], model="backup")
    retry = Retry(max_attempts=3, sleep=clock.sleep, random=lambda: 0.0)
    agent = Agent(primary, middleware=[ModelFallback(models=[backup]), retry, cb])
    first = await agent.run("hi")  # two failures open the circuit; the retry is refused
    assert first.answer == "b1"
    second = await agent.run("hi")
    assert second.answer == "b2"
    assert len(primary.calls) == 2
