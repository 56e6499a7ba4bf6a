from __future__ import annotations

import pytest

from spine_core import Agent, Guards, ProviderError, ScriptedProvider, StopReason
from spine_middleware import Retry

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def rate_limited(retry_after_s: float | None = None) -> ProviderError:
    return ProviderError("slow down", kind="rate_limit", status=429, retry_after_s=retry_after_s)


async def test_retry_waits_at_least_retry_after(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(7.5), "done"])
    retry = Retry(base_delay_s=0.5, sleep=clock.sleep, random=lambda: 0.5)
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.answer == "done"
    assert clock.sleeps == [7.5]
    assert len(provider.calls) == 2


async def test_retry_uses_full_jitter_capped_backoff(clock: FakeClock) -> None:
    errors = [ProviderError("down", kind="server", status=503) for _ in range(4)]
    provider = ScriptedProvider([*errors, "ok"])
    retry = Retry(
        max_attempts=5, base_delay_s=1.0, max_delay_s=3.0, sleep=clock.sleep, random=lambda: 0.999
    )
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.ok
    assert clock.sleeps == pytest.approx([0.999, 1.998, 2.997, 2.997])


async def test_retry_does_not_retry_auth_errors(clock: FakeClock) -> None:
    provider = ScriptedProvider([ProviderError("bad key", kind="auth", status=401), "never"])
    result = await Agent(provider, middleware=[Retry(sleep=clock.sleep)]).run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and result.error["kind"] == "auth"
    assert len(provider.calls) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("kind", ["bad_request", "context_length"])
async def test_retry_skips_request_errors(kind: str, clock: FakeClock) -> None:
    provider = ScriptedProvider([ProviderError("no", kind=kind, status=400), "never"])
    result = await Agent(provider, middleware=[Retry(sleep=clock.sleep)]).run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert len(provider.calls) == 1


async def test_retry_gives_up_after_max_attempts(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited() for _ in range(5)])
    result = await Agent(provider, middleware=[Retry(max_attempts=3, sleep=clock.sleep)]).run("x")
    assert result.stopped_reason is StopReason.ERROR
    assert len(provider.calls) == 3
    assert len(clock.sleeps) == 2


async def test_retry_never_waits_past_the_run_timeout(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(retry_after_s=600.0), "late"])
    agent = Agent(provider, middleware=[Retry(sleep=clock.sleep)], guards=Guards(timeout_s=30))
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert clock.sleeps == []
    assert len(provider.calls) == 1


def test_retry_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        Retry(max_attempts=0)
