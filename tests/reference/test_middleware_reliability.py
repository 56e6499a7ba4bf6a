"""spine_middleware's reliability middleware called exactly as the Spine API reference shows:
Retry, ModelFallback, LoopGuard, CircuitBreaker, RateLimit, Idempotency, ToolTimeout, with the
reference's own bugs fixed (DESIGN.md §6, issue 13)."""

from __future__ import annotations

import email.utils
import inspect
import itertools
import math
import time
import types
from typing import Any

import anyio
import pytest

from spine_core import (
    Agent,
    ErrorAction,
    ProviderError,
    StopReason,
    tool,
)
from spine_middleware import (
    CircuitBreaker,
    Idempotency,
    LoopGuard,
    ModelFallback,
    RateLimit,
    Retry,
    ToolTimeout,
)

from .refkit import EMPTY, KEEP, KW, POS, RefProvider, ask, documented, respond, tool_results

pytestmark = pytest.mark.anyio

runs: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    runs.clear()


@tool
async def charge(amount: int) -> str:
    """Charge a card.

    Args:
        amount: Cents.
    """
    runs.append(f"charge {amount}")
    return f"charged {amount}"


@tool
async def flaky(amount: int) -> str:
    """Fails the first time.

    Args:
        amount: Cents.
    """
    runs.append(f"flaky {amount}")
    if runs.count(f"flaky {amount}") == 1:
        raise RuntimeError("card network down")
    return f"charged {amount}"


@tool
async def slow() -> str:
    """Takes too long."""
    await anyio.sleep(30)
    return "never"


def _rate_limited(message: str = "slow down", **headers: str) -> ProviderError:
    """A ProviderError as spine-providers raises it: the SDK error (with its HTTP response) is
    kept as `__cause__`."""
    error = ProviderError(message, kind="rate_limit", status=429)
    cause = RuntimeError("429")
    cause.response = types.SimpleNamespace(status_code=429, headers=headers)  # type: ignore[attr-defined]
    error.__cause__ = cause
    return error


def _raiser(error: Exception) -> Any:
    def reply(messages: Any, tools: Any) -> Any:
        raise error

    return reply


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# -- Retry ---------------------------------------------------------------------------------


def test_retry_signature() -> None:
    assert documented(
        Retry,
        ("max_attempts", POS, 3),
        ("base", KW, 0.1),
        ("factor", KW, 2.0),
        ("max_delay", KW, 10.0),
        ("jitter", KW, True),
    )
    retry = Retry(5, base=0.5, factor=3.0, max_delay=4.0, jitter=False)
    assert (retry.max_attempts, retry.base, retry.factor, retry.max_delay, retry.jitter) == (
        5,
        0.5,
        3.0,
        4.0,
        False,
    )


async def test_retry_reissues_a_failed_call_with_capped_exponential_backoff() -> None:
    sleeps = Sleeps()
    failures = [ProviderError("busy", kind="overloaded") for _ in range(3)]

    def reply(messages: Any, tools: Any) -> Any:
        if failures:
            raise failures.pop()
        return respond("recovered")

    provider = RefProvider([reply] * 4)
    retry = Retry(4, base=1.0, factor=2.0, max_delay=3.0, jitter=False, sleep=sleeps)
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.answer == "recovered"
    assert sleeps.calls == [1.0, 2.0, 3.0]  # base * factor**attempt, capped at max_delay


async def test_retry_caps_a_provider_wait_instead_of_parking_the_worker() -> None:
    """Bug fix: Retry-After `inf`, `1e309` or an HTTP-date a week ahead parked a worker."""
    week = email.utils.formatdate(time.time() + 7 * 86400, usegmt=True)
    for headers in ({"retry-after": "inf"}, {"retry-after": "1e309"}, {"retry-after": week}):
        sleeps = Sleeps()
        provider = RefProvider([_raiser(_rate_limited(**headers))])
        result = await Agent(provider, middleware=[Retry(3, sleep=sleeps)]).run("hi")
        assert result.stopped_reason is StopReason.ERROR, headers
        assert sleeps.calls == [] and len(provider.calls) == 1


async def test_retry_honours_x_should_retry_false() -> None:
    sleeps = Sleeps()

    def fail(messages: Any, tools: Any) -> Any:
        raise _rate_limited(**{"x-should-retry": "false"})

    provider = RefProvider([fail, fail])
    result = await Agent(provider, middleware=[Retry(3, sleep=sleeps)]).run("hi")
    assert result.stopped_reason is StopReason.ERROR and len(provider.calls) == 1


async def test_retry_reads_try_again_in_1m30s_as_90_seconds() -> None:
    sleeps = Sleeps()
    calls = iter([_rate_limited("Rate limit reached. Please try again in 1m30s. Visit ...")])

    def reply(messages: Any, tools: Any) -> Any:
        for error in calls:
            raise error
        return respond("ok")

    provider = RefProvider([reply, reply])
    retry = Retry(3, max_retry_after_s=120, jitter=False, sleep=sleeps)
    result = await Agent(provider, middleware=[retry]).run("hi")
    assert result.answer == "ok" and sleeps.calls == [90.0]


# -- ModelFallback ---------------------------------------------------------------------------


async def test_model_fallback_takes_providers_positionally() -> None:
    assert documented(ModelFallback, ("providers", inspect.Parameter.VAR_POSITIONAL, EMPTY))
    down = RefProvider([_raiser(ProviderError("down", kind="server"))])
    backup = RefProvider(["from the backup"])
    result = await Agent(down, middleware=[ModelFallback(backup)]).run("hi")
    assert result.answer == "from the backup"
    with pytest.raises(ValueError):
        ModelFallback()


async def test_model_fallback_returns_the_documented_action() -> None:
    class Ctx:
        extra: dict[str, Any] = {}
        step = 1
        provider: Any = None

    fallback = ModelFallback(RefProvider(["x"]))
    ctx: Any = Ctx()
    assert await fallback.on_error(ctx, ProviderError("down")) is ErrorAction.FALLBACK


# -- LoopGuard -------------------------------------------------------------------------------


def test_loop_guard_signature() -> None:
    assert documented(LoopGuard, ("window", POS, 4), ("max_repeats", POS, 3))


async def test_loop_guard_stops_a_repeated_tool_action() -> None:
    provider = RefProvider([ask("charge", f"c{i}", amount=1) for i in range(6)])
    agent = Agent(provider, tools=[charge], middleware=[LoopGuard(window=3, max_repeats=2)])
    result = await agent.run("go")
    assert result.stopped_reason is StopReason.LOOP
    assert runs == ["charge 1"]


# -- CircuitBreaker --------------------------------------------------------------------------


def test_circuit_breaker_signature() -> None:
    assert documented(
        CircuitBreaker,
        ("threshold", KW, 5),
        ("cooldown_s", KW, 30.0),
        ("message", KW, "circuit breaker open: too many recent failures"),
    )


async def test_circuit_breaker_opens_and_a_fallback_takes_over() -> None:
    """Bug fix: the reference raised StopRun from before_model, which skipped on_error, so a
    ModelFallback could never take over from an open circuit."""

    def down(messages: Any, tools: Any) -> Any:
        raise ProviderError("down", kind="server")

    primary = RefProvider([down] * 3)
    backup = RefProvider(["backup 1", "backup 2", "backup 3"])
    breaker = CircuitBreaker(threshold=1, cooldown_s=60, message="primary is down")
    agent = Agent(primary, middleware=[ModelFallback(backup), breaker])
    first = await agent.run("one")
    second = await agent.run("two")
    assert (first.answer, second.answer) == ("backup 1", "backup 2")
    assert len(primary.calls) == 1  # the open circuit refused the second call: no request sent


async def test_circuit_breaker_message_ends_the_run_without_a_fallback() -> None:
    def down(messages: Any, tools: Any) -> Any:
        raise ProviderError("down", kind="server")

    agent = Agent(RefProvider([down]), middleware=[CircuitBreaker(threshold=1, message="open!")])
    await agent.run("one")
    result = await agent.run("two")
    assert result.stopped_reason is StopReason.ERROR and "open!" in (result.error or "")


async def test_a_cancelled_probe_does_not_block_the_model_for_the_cooldown() -> None:
    """Bug fix: a half-open probe cancelled by a timeout kept its lease, so a healthy model
    was refused for the whole reset period."""
    clock = [1000.0]
    breaker = CircuitBreaker(threshold=1, cooldown_s=10, clock=lambda: clock[0])
    started = anyio.Event()

    def down(messages: Any, tools: Any) -> Any:
        raise ProviderError("down", kind="server")

    class Hanging(RefProvider):
        async def complete(self, messages: Any, tools: Any = None, **kwargs: Any) -> Any:
            self.calls.append({})
            reply = self.replies.pop(0)
            if reply == "hang":
                started.set()
                await anyio.sleep(60)
            if callable(reply):
                reply(messages, tools)
            return respond(reply)

    provider = Hanging([down, "hang", "healthy again"])
    agent = Agent(provider, middleware=[breaker])
    await agent.run("opens the circuit")
    clock[0] += 11  # cooldown over: the next call is the probe
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent.run, "probe")
            await started.wait()
            tg.cancel_scope.cancel()
    result = await agent.run("after the cancelled probe")
    assert result.answer == "healthy again"


# -- RateLimit -------------------------------------------------------------------------------


def test_rate_limit_signature() -> None:
    assert documented(RateLimit, ("max_calls", POS, KEEP), ("per_s", POS, 1.0))
    with pytest.raises(ValueError):
        RateLimit(0)


async def test_rate_limit_never_admits_two_calls_at_once_after_a_wait() -> None:
    """Bug fix: the reference's bucket let two waiting callers through together."""
    now = [100.0]
    admitted: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limit = RateLimit(1, 1.0, clock=lambda: now[0], sleep=sleep)

    class Ctx:
        provider: Any = None
        tenant_id = None

    async def caller() -> None:
        await limit.before_model(Ctx())  # type: ignore[arg-type]
        admitted.append(now[0])

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(caller)
    gaps = [b - a for a, b in itertools.pairwise(sorted(admitted))]
    assert len(admitted) == 4 and all(math.isclose(g, 1.0) or g > 1.0 for g in gaps)


# -- Idempotency -----------------------------------------------------------------------------


def test_idempotency_signature() -> None:
    assert documented(Idempotency, ("tools", KW, None), ("store", KW, None), ("key", KW, None))


async def test_idempotency_replays_a_repeated_call_from_a_dict_store() -> None:
    store: dict[str, Any] = {}
    middleware = [Idempotency(tools=["charge"], store=store, key=lambda n, a: f"{n}/{a['amount']}")]
    for session in ("a", "b"):
        provider = RefProvider([ask("charge", amount=5), "done"])
        await Agent(provider, tools=[charge], middleware=middleware).run("pay", session_id=session)
    assert runs == ["charge 5"] and store == {"charge/5": "charged 5"}


async def test_idempotency_does_not_replay_a_failure() -> None:
    """Bug fix: the reference stored error results, so a failed side effect was replayed
    forever instead of being tried again."""
    store: dict[str, Any] = {}
    middleware = [Idempotency(store=store)]
    for session in ("a", "b", "c"):
        provider = RefProvider([ask("flaky", amount=7), "done"])
        result = await Agent(provider, tools=[flaky], middleware=middleware).run(
            "pay", session_id=session
        )
    assert runs == ["flaky 7", "flaky 7"]  # failed once, ran again, then replayed
    assert tool_results(result.state.messages) == [("flaky", "charged 7")]


async def test_idempotency_runs_a_key_once_across_concurrent_calls() -> None:
    gate = anyio.Event()
    entered = anyio.Event()

    @tool
    async def book(seat: str) -> str:
        """Book a seat.

        Args:
            seat: Seat.
        """
        runs.append(seat)
        entered.set()
        await gate.wait()
        return f"booked {seat}"

    middleware = [Idempotency(poll_s=0.01)]
    results: list[Any] = []

    async def one(session: str) -> None:
        provider = RefProvider([ask("book", seat="12A"), "done"])
        results.append(
            await Agent(provider, tools=[book], middleware=middleware).run(
                "book", session_id=session
            )
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "first")
        await entered.wait()
        tg.start_soon(one, "second")  # finds the claim and waits for the result
        await anyio.sleep(0)
        gate.set()
    assert runs == ["12A"]
    assert all(tool_results(r.state.messages) == [("book", "booked 12A")] for r in results)


# -- ToolTimeout -----------------------------------------------------------------------------


def test_tool_timeout_signature() -> None:
    assert documented(ToolTimeout, ("timeout_s", POS, KEEP), ("tools", KW, None))


async def test_tool_timeout_turns_a_slow_tool_into_a_tool_error() -> None:
    provider = RefProvider([ask("slow"), "gave up"])
    agent = Agent(provider, tools=[slow], middleware=[ToolTimeout(0.05, tools=["slow"])])
    with anyio.fail_after(10):
        result = await agent.run("go")
    assert result.answer == "gave up"
    [(name, text)] = tool_results(result.state.messages)
    assert name == "slow" and text is not None and "timed out" in text
