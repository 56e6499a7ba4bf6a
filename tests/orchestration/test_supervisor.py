"""supervisor: workers as tools, concurrent runs, pauses passed up from a worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_backends import SQLiteCheckpoint
from spine_core import Agent, FunctionProvider, Message, StopReason, ToolCall, tool
from spine_orchestration import supervisor

from .helpers import Barrier, agent, calls_tool_then_answers, last_user, tool_results

pytestmark = pytest.mark.anyio


def _delegating(worker: str, *, barrier: Barrier | None = None) -> FunctionProvider:
    """Calls `worker` with the user's text, then answers with its result."""

    async def reply(messages: list[Message], tools: Any, settings: Any) -> Message:
        results = tool_results(messages)
        if results:
            return Message.assistant(f"supervised: {results[-1].text}")
        if barrier is not None:
            await barrier.wait()
        call = ToolCall(id="w1", name=worker, arguments={"input": last_user(messages)})
        return Message.assistant(tool_calls=[call])

    return FunctionProvider(reply)


async def test_the_supervisor_delegates_to_a_worker_tool() -> None:
    boss = supervisor(
        _delegating("math"), {"math": agent("math", "4"), "poet": agent("poet", "roses")}
    )
    assert set(boss.tools) == {"math", "poet"}
    assert boss.system is not None and "worker" in boss.system
    result = await boss.run("2+2?")
    assert result.ok and result.answer == "supervised: 4"


def test_the_reference_signature_and_checks() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        supervisor("test", {})

    @tool
    def clock() -> str:
        """The time."""
        return "noon"

    boss = supervisor("test", {"w": agent("w")}, system="Be brief.", tools=[clock], name="boss")
    assert boss.system == "Be brief." and boss.name == "boss"
    assert set(boss.tools) == {"w", "clock"}


async def test_100_concurrent_runs_do_not_cross_talk() -> None:
    boss = supervisor(
        _delegating("upper", barrier=Barrier(100)), {"upper": agent("upper", "{text}!")}
    )
    answers: dict[int, str | None] = {}

    async def one(n: int) -> None:
        answers[n] = (await boss.run(f"job {n}")).answer

    async with anyio.create_task_group() as group:
        for n in range(100):
            group.start_soon(one, n)

    assert answers == {n: f"supervised: job {n}!" for n in range(100)}


async def test_a_pause_in_a_worker_pauses_the_supervisor_and_resumes_from_a_fresh_process(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    sent: list[str] = []

    def boss(store: Any) -> Agent:
        @tool(approve=True)
        def send(to: str) -> str:
            """Send an email.

            Args:
                to: The address.
            """
            sent.append(to)
            return f"sent to {to}"

        mailer = Agent(
            calls_tool_then_answers("send", {"to": "bo@x.org"}, lambda task, out: out),
            tools=[send],
            name="mailer",
            checkpoint=store,
        )
        return supervisor(_delegating("mailer"), {"mailer": mailer}, checkpoint=store)

    async with SQLiteCheckpoint(db) as store:
        paused = await boss(store).run("email bo", session_id="sup")
    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt.data["agent"] == "mailer" and sent == []

    async with SQLiteCheckpoint(db) as store:
        done = await boss(store).resume(paused.resume_token or "", "approve")
    assert done.ok and done.answer == "supervised: sent to bo@x.org"
    assert sent == ["bo@x.org"]
