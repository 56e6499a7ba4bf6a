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
        threshold=2,
        cooldown_s=30,
        store=store,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_documented_defaults() -> None:
    cb = CircuitBreaker()
    assert (cb.threshold, cb.cooldown_s) == (5, 30.0)
    assert cb.message == "circuit breaker open: too many recent failures"


async def test_breaker_opens_half_opens_and_closes(clock: FakeClock) -> None:
    cb = breaker(clock, message="model is resting")
    provider = ScriptedProvider([down(), down(), "probe ok", "after close"], model="m")
    agent = Agent(provider, middleware=[cb])

    for _ in range(2):
        assert (await agent.run("hi")).stopped_reason is StopReason.ERROR
    assert await cb.state(provider) is CircuitState.OPEN

    refused = await agent.run("hi")
    assert refused.stopped_reason is StopReason.ERROR
    assert refused.error is not None and "model is resting" in refused.error
    assert len(provider.calls) == 2  # failed fast, provider not called

    clock.advance(30)
    assert await cb.state(provider) is CircuitState.HALF_OPEN
    assert (await agent.run("hi")).answer == "probe ok"
    assert await cb.state(provider) is CircuitState.CLOSED
    assert (await agent.run("hi")).answer == "after close"


async def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    cb = breaker(clock)
    provider = ScriptedProvider([down(), "fine", down(), "still fine"], model="m")
    agent = Agent(provider, middleware=[cb])
    for _ in range(4):
        await agent.run("hi")
    assert await cb.state(provider) is CircuitState.CLOSED
    assert len(provider.calls) == 4


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


async def test_circuits_are_per_model(clock: FakeClock) -> None:
    cb = breaker(clock)
    failing = ScriptedProvider([down(), down()], model="failing")
    healthy = ScriptedProvider(["ok"], model="healthy")
    for _ in range(2):
        await Agent(failing, middleware=[cb]).run("hi")
    assert await cb.state(failing) is CircuitState.OPEN
    assert (await Agent(healthy, middleware=[cb]).run("hi")).answer == "ok"


async def test_open_circuit_fails_fast_to_the_fallback(clock: FakeClock) -> None:
    cb = breaker(clock)
    primary = ScriptedProvider([down(), down()], model="primary")
    backup = ScriptedProvider(["b1", "b2", "b3"], model="backup")
    retry = Retry(3, sleep=clock.sleep, random=lambda: 0.0)
    agent = Agent(primary, middleware=[ModelFallback(backup), retry, cb])
    first = await agent.run("hi")  # two failures open the circuit; the retry is refused
    assert first.answer == "b1"
    second = await agent.run("hi")  # open: on_error still runs, so the fallback takes over
    assert second.answer == "b2"
    assert len(primary.calls) == 2


async def test_streaming_calls_pass_the_breaker_too(clock: FakeClock) -> None:
    cb = breaker(clock)
    provider = ScriptedProvider([down(), down(), "never"], model="m")
    agent = Agent(provider, middleware=[cb])
    for _ in range(2):
        stream = agent.stream("hi")
        async for _event in stream:
            pass
    assert await cb.state(provider) is CircuitState.OPEN
    stream = agent.stream("hi")
    async for _event in stream:
        pass
    assert stream.result is not None and stream.result.stopped_reason is StopReason.ERROR
    assert len(provider.calls) == 2


def test_earlier_parameter_names_still_work() -> None:
    cb = CircuitBreaker(failure_threshold=3, reset_timeout_s=9)
    assert (cb.threshold, cb.cooldown_s) == (3, 9)
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=0)
