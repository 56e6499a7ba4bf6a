from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    Guards,
    Message,
    ProviderError,
    ScriptedProvider,
    StopReason,
    ToolCall,
    resolve,
    tool,
)
from spine_middleware import Retry

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def rate_limited(retry_after_s: float | None = None) -> ProviderError:
    return ProviderError("slow down", kind="rate_limit", status=429, retry_after_s=retry_after_s)


def down() -> ProviderError:
    return ProviderError("down", kind="server", status=503)


def test_documented_defaults() -> None:
    retry = Retry()
    assert (retry.max_attempts, retry.base, retry.factor, retry.max_delay, retry.jitter) == (
        3,
        0.1,
        2.0,
        10.0,
        True,
    )


async def test_backoff_without_jitter_grows_by_factor_up_to_max_delay(clock: FakeClock) -> None:
    provider = ScriptedProvider([down(), down(), down(), "ok"])
    retry = Retry(4, base=1.0, factor=3.0, max_delay=5.0, jitter=False, sleep=clock.sleep)
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.answer == "ok"
    assert clock.sleeps == [1.0, 3.0, 5.0]
    assert len(provider.calls) == 4


async def test_full_jitter_draws_below_the_capped_backoff(clock: FakeClock) -> None:
    errors = [down() for _ in range(4)]
    provider = ScriptedProvider([*errors, "ok"])
    retry = Retry(5, base=1.0, max_delay=3.0, sleep=clock.sleep, random=lambda: 0.999)
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.ok
    assert clock.sleeps == pytest.approx([0.999, 1.998, 2.997, 2.997])


async def test_retry_waits_at_least_retry_after(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(7.5), "done"])
    retry = Retry(base=0.5, sleep=clock.sleep, random=lambda: 0.5)
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.answer == "done"
    assert clock.sleeps == [7.5]
    assert len(provider.calls) == 2


async def test_retry_does_not_retry_auth_errors(clock: FakeClock) -> None:
    provider = ScriptedProvider([ProviderError("bad key", kind="auth", status=401), "never"])
    result = await Agent(provider, middleware=[Retry(sleep=clock.sleep)]).run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert result.error_detail is not None and result.error_detail["kind"] == "auth"
    assert result.error is not None and "bad key" in result.error
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
    result = await Agent(provider, middleware=[Retry(3, sleep=clock.sleep)]).run("x")
    assert result.stopped_reason is StopReason.ERROR
    assert len(provider.calls) == 3
    assert len(clock.sleeps) == 2


async def test_attempts_are_counted_per_step(clock: FakeClock) -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    call = Message.assistant(tool_calls=[ToolCall(id="1", name="ping")])
    provider = ScriptedProvider([down(), call, down(), "done"])
    result = await Agent(provider, tools=[ping], middleware=[Retry(2, sleep=clock.sleep)]).run("x")
    assert result.answer == "done"  # each step had its own single retry
    assert len(provider.calls) == 4


async def test_retry_never_waits_past_the_run_timeout(clock: FakeClock) -> None:
    provider = ScriptedProvider([rate_limited(retry_after_s=600.0), "late"])
    agent = Agent(provider, middleware=[Retry(sleep=clock.sleep)], guards=Guards(timeout_s=30))
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert clock.sleeps == []
    assert len(provider.calls) == 1


async def test_tool_errors_are_not_retried(clock: FakeClock) -> None:
    runs: list[int] = []

    @tool
    def flaky() -> str:
        """Fails."""
        runs.append(1)
        raise RuntimeError("boom")

    call = Message.assistant(tool_calls=[ToolCall(id="1", name="flaky")])
    provider = ScriptedProvider([call, "gave up"])
    result = await Agent(provider, tools=[flaky], middleware=[Retry(sleep=clock.sleep)]).run("x")
    assert result.answer == "gave up"
    assert runs == [1]
    assert result.state.messages[-2].is_error


def test_earlier_parameter_names_still_work() -> None:
    retry = resolve("spine.middleware", "retry", max_attempts=4, base_delay_s=0.5, max_delay_s=30)
    assert isinstance(retry, Retry)
    assert (retry.max_attempts, retry.base, retry.max_delay) == (4, 0.5, 30)


def test_retry_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Retry(0)
    with pytest.raises(ValueError):
        Retry(base=-1)
    with pytest.raises(ValueError):
        Retry(factor=0.5)
