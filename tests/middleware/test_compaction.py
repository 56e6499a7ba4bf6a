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


def results(*ids: int) -> list[Message]:
    return [Message.tool(f"seen {i}", f"c{i}", "look") for i in ids]


def test_documented_defaults() -> None:
    compaction = Compaction()
    assert (compaction.max_messages, compaction.keep_last) == (40, 20)
    short = [Message.system("sys"), *[Message.user(str(i)) for i in range(39)]]
    assert compaction.compact(short) is short  # 40 messages: within the limit


def test_over_the_limit_keeps_system_a_note_and_the_last_messages() -> None:
    history = [Message.system("sys"), *[Message.user(f"m{i}") for i in range(10)]]
    trimmed = Compaction(max_messages=8, keep_last=3).compact(history)
    assert [m.role for m in trimmed] == [Role.SYSTEM, Role.SYSTEM, *[Role.USER] * 3]
    assert trimmed[0].content == "sys"
    assert trimmed[1].content == "[7 earlier messages compacted to fit the context window]"
    assert [m.content for m in trimmed[2:]] == ["m7", "m8", "m9"]


async def test_compaction_trims_what_is_sent_but_keeps_the_stored_history() -> None:
    provider = ScriptedProvider([calls(1), calls(2), calls(3), "done"])
    agent = Agent(
        provider,
        tools=[look],
        system="sys",
        middleware=[Compaction(max_messages=4, keep_last=2, note=False)],
    )
    result = await agent.run("task")
    assert len(result.state.messages) == 9  # system, task, 3 x (call, result), answer
    last = provider.calls[-1].messages
    assert [m.role for m in last] == [Role.SYSTEM, Role.ASSISTANT, Role.TOOL]
    assert last[-1].content == "seen 3"
    assert [m.role for m in provider.calls[0].messages] == [Role.SYSTEM, Role.USER]


async def test_the_task_can_be_pinned() -> None:
    provider = ScriptedProvider([calls(1), calls(2), calls(3), "done"])
    compaction = Compaction(max_messages=4, keep_last=2, keep_first_user=True)
    agent = Agent(provider, tools=[look], system="sys", middleware=[compaction])
    await agent.run("task")
    last = provider.calls[-1].messages
    assert [m.content for m in last[:3]] == [
        "sys",
        "[4 earlier messages compacted to fit the context window]",
        "task",
    ]
    assert last[-1].content == "seen 3"


def test_window_never_starts_on_an_orphaned_tool_result() -> None:
    history = [
        Message.user("task"),
        calls(1, 2, 3),
        *results(1, 2, 3),
        Message.assistant("so far so good"),
        Message.user("next"),
    ]
    trimmed = Compaction(max_messages=5, keep_last=4, note=False).compact(history)
    assert trimmed[0].role is not Role.TOOL
    assert [m.content for m in trimmed] == ["so far so good", "next"]


def test_window_of_only_tool_results_reaches_back_to_their_call() -> None:
    history = [Message.user("task"), calls(1, 2, 3), *results(1, 2, 3)]
    trimmed = Compaction(max_messages=3, keep_last=2, note=False).compact(history)
    assert trimmed[0].tool_calls and len(trimmed) == 4


def test_token_budget() -> None:
    history = [Message.user("first " * 40)] + [
        Message.user(f"message {i} " + "x" * 36) for i in range(10)
    ]
    trimmed = Compaction(None, max_tokens=25, keep_first_user=True).compact(history)
    assert trimmed[0].content == "[8 earlier messages compacted to fit the context window]"
    assert (trimmed[1].content or "").startswith("first")
    assert [(m.content or "")[:9] for m in trimmed[2:]] == ["message 8", "message 9"]


def test_compaction_rejects_bad_limits() -> None:
    with pytest.raises(ValueError):
        Compaction(max_messages=None, max_tokens=None)
    with pytest.raises(ValueError):
        Compaction(10, 10)
    with pytest.raises(ValueError):
        Compaction(10, 0)
