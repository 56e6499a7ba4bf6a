"""parallel_tools=True: a batch of calls runs concurrently, results land in call order."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from spine_core import Agent, InMemoryCheckpointStore, ScriptedProvider, State, StopReason, tool

from .helpers import asks, call, tool_messages


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_tools_in_a_batch_overlap_and_results_keep_call_order() -> None:
    a_started, b_started, b_finished = anyio.Event(), anyio.Event(), anyio.Event()
    finished: list[str] = []

    @tool
    async def first() -> str:
        """Waits until `second` is running and has finished."""
        a_started.set()
        await b_started.wait()  # deadlocks unless both run at once
        await b_finished.wait()
        finished.append("first")
        return "one"

    @tool
    async def second() -> str:
        """Waits until `first` is running."""
        b_started.set()
        await a_started.wait()
        finished.append("second")
        b_finished.set()
        return "two"

    provider = ScriptedProvider([asks(call("first"), call("second")), "both"])
    agent = Agent(provider, tools=[first, second], parallel_tools=True)

    with anyio.fail_after(10):  # a deadlock guard, not a timing assertion
        result = await agent.run("go")

    assert result.ok
    assert finished == ["second", "first"]
    assert tool_messages(result.state.messages) == [
        ("first", "one", False),
        ("second", "two", False),
    ]


log: list[str] = []


@tool
async def slow_a() -> str:
    """Yields to the scheduler mid-call."""
    log.append("a start")
    await anyio.lowlevel.checkpoint()
    log.append("a end")
    return "a"


@tool
async def slow_b() -> str:
    """Yields to the scheduler mid-call."""
    log.append("b start")
    await anyio.lowlevel.checkpoint()
    log.append("b end")
    return "b"


@tool(approve=True)
async def gated() -> str:
    """Needs approval."""
    log.append("gated")
    return "g"


@pytest.mark.anyio
async def test_parallel_calls_interleave() -> None:
    log.clear()
    agent = Agent(
        ScriptedProvider([asks(call("slow_a"), call("slow_b")), "ok"]),
        tools=[slow_a, slow_b],
        parallel_tools=True,
    )

    await agent.run("go")

    assert log[:2] == ["a start", "b start"]


@pytest.mark.anyio
async def test_batch_with_an_approval_gated_call_runs_sequentially() -> None:
    log.clear()
    batch = asks(call("slow_a"), call("slow_b"), call("gated"))
    agent = Agent(
        ScriptedProvider([batch, "ok"]), tools=[slow_a, slow_b, gated], parallel_tools=True
    )

    paused = await agent.run("go")

    assert paused.stopped_reason is StopReason.INTERRUPT
    assert log == ["a start", "a end", "b start", "b end"]
    resumed = await agent.resume(paused.resume_token or "")
    assert resumed.ok and log[-1] == "gated"


@pytest.mark.anyio
async def test_failing_call_in_a_parallel_batch_is_a_tool_error_for_that_call_only() -> None:
    @tool
    async def broken() -> str:
        """Fails."""
        raise RuntimeError("disk full")

    agent = Agent(
        ScriptedProvider([asks(call("broken"), call("slow_a")), "ok"]),
        tools=[broken, slow_a],
        parallel_tools=True,
    )

    result = await agent.run("go")

    assert tool_messages(result.state.messages) == [
        ("broken", "Tool 'broken' failed: RuntimeError: disk full", True),
        ("slow_a", "a", False),
    ]


@pytest.mark.anyio
async def test_interrupt_in_a_parallel_batch_keeps_the_other_results_and_resumes() -> None:
    from spine_core import Interrupt

    @tool
    async def ask() -> str:
        """Ask the user."""
        raise Interrupt("Name?")

    log.clear()
    provider = ScriptedProvider([asks(call("ask"), call("slow_a")), "hello Ada"])
    agent = Agent(provider, tools=[ask, slow_a], parallel_tools=True)

    paused = await agent.run("greet")
    assert paused.interrupted and paused.state.pending_tool_calls() == [call("ask")]
    result = await agent.resume(paused.resume_token or "", answer="Ada")

    assert result.answer == "hello Ada"
    assert log == ["a start", "a end"]  # slow_a ran once
    assert sorted(tool_messages(provider.prompts[1])) == [
        ("ask", "Ada", False),
        ("slow_a", "a", False),
    ]


@pytest.mark.anyio
async def test_a_crash_mid_batch_does_not_rerun_the_calls_that_finished() -> None:
    ran: list[str] = []
    finished = anyio.Event()
    snapshot: list[State] = []
    scopes: list[anyio.CancelScope] = []

    class Watched(InMemoryCheckpointStore):
        async def put(self, state: State) -> None:
            await super().put(state)
            if len(state.scratch.get("spine.batch_results", {})) == 3:
                finished.set()  # the three quick results are checkpointed

    store = Watched()

    @tool
    async def quick(name: str) -> str:
        """Finish at once."""
        ran.append(name)
        return f"did {name}"

    @tool
    async def last() -> str:
        """Wait until the quick ones are done, then 'crash' (what a SIGKILL leaves is the store)."""
        with anyio.fail_after(10):  # a deadlock guard, not a timing assertion
            await finished.wait()
        stored = await store.get("batch")
        assert stored is not None
        snapshot.append(stored)
        scopes[0].cancel()  # the process dies here
        await anyio.sleep_forever()
        return "unreachable"

    calls = [call("quick", f"q{i}", name=f"n{i}") for i in range(3)] + [call("last", "l")]
    agent = Agent(
        ScriptedProvider([asks(*calls)]),
        tools=[quick, last],
        parallel_tools=True,
        checkpoint=store,
    )
    with anyio.CancelScope() as scope:
        scopes.append(scope)
        await agent.run("go", session_id="batch")
    assert len(snapshot) == 1

    crashed = InMemoryCheckpointStore()
    await crashed.put(snapshot[0].model_copy(update={"revision": 0}))

    @tool(name="last")
    async def last_again() -> str:
        """Done now."""
        ran.append("last")
        return "did last"

    fresh = Agent(
        ScriptedProvider(["all done"]),
        tools=[quick, last_again],
        parallel_tools=True,
        checkpoint=crashed,
    )
    result = await fresh.run(None, session_id="batch")

    assert ran == ["n0", "n1", "n2", "last"]  # the quick calls ran once
    assert [m.tool_call_id for m in result.state.messages if m.role == "tool"] == [
        "q0",
        "q1",
        "q2",
        "l",
    ]
    assert result.answer == "all done"
