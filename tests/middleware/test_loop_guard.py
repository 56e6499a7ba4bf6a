from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    FunctionProvider,
    Message,
    ScriptedProvider,
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


async def test_repeated_tool_call_stops_the_run() -> None:
    counter = iter(range(100))

    def same_call(messages: object, tools: object, settings: object) -> Message:
        return Message.assistant(
            tool_calls=[ToolCall(id=f"c{next(counter)}", name="search", arguments={"q": "x"})]
        )

    agent = Agent(
        FunctionProvider(same_call), tools=[search], middleware=[LoopGuard(max_repeats=3)]
    )
    result = await agent.run("find")
    assert result.stopped_reason is StopReason.LOOP
    assert result.state.step == 3
    assert "search" in result.message


async def test_varied_calls_are_not_a_loop() -> None:
    steps = [
        Message.assistant(tool_calls=[ToolCall(id=str(i), name="search", arguments={"q": str(i)})])
        for i in range(4)
    ]
    agent = Agent(ScriptedProvider([*steps, "done"]), tools=[search], middleware=[LoopGuard()])
    assert (await agent.run("find")).ok
