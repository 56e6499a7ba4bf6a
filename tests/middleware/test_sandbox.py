from __future__ import annotations

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import Sandbox

pytestmark = pytest.mark.anyio


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


@tool
def spin() -> str:
    """Burn CPU forever."""
    n = 0
    while True:
        n += 1


@tool
def hog() -> str:
    """Allocate far too much memory."""
    blocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]
    return str(len(blocks))


def calls(*names: str, arguments: dict[str, int] | None = None) -> Message:
    return Message.assistant(
        tool_calls=[
            ToolCall(id=str(i), name=n, arguments=arguments or {}) for i, n in enumerate(names)
        ]
    )


async def test_sandbox_runs_the_tool_and_kills_hogs() -> None:
    provider = ScriptedProvider(
        [calls("add", arguments={"a": 2, "b": 3}), calls("spin"), calls("hog"), "done"]
    )
    sandbox = Sandbox(cpu_s=1, memory_mb=128, wall_s=20)
    agent = Agent(provider, tools=[add, spin, hog], middleware=[sandbox])
    result = await agent.run("go")
    assert result.answer == "done"
    results = [m for m in result.state.messages if m.role == "tool"]
    assert results[0].content == "5" and not results[0].is_error
    assert results[1].is_error and "CPU time limit of 1 s exceeded" in results[1].content
    assert results[2].is_error and "memory limit of 128 MiB exceeded" in results[2].content


async def test_wall_clock_limit_kills_the_child() -> None:
    provider = ScriptedProvider([calls("spin"), "done"])
    agent = Agent(provider, tools=[spin], middleware=[Sandbox(cpu_s=None, wall_s=1.5)])
    result = await agent.run("go")
    tool_result = result.state.messages[2]
    assert tool_result.is_error and "wall-clock limit of 1.5 s exceeded" in tool_result.content
