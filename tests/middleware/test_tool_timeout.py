from __future__ import annotations

import anyio
import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import ToolTimeout

pytestmark = pytest.mark.anyio


@tool
async def hang() -> str:
    """Never returns."""
    await anyio.Event().wait()
    return "unreachable"


@tool
async def quick() -> str:
    """Returns at once."""
    return "quick"


def calls(*names: str) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id=str(i), name=n) for i, n in enumerate(names)])


async def test_slow_tool_becomes_a_tool_error() -> None:
    provider = ScriptedProvider([calls("hang", "quick"), "done"])
    agent = Agent(provider, tools=[hang, quick], middleware=[ToolTimeout(per_tool={"hang": 0.05})])
    result = await agent.run("go")
    assert result.answer == "done"
    sent = provider.calls[1].messages
    assert sent[-2].is_error and "timed out after 0.05 s" in sent[-2].content
    assert sent[-1].content == "quick" and not sent[-1].is_error


def test_tool_timeout_rejects_non_positive_limits() -> None:
    with pytest.raises(ValueError):
        ToolTimeout(seconds=0)
