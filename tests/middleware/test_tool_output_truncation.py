from __future__ import annotations

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import ToolOutputTruncation

pytestmark = pytest.mark.anyio


@tool
def dump() -> str:
    """Return a long text."""
    return "A" * 500 + "B" * 500


async def test_long_tool_results_keep_head_and_tail() -> None:
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="dump")])
    provider = ScriptedProvider([call, "done"])
    mw = ToolOutputTruncation(max_chars=100, tail_chars=20)
    result = await Agent(provider, tools=[dump], middleware=[mw]).run("go")
    text = result.state.messages[2].content
    assert text == "A" * 80 + "\n[... 900 characters truncated ...]\n" + "B" * 20


def test_short_results_are_unchanged() -> None:
    assert ToolOutputTruncation(max_chars=10, tail_chars=0).truncate("short") == "short"
