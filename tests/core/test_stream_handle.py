"""`RunStream` handles: a stream whose run cannot start fails at once and closes at once."""

from __future__ import annotations

import anyio
import pytest

from spine_core import Agent, ScriptedProvider, SpineError, ToolCall, tool
from spine_core.messages import Message


@tool(approve=True)
async def delete(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


@pytest.mark.anyio
async def test_a_stream_on_a_paused_session_fails_and_closes_without_waiting() -> None:
    call = ToolCall(id="c1", name="delete", arguments={"path": "x"})
    agent = Agent(ScriptedProvider([Message.assistant(tool_calls=[call])]), tools=[delete])
    paused = await agent.run("clean up")
    assert paused.interrupted

    stream = agent.stream("more", session_id=paused.session_id)
    with pytest.raises(SpineError, match="waiting for a human decision"):
        await stream.__anext__()
    with anyio.fail_after(2):  # used to wait forever for a run that never started
        await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
