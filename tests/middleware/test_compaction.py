from __future__ import annotations

import pytest

from spine_core import Agent, Message, Role, ScriptedProvider, ToolCall, tool
from spine_middleware import Compaction

pytestmark = pytest.mark.anyio


@tool
def look(n: int) -> str:
    """Look.

    Args:
        n: Which.
    """
    return f"seen {n}"


def calls(*ids: int) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id=f"c{i}", name="look", arguments={"n": i}) for i in ids]
    )


async def test_compaction_trims_what_is_sent_but_keeps_the_stored_history() -> None:
    provider = ScriptedProvider([calls(1), calls(2), calls(3), "done"])
    agent = Agent(
        provider, tools=[look], system="sys", middleware=[Compaction(max_messages=3, note=False)]
    )
    result = await agent.run("task")
    assert len(result.state.messages) == 8
    last = provider.calls[-1].messages
    assert [m.role for m in last] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL]
    assert last[1].content == "task"
    assert last[-1].content == "seen 3"


async def test_window_never_starts_on_an_orphaned_tool_result() -> None:
    history = [
        Message.user("task"),
        calls(1, 2, 3),
        *[Message.tool(ToolCall(id=f"c{i}", name="look"), f"seen {i}") for i in (1, 2, 3)],
        Message.assistant("so far so good"),
        Message.user("next"),
    ]
    trimmed = Compaction(max_messages=4, keep_first_user=False, note=False).compact(history)
    assert trimmed[0].role is not Role.TOOL
    assert [m.content for m in trimmed] == ["so far so good", "next"]


async def test_window_of_only_tool_results_reaches_back_to_their_call() -> None:
    history = [
        Message.user("task"),
        calls(1, 2, 3),
        *[Message.tool(ToolCall(id=f"c{i}", name="look"), f"seen {i}") for i in (1, 2, 3)],
    ]
    trimmed = Compaction(max_messages=2, keep_first_user=False, note=False).compact(history)
    assert trimmed[0].tool_calls and len(trimmed) == 4


async def test_token_budget_and_note() -> None:
    history = [Message.user("first " * 40)] + [
        Message.user(f"message {i} " + "x" * 36) for i in range(10)
    ]
    trimmed = Compaction(max_messages=None, max_tokens=25).compact(history)
    assert trimmed[0].content.startswith("first")
    assert trimmed[1].content == "[8 earlier messages were omitted to fit the context.]"
    assert [m.content[:9] for m in trimmed[2:]] == ["message 8", "message 9"]


def test_compaction_needs_a_limit() -> None:
    with pytest.raises(ValueError):
        Compaction(max_messages=None, max_tokens=None)
