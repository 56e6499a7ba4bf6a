"""Guards: ceilings checked before each step, in the documented priority order."""

from __future__ import annotations

import pytest

from spine_core import Agent, FunctionProvider, Guards, State, StopReason, Usage, tool

from .helpers import asks, call, priced

EVERYTHING_TRIPPED = State(
    session_id="s", step=5, usage=Usage(input_tokens=500, cost_usd=5.0), depth=9
)
UNLIMITED = dict(max_steps=None, max_depth=None)


@pytest.mark.parametrize(
    ("guards", "expected"),
    [
        (
            Guards(max_steps=1, max_cost_usd=1.0, max_tokens=10, timeout_s=1.0, max_depth=1),
            StopReason.MAX_DEPTH,
        ),
        (Guards(max_steps=1, max_cost_usd=1.0, max_tokens=10, timeout_s=1.0), StopReason.MAX_DEPTH),
        (
            Guards(max_steps=1, max_cost_usd=1.0, max_tokens=10, timeout_s=1.0, max_depth=None),
            StopReason.MAX_STEPS,
        ),
        (Guards(max_cost_usd=1.0, max_tokens=10, timeout_s=1.0, **UNLIMITED), StopReason.MAX_COST),
        (Guards(max_tokens=10, timeout_s=1.0, **UNLIMITED), StopReason.MAX_TOKENS),
        (Guards(timeout_s=1.0, **UNLIMITED), StopReason.TIMEOUT),
    ],
)
def test_first_ceiling_in_priority_order_wins(guards: Guards, expected: StopReason) -> None:
    assert guards.check(EVERYTHING_TRIPPED, 50.0) is expected


def test_no_ceiling_reached_returns_none() -> None:
    assert Guards().check(State(session_id="s"), 0.0) is None


def test_every_limit_may_be_none_meaning_unlimited() -> None:
    unlimited = Guards(max_steps=None, max_depth=None)
    assert unlimited.check(EVERYTHING_TRIPPED, 1e9) is None


@tool
async def noop() -> str:
    """Do nothing."""
    return "ok"


@pytest.mark.anyio
async def test_run_with_steps_cost_and_tokens_tripped_stops_with_max_steps() -> None:
    provider = FunctionProvider(lambda m, t, s: priced(asks(call("noop")), cost_usd=2.0, tokens=99))
    guards = Guards(max_steps=1, max_cost_usd=1.0, max_tokens=10)
    agent = Agent(provider, tools=[noop], guards=guards)

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.MAX_STEPS


@pytest.mark.anyio
async def test_run_with_cost_and_tokens_tripped_stops_with_max_cost() -> None:
    provider = FunctionProvider(lambda m, t, s: priced(asks(call("noop")), cost_usd=2.0, tokens=99))
    agent = Agent(provider, tools=[noop], guards=Guards(max_cost_usd=1.0, max_tokens=10))

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.MAX_COST
    assert result.usage.requests == 1
