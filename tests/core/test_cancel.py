"""Cancellation: should_cancel stops the run with a resumable checkpoint."""

from __future__ import annotations

import anyio
import pytest

from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    Result,
    RunStatus,
    ScriptedProvider,
    SpineError,
    StopReason,
    tool,
)

from .helpers import asks, call, tool_messages

ran: list[str] = []


@tool
async def work(item: str) -> str:
    """Do one item of work."""
    ran.append(item)
    return f"did {item}"


def scripted() -> ScriptedProvider:
    return ScriptedProvider(
        [asks(call("work", "w1", item="a"), call("work", "w2", item="b")), "all done"]
    )


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran.clear()


@pytest.mark.anyio
async def test_should_cancel_stops_between_tool_calls_with_a_resume_token() -> None:
    store = InMemoryCheckpointStore()
    agent = Agent(scripted(), tools=[work], checkpoint=store)

    result = await agent.run("go", should_cancel=lambda: len(ran) == 1)

    assert result.stopped_reason is StopReason.CANCELLED
    assert ran == ["a"]
    assert result.resume_token == f"{result.session_id}:"
    stored = await store.get(result.session_id)
    assert stored is not None and stored.status is RunStatus.CANCELLED
    assert [c.id for c in stored.pending_tool_calls()] == ["w2"]


@pytest.mark.anyio
async def test_cancelled_run_resumes_from_its_token_in_a_fresh_agent() -> None:
    store = InMemoryCheckpointStore()
    first = Agent(scripted(), tools=[work], checkpoint=store)
    cancelled = await first.run("go", should_cancel=lambda: len(ran) == 1)

    provider = ScriptedProvider(["all done"])
    second = Agent(provider, tools=[work], checkpoint=store)
    result = await second.resume(cancelled.resume_token or "")

    assert result.ok and result.answer == "all done"
    assert ran == ["a", "b"]  # the finished call is not repeated
    assert tool_messages(result.state.messages) == [
        ("work", "did a", False),
        ("work", "did b", False),
    ]


@pytest.mark.anyio
async def test_cancelled_run_continues_with_run_none_and_its_session_id() -> None:
    store = InMemoryCheckpointStore()
    first = Agent(scripted(), tools=[work], checkpoint=store)
    cancelled = await first.run("go", should_cancel=lambda: len(ran) == 1)

    second = Agent(ScriptedProvider(["all done"]), tools=[work], checkpoint=store)
    result = await second.run(None, session_id=cancelled.session_id)

    assert result.ok and ran == ["a", "b"]
    stored = await store.get(cancelled.session_id)
    assert stored is not None and stored.status is RunStatus.DONE


@pytest.mark.anyio
async def test_should_cancel_before_the_first_step_calls_no_model() -> None:
    provider = ScriptedProvider([])
    agent = Agent(provider)

    result = await agent.run("go", should_cancel=lambda: True)

    assert result.stopped_reason is StopReason.CANCELLED
    assert provider.calls == []


@pytest.mark.anyio
async def test_cancel_token_is_stale_once_the_session_completed() -> None:
    store = InMemoryCheckpointStore()
    first = Agent(scripted(), tools=[work], checkpoint=store)
    cancelled = await first.run("go", should_cancel=lambda: len(ran) == 1)
    provider = ScriptedProvider(["all done", "a second answer"])
    second = Agent(provider, tools=[work], checkpoint=store)
    await second.resume(cancelled.resume_token or "")

    with pytest.raises(SpineError, match="stale"):
        await second.resume(cancelled.resume_token or "")
    assert len(provider.calls) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_outer_cancel_checkpoints_the_run_as_cancelled_and_resumable() -> None:
    started = anyio.Event()
    release = anyio.Event()

    @tool
    async def slow(item: str) -> str:
        """Wait until released."""
        started.set()
        await release.wait()
        return f"slow {item}"

    store = InMemoryCheckpointStore()
    provider = ScriptedProvider([asks(call("slow", "s1", item="x")), "finished"])
    agent = Agent(provider, tools=[slow], checkpoint=store)

    seen: list[Result | None] = []

    async with anyio.create_task_group() as tg:

        async def run() -> None:
            try:
                await agent.run("go", session_id="outer")
            finally:  # the cancelled task's own last_result
                seen.append(agent.last_result)

        tg.start_soon(run)
        with anyio.fail_after(10):  # a deadlock guard, not a timing assertion
            await started.wait()
        tg.cancel_scope.cancel()

    stored = await store.get("outer")
    assert stored is not None and stored.status is RunStatus.CANCELLED
    assert [m.role for m in stored.messages] == ["user", "assistant"]  # the call is pending
    [last] = seen
    assert last is not None and last.stopped_reason is StopReason.CANCELLED
    assert agent.last_result is None  # this task started no run
    token = last.resume_token
    assert token == "outer:"

    release.set()
    resumed = await Agent(provider, tools=[slow], checkpoint=store).resume(token)
    assert resumed.answer == "finished"
    assert tool_messages(resumed.state.messages) == [("slow", "slow x", False)]
