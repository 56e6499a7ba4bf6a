"""Agent.stream: live events in order, token deltas, under asyncio and trio."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import pytest

from spine_core import (
    Agent,
    EventType,
    FunctionProvider,
    Message,
    ScriptedProvider,
    StopReason,
    TraceEvent,
    tool,
)

from .helpers import asks, call

BOTH = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


@tool
async def lookup(city: str) -> str:
    """Weather."""
    return f"sunny in {city}"


def agent() -> Agent:
    provider = ScriptedProvider([asks(call("lookup", city="Oslo")), "It is sunny today"])
    return Agent(provider, tools=[lookup])


@pytest.mark.anyio
@BOTH
async def test_stream_yields_events_in_loop_order() -> None:
    bot = agent()

    events = [event async for event in bot.stream("weather?")]

    assert [e.type for e in events] == [
        EventType.STEP_START,
        EventType.MODEL_CALL,
        EventType.TOOL_CALL_DELTA,
        EventType.MODEL_RESPONSE,
        EventType.TOOL_CALL,
        EventType.TOOL_RESULT,
        EventType.STEP_START,
        EventType.MODEL_CALL,
        EventType.TOKEN,
        EventType.TOKEN,
        EventType.TOKEN,
        EventType.TOKEN,
        EventType.MODEL_RESPONSE,
        EventType.FINAL,
    ]
    assert [e.step for e in events if e.type is EventType.STEP_START] == [1, 2]


@pytest.mark.anyio
@BOTH
async def test_token_deltas_join_to_the_answer_and_last_result_is_set() -> None:
    bot = agent()

    events: list[TraceEvent] = [event async for event in bot.stream("weather?")]

    tokens = "".join(e.data["text"] for e in events if e.type is EventType.TOKEN)
    assert tokens == "It is sunny today"
    assert bot.last_result is not None
    assert bot.last_result.answer == tokens
    assert bot.last_result.stopped_reason is StopReason.FINAL
    assert [e.type for e in bot.last_result.trace] == [e.type for e in events]


@pytest.mark.anyio
async def test_tool_events_carry_call_and_result() -> None:
    events = [event async for event in agent().stream("weather?")]

    tool_call = next(e for e in events if e.type is EventType.TOOL_CALL)
    tool_result = next(e for e in events if e.type is EventType.TOOL_RESULT)
    assert tool_call.data == {"id": "call_lookup", "name": "lookup", "arguments": {"city": "Oslo"}}
    assert tool_result.data["result"] == "sunny in Oslo"
    assert tool_result.data["is_error"] is False


@pytest.mark.anyio
@BOTH
async def test_closing_the_stream_early_cancels_the_run_in_flight() -> None:
    never = anyio.Event()
    calls: list[int] = []

    async def reply(messages: Any, tools: Any, settings: Any) -> Message:
        calls.append(len(messages))
        if len(calls) == 2:
            await never.wait()  # the second model call hangs until cancelled
        return asks(call("lookup", city="Oslo"))

    bot = Agent(FunctionProvider(reply), tools=[lookup])

    with anyio.fail_after(10):  # a deadlock guard, not a timing assertion
        async with aclosing(bot.stream("weather?", session_id="s")) as events:
            async for event in events:
                if event.type is EventType.TOOL_RESULT:
                    break

    stored = await bot.checkpoint.get("s")
    assert stored is not None
    assert [m.role for m in stored.messages] == ["user", "assistant", "tool"]
    assert stored.status == "cancelled"
    assert bot.last_result is not None
    assert bot.last_result.stopped_reason is StopReason.CANCELLED
    assert bot.last_result.resume_token == "s:"


@pytest.mark.anyio
@BOTH
async def test_a_plain_break_ends_the_run_as_cancelled_and_resumable() -> None:
    never = anyio.Event()
    reached = anyio.Event()

    async def reply(messages: Any, tools: Any, settings: Any) -> Message:
        if len(messages) > 2:  # the second model call hangs until cancelled
            reached.set()
            await never.wait()
        return asks(call("lookup", city="Oslo"))

    bot = Agent(FunctionProvider(reply), tools=[lookup])

    with anyio.fail_after(10):  # a deadlock guard, not a timing assertion
        async for event in bot.stream("weather?", session_id="s"):
            if event.type is EventType.TOOL_RESULT:
                await reached.wait()
                break  # no aclosing: the dropped iterator cancels the run
        while (stored := await bot.checkpoint.get("s")) is None or stored.status == "running":
            await anyio.sleep(0.01)

    assert [m.role for m in stored.messages] == ["user", "assistant", "tool"]
    assert stored.status == "cancelled"
    resumed = await Agent(
        ScriptedProvider(["sunny"]), tools=[lookup], checkpoint=bot.checkpoint
    ).resume("s")
    assert resumed.answer == "sunny"
