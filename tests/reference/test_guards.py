"""`Guards`: defaults, None limits, `check(state, elapsed_s)` and its priority order, and the
guards inside real runs (incl. the step counter fix of DESIGN §6)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from spine_core import (
    Agent,
    Guards,
    InMemoryCheckpointStore,
    Message,
    RunStatus,
    State,
    StopReason,
    Usage,
    tool,
)

from .refkit import EMPTY, POS, RefProvider, ask, costly, documented

pytestmark = pytest.mark.anyio


@tool
async def work() -> str:
    """Do a unit of work."""
    return "worked"


def test_guards_defaults() -> None:
    guards = Guards()

    assert isinstance(guards, BaseModel)
    assert guards.max_steps == 12
    assert guards.max_cost_usd is None
    assert guards.max_tokens is None
    assert guards.timeout_s is None
    assert guards.max_depth == 8


def test_check_signature() -> None:
    assert documented(Guards.check, ("state", POS, EMPTY), ("elapsed_s", POS, EMPTY))


def test_fresh_state_passes() -> None:
    assert Guards().check(State(session_id="s"), 0.0) is None


def test_every_limit_may_be_none() -> None:
    guards = Guards(
        max_steps=None, max_cost_usd=None, max_tokens=None, timeout_s=None, max_depth=None
    )
    huge = State(
        session_id="s",
        step=10**6,
        depth=10**3,
        usage=Usage(input_tokens=10**9, output_tokens=10**9, cost_usd=10**6),
    )
    assert guards.check(huge, 10.0**9) is None


def _everything_over() -> State:
    return State(
        session_id="s",
        step=5,
        depth=3,
        usage=Usage(input_tokens=60, output_tokens=50, cost_usd=2.0),
    )


LIMITS = dict(max_depth=2, max_steps=5, max_cost_usd=1.0, max_tokens=100, timeout_s=30.0)


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [
        ((), StopReason.MAX_DEPTH),
        (("max_depth",), StopReason.MAX_STEPS),
        (("max_depth", "max_steps"), StopReason.MAX_COST),
        (("max_depth", "max_steps", "max_cost_usd"), StopReason.MAX_TOKENS),
        (("max_depth", "max_steps", "max_cost_usd", "max_tokens"), StopReason.TIMEOUT),
        (("max_depth", "max_steps", "max_cost_usd", "max_tokens", "timeout_s"), None),
    ],
)
def test_check_priority_order(disabled: tuple[str, ...], expected: StopReason | None) -> None:
    guards = Guards(**{k: (None if k in disabled else v) for k, v in LIMITS.items()})
    assert guards.check(_everything_over(), 31.0) == expected


def test_check_positional_call() -> None:
    assert Guards(timeout_s=1.0).check(State(session_id="s"), 1.0) is StopReason.TIMEOUT


@pytest.mark.parametrize(
    ("guards", "state", "elapsed", "expected"),
    [
        (Guards(max_depth=2), State(session_id="s", depth=2), 0.0, None),
        (Guards(max_depth=2), State(session_id="s", depth=3), 0.0, StopReason.MAX_DEPTH),
        (Guards(max_steps=3), State(session_id="s", step=2), 0.0, None),
        (Guards(max_steps=3), State(session_id="s", step=3), 0.0, StopReason.MAX_STEPS),
        (
            Guards(max_cost_usd=0.5),
            State(session_id="s", usage=Usage(cost_usd=0.49)),
            0.0,
            None,
        ),
        (
            Guards(max_cost_usd=0.5),
            State(session_id="s", usage=Usage(cost_usd=0.5)),
            0.0,
            StopReason.MAX_COST,
        ),
        (
            Guards(max_tokens=10),
            State(session_id="s", usage=Usage(input_tokens=4, output_tokens=5)),
            0.0,
            None,
        ),
        (
            Guards(max_tokens=10),
            State(session_id="s", usage=Usage(input_tokens=4, output_tokens=6)),
            0.0,
            StopReason.MAX_TOKENS,
        ),
        (Guards(timeout_s=2.0), State(session_id="s"), 1.99, None),
        (Guards(timeout_s=2.0), State(session_id="s"), 2.0, StopReason.TIMEOUT),
    ],
)
def test_check_boundaries(
    guards: Guards, state: State, elapsed: float, expected: StopReason | None
) -> None:
    assert guards.check(state, elapsed) == expected


# -- guards in runs --------------------------------------------------------------------------


def _forever(label: str = "step") -> list[object]:
    """A script that keeps calling `work`, saying which step it is."""
    return [ask("work", f"c{i}", say=f"{label} {i}") for i in range(1, 30)]


async def test_max_steps_stops_the_run_with_the_last_text() -> None:
    provider = RefProvider(_forever())
    result = await Agent(provider, tools=[work], guards=Guards(max_steps=3)).run("go")

    assert result.stopped_reason is StopReason.MAX_STEPS
    assert len(provider.calls) == 3
    assert result.answer == "step 3"
    assert result.state.status is RunStatus.DONE
    assert not result.ok


async def test_default_max_steps_is_twelve_model_calls() -> None:
    provider = RefProvider(_forever())
    result = await Agent(provider, tools=[work]).run("go")

    assert result.stopped_reason is StopReason.MAX_STEPS
    assert len(provider.calls) == 12


async def test_max_cost_overshoots_by_at_most_one_call() -> None:
    script = [
        ask("work", f"c{i}").model_copy(update={"usage": Usage(cost_usd=0.4)}) for i in range(10)
    ]
    provider = RefProvider(script)
    result = await Agent(provider, tools=[work], guards=Guards(max_cost_usd=1.0)).run("go")

    assert result.stopped_reason is StopReason.MAX_COST
    assert len(provider.calls) == 3
    assert result.usage.cost_usd == pytest.approx(1.2)


async def test_max_tokens_stops_the_run() -> None:
    script = [
        ask("work", f"c{i}").model_copy(update={"usage": Usage(input_tokens=30, output_tokens=10)})
        for i in range(10)
    ]
    provider = RefProvider(script)
    result = await Agent(provider, tools=[work], guards=Guards(max_tokens=100)).run("go")

    assert result.stopped_reason is StopReason.MAX_TOKENS
    assert len(provider.calls) == 3


async def test_timeout_stops_the_run() -> None:
    provider = RefProvider(["never"])
    result = await Agent(provider, guards=Guards(timeout_s=0)).run("go")

    assert result.stopped_reason is StopReason.TIMEOUT
    assert provider.calls == []


async def test_max_depth_is_checked_before_each_step() -> None:
    store = InMemoryCheckpointStore()
    await store.put(State(session_id="deep", depth=9, messages=[Message.user("earlier")]))
    provider = RefProvider(["never"])

    result = await Agent(provider, checkpoint=store).run("go", session_id="deep")

    assert result.stopped_reason is StopReason.MAX_DEPTH
    assert provider.calls == []


async def test_no_limits_run_to_the_final_answer() -> None:
    script: list[object] = [ask("work", f"c{i}") for i in range(20)] + ["finally"]
    unlimited = Guards(max_steps=None, max_depth=None)
    result = await Agent(RefProvider(script), tools=[work], guards=unlimited).run("go")

    assert result.answer == "finally"
    assert result.state.step == 21


# -- the step counter is per run (DESIGN §6) -------------------------------------------------


async def test_a_chat_session_does_not_stop_after_twelve_model_calls_in_total() -> None:
    # reference bug: the step counter was never reset, so turn 13 of a chat hit max_steps
    provider = RefProvider([f"reply {i}" for i in range(20)])
    agent = Agent(provider)

    results = [await agent.run(f"turn {i}", session_id="chat") for i in range(20)]

    assert [r.stopped_reason for r in results] == [StopReason.FINAL] * 20
    assert results[-1].answer == "reply 19"
    assert results[-1].state.step == 1
    assert len(results[-1].state.messages) == 40


async def test_max_steps_counts_the_steps_of_each_run() -> None:
    script: list[object] = []
    for turn in range(3):
        script += [ask("work", f"t{turn}c1"), ask("work", f"t{turn}c2"), f"answer {turn}"]
    agent = Agent(RefProvider(script), tools=[work], guards=Guards(max_steps=3))

    results = [await agent.run(f"turn {t}", session_id="s") for t in range(3)]

    assert [r.answer for r in results] == ["answer 0", "answer 1", "answer 2"]
    assert all(r.ok for r in results)


async def test_session_usage_totals_stay_on_the_state() -> None:
    agent = Agent(RefProvider([costly("a", 0.25), costly("b", 0.25)]))

    await agent.run("one", session_id="s")
    second = await agent.run("two", session_id="s")

    assert second.state.usage.total_tokens == 4
    assert second.state.usage.cost_usd == pytest.approx(0.5)


async def test_cost_guard_counts_the_current_run() -> None:
    agent = Agent(
        RefProvider([costly(str(i), 0.6) for i in range(3)]), guards=Guards(max_cost_usd=1.0)
    )

    results = [await agent.run(f"turn {i}", session_id="s") for i in range(3)]

    assert all(r.ok for r in results)
