from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from spine_core import (
    Agent,
    FunctionProvider,
    Message,
    Middleware,
    ScriptedProvider,
    StepContext,
    StopReason,
    ToolCall,
    tool,
)
from spine_middleware import LoopGuard

pytestmark = pytest.mark.anyio


@tool
def search(q: str) -> str:
    """Search.

    Args:
        q: Query.
    """
    return "nothing"


def step(*queries: str) -> Message:
    ids = count()
    return Message.assistant(
        tool_calls=[
            ToolCall(id=f"c{next(ids)}", name="search", arguments={"q": q}) for q in queries
        ]
    )


def test_documented_defaults() -> None:
    guard = LoopGuard()
    assert (guard.window, guard.max_repeats) == (4, 3)


async def test_repeated_tool_call_stops_the_run() -> None:
    counter = count()

    def same_call(messages: object, tools: object, settings: object) -> Message:
        return Message.assistant(
            tool_calls=[ToolCall(id=f"c{next(counter)}", name="search", arguments={"q": "x"})]
        )

    agent = Agent(FunctionProvider(same_call), tools=[search], middleware=[LoopGuard()])
    result = await agent.run("find")
    assert result.stopped_reason is StopReason.LOOP
    assert result.state.step == 3
    assert result.answer is not None
    assert "loop detected" in result.answer and "search" in result.answer


async def test_the_same_set_of_calls_in_any_order_is_one_signature() -> None:
    provider = ScriptedProvider([step("a", "b"), step("b", "a"), step("a", "b"), "never"])
    result = await Agent(provider, tools=[search], middleware=[LoopGuard()]).run("find")
    assert result.stopped_reason is StopReason.LOOP
    assert len(provider.calls) == 3


async def test_repeats_outside_the_window_are_not_a_loop() -> None:
    # x appears 3 times, but never 3 times within 3 consecutive tool steps
    script = [step(q) for q in ("x", "a", "b", "x", "c", "d", "x")]
    provider = ScriptedProvider([*script, "done"])
    agent = Agent(provider, tools=[search], middleware=[LoopGuard(window=3, max_repeats=3)])
    assert (await agent.run("find")).ok
    # ... while a window that spans them trips
    provider = ScriptedProvider([*script, "done"])
    agent = Agent(provider, tools=[search], middleware=[LoopGuard(window=7, max_repeats=3)])
    assert (await agent.run("find")).stopped_reason is StopReason.LOOP


async def test_varied_calls_are_not_a_loop() -> None:
    steps = [step(str(i)) for i in range(6)]
    agent = Agent(ScriptedProvider([*steps, "done"]), tools=[search], middleware=[LoopGuard()])
    assert (await agent.run("find")).ok


async def test_history_is_per_run_not_per_session() -> None:
    provider = ScriptedProvider([step("x"), step("x"), "one", step("x"), step("x"), "two"])
    agent = Agent(provider, tools=[search], middleware=[LoopGuard()])
    assert (await agent.run("find", session_id="s")).answer == "one"
    assert (await agent.run("again", session_id="s")).answer == "two"


async def test_identical_forced_replies_stop_the_run() -> None:
    class AlwaysAgain(Middleware):
        async def after_model(self, ctx: StepContext[Any]) -> None:
            ctx.force_continue = True

    provider = ScriptedProvider(["same"] * 5)
    agent = Agent(provider, middleware=[LoopGuard(), AlwaysAgain()])
    result = await agent.run("x")
    assert result.stopped_reason is StopReason.LOOP
    assert len(provider.calls) == 3


def test_loop_guard_rejects_limits_that_never_trip() -> None:
    with pytest.raises(ValueError):
        LoopGuard(window=2, max_repeats=3)
    with pytest.raises(ValueError):
        LoopGuard(max_repeats=1)
