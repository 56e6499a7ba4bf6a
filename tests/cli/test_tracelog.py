"""`TraceLog`, the middleware the CLI runs with: what it records for `spine trace`, and that it
keeps only the most recent records, so a long session's header stays small."""

from __future__ import annotations

import pytest

from spine.tracelog import MAX_RECORDS, TraceLog, records
from spine_core import Agent, Role, tool


@tool
def ping() -> str:
    """Answer pong."""
    return "pong"


@pytest.mark.anyio
async def test_records_each_model_call_at_its_message_and_keeps_the_latest_only() -> None:
    agent = Agent("test", tools=[ping], middleware=[TraceLog()])
    turns = MAX_RECORDS // 3 + 5  # 3 records a turn: two model calls and one tool call
    for n in range(turns):
        result = await agent.run(f"turn {n}", session_id="long")
    state = result.state
    log = records(state)
    assert len(log) == MAX_RECORDS
    models = [r for r in log if r["kind"] == "model"]
    assert all(state.messages[r["at"]].role is Role.ASSISTANT for r in models)
    assert models[-1]["at"] == len(state.messages) - 1
    assert models[-1]["model"] == "test:default" and models[-1]["usage"]["requests"] == 1
    tools = [r for r in log if r["kind"] == "tool"]
    assert tools[-1]["name"] == "ping" and tools[-1]["error"] is None
