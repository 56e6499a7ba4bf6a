from __future__ import annotations

from typing import Any

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import ToolOutputTruncation

pytestmark = pytest.mark.anyio


@tool
def dump() -> str:
    """Return a long text."""
    return "A" * 500 + "B" * 500


@tool
def rows() -> list[dict[str, Any]]:
    """Return many rows."""
    return [{"id": i} for i in range(100)]


@tool
def small() -> dict[str, int]:
    """Return a small object."""
    return {"n": 1}


def call(name: str) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id="1", name=name)])


async def run(mw: ToolOutputTruncation, name: str) -> str:
    provider = ScriptedProvider([call(name), "done"])
    result = await Agent(provider, tools=[dump, rows, small], middleware=[mw]).run("go")
    tool_message = next(m for m in result.state.messages if m.role == "tool")
    assert provider.calls[1].messages[-1].text == tool_message.text  # what the model saw
    return tool_message.text


async def test_long_results_keep_their_head_and_say_how_much_was_cut() -> None:
    text = await run(ToolOutputTruncation(100), "dump")
    assert text == "A" * 100 + "…[truncated 900 chars]"


async def test_the_default_cap_is_4000_characters() -> None:
    assert ToolOutputTruncation().max_chars == 4000
    assert await run(ToolOutputTruncation(), "dump") == "A" * 500 + "B" * 500


async def test_tail_chars_keeps_the_end_as_well() -> None:
    text = await run(ToolOutputTruncation(100, tail_chars=20), "dump")
    assert text == "A" * 80 + "…[truncated 900 chars]…" + "B" * 20


async def test_non_text_results_are_capped_as_the_text_the_model_sees() -> None:
    text = await run(ToolOutputTruncation(50), "rows")
    assert text.startswith('[{"id": 0}, {"id": 1}') and text.endswith(" chars]")
    assert len(text.split("…")[0]) == 50
    assert await run(ToolOutputTruncation(50), "small") == '{"n": 1}'


async def test_tools_limits_truncation_to_the_named_tools() -> None:
    assert len(await run(ToolOutputTruncation(10, tools=["rows"]), "dump")) == 1000


@pytest.mark.parametrize(("max_chars", "tail_chars"), [(0, 0), (-5, 0), (10, 10), (10, -1)])
def test_bad_limits_are_rejected(max_chars: int, tail_chars: int) -> None:
    with pytest.raises(ValueError):
        ToolOutputTruncation(max_chars, tail_chars=tail_chars)
