"""Isolation and durability guarantees of the kernel: per-task results, pauses kept intact,
unique sub-agent sessions, sync-tool timeouts, the resume claim."""

from __future__ import annotations

import os
import threading
import time

import anyio
import pytest

from spine_core import (
    Agent,
    Guards,
    InMemoryCheckpointStore,
    Message,
    ResumeError,
    ScriptedProvider,
    State,
    StopReason,
    TestProvider,
    ToolCall,
    tool,
)

from .helpers import asks, call, priced, tool_messages

pytestmark = pytest.mark.anyio

# Streams run at once on one shared Agent (`make soak` raises it with SPINE_SOAK_STREAMS).
CONCURRENT_STREAMS = int(os.environ.get("SPINE_SOAK_STREAMS", "1000"))


async def test_concurrent_streams_on_one_agent_each_get_their_own_result() -> None:
    agent = Agent(TestProvider())
    answers: dict[int, str | None] = {}

    async def one(n: int) -> None:
        stream = agent.stream(f"question {n}")
        async for _ in stream:
            await anyio.sleep(0)  # interleave the runs
        assert stream.result is not None
        assert agent.last_result is stream.result  # this task's own last result
        answers[n] = stream.result.answer

    async with anyio.create_task_group() as tg:
        for n in range(CONCURRENT_STREAMS):
            tg.start_soon(one, n)

    assert answers == {n: f"You said: question {n}" for n in range(CONCURRENT_STREAMS)}


async def test_run_without_input_keeps_a_pending_pause_and_its_token() -> None:
    @tool(approve=True)
    async def pay(usd: int) -> str:
        """Pay."""
        return f"paid {usd}"

    store = InMemoryCheckpointStore()
    agent = Agent(
        ScriptedProvider([asks(call("pay", usd=3)), "done"]), tools=[pay], checkpoint=store
    )
    paused = await agent.run("pay", session_id="s")

    again = await agent.run(None, session_id="s")

    assert again.stopped_reason is StopReason.INTERRUPT
    assert again.resume_token == paused.resume_token
    finished = await agent.resume(paused.resume_token or "")
    assert finished.answer == "done"
    assert tool_messages(finished.state.messages) == [("pay", "paid 3", False)]


async def test_a_provider_reusing_call_ids_never_gets_an_old_sub_agent_answer() -> None:
    store = InMemoryCheckpointStore()
    child = Agent(ScriptedProvider(["Katze", "Hund"]), name="translate", checkpoint=store)
    parent = Agent(
        ScriptedProvider(
            [
                asks(call("translate", "call_0", input="cat")),
                "Katze",
                asks(call("translate", "call_0", input="dog")),  # the same id, a new turn
                "Hund",
            ]
        ),
        tools=[child.as_tool()],
        checkpoint=store,
    )

    await parent.run("translate cat", session_id="chat")
    second = await parent.run("translate dog", session_id="chat")

    assert tool_messages(second.state.messages)[-1] == ("translate", "Hund", False)


async def test_a_sub_agent_cost_is_counted_once_across_a_pause() -> None:
    @tool(approve=True)
    async def spend() -> str:
        """Spend."""
        return "spent"

    store = InMemoryCheckpointStore()
    child = Agent(
        ScriptedProvider(
            [priced(asks(call("spend")), cost_usd=1000.0), priced("ok", cost_usd=100.0)]
        ),
        name="worker",
        tools=[spend],
        checkpoint=store,
    )
    parent = Agent(
        ScriptedProvider([asks(call("worker", input="go")), priced("done", cost_usd=11.0)]),
        tools=[child.as_tool()],
        checkpoint=store,
    )
    paused = await parent.run("start", session_id="p")
    assert paused.usage.cost_usd == pytest.approx(1000.0)

    done = await parent.resume(paused.resume_token or "")

    assert done.usage.cost_usd == pytest.approx(1111.0)


async def test_a_sync_tool_past_its_deadline_ends_as_a_timeout_not_a_success() -> None:
    release = threading.Event()

    @tool
    def slow() -> str:
        """Block a worker thread."""
        release.wait(10)
        return "finished"

    agent = Agent(
        ScriptedProvider([asks(call("slow")), "gave up"]),
        tools=[slow],
        guards=Guards(timeout_s=0.5),
    )
    started = time.monotonic()
    try:
        result = await agent.run("go")
    finally:
        release.set()

    assert result.stopped_reason is StopReason.TIMEOUT
    assert time.monotonic() - started < 5  # the run did not wait for the thread
    assert ("slow", "finished", False) not in tool_messages(result.state.messages)


async def test_duplicate_tool_names_are_rejected_when_the_agent_is_built() -> None:
    @tool(name="search")
    async def a() -> str:
        """A."""
        return "a"

    @tool(name="search")
    async def b() -> str:
        """B."""
        return "b"

    with pytest.raises(ValueError, match="two tools are named 'search'"):
        Agent(TestProvider(), tools=[a, b])


class _BothReadFirst(InMemoryCheckpointStore):
    """A store whose first two reads wait for each other, as two racing workers' would."""

    def __init__(self) -> None:
        super().__init__()
        self.readers = 0
        self.both_read = anyio.Event()
        self.racing = False

    async def get(self, session_id: str) -> State | None:
        state = await super().get(session_id)
        if self.racing:
            self.readers += 1
            if self.readers == 2:
                self.both_read.set()
            with anyio.fail_after(5):  # a deadlock guard, not a timing assertion
                await self.both_read.wait()
        return state


async def test_of_two_racing_resumers_one_runs_the_tool_and_the_other_gets_resume_error() -> None:
    ran: list[int] = []

    @tool(approve=True)
    async def ship(n: int) -> str:
        """Ship."""
        ran.append(n)
        return "shipped"

    store = _BothReadFirst()
    first = Agent(ScriptedProvider([asks(call("ship", n=1))]), tools=[ship], checkpoint=store)
    paused = await first.run("ship it", session_id="race")
    token = paused.resume_token or ""
    outcomes: list[str] = []

    async def resume(agent: Agent) -> None:
        try:
            result = await agent.resume(token, "approve")
            outcomes.append(result.stopped_reason.value)
        except ResumeError as exc:
            outcomes.append(f"lost: {exc}")

    store.racing = True
    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(resume, Agent(ScriptedProvider(["ok"]), tools=[ship], checkpoint=store))

    assert ran == [1]
    assert sorted(outcomes)[0] == "final"
    assert "resumed by another worker first" in sorted(outcomes)[1]


async def test_a_state_in_the_reference_format_resumes() -> None:
    store = InMemoryCheckpointStore()
    reference = {
        "version": 1,
        "session_id": "ref",
        "tenant_id": None,
        "messages": [
            {"role": "user", "content": "pay 5"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "pay", "arguments": {"usd": 5}}],
            },
        ],
        "step": 1,
        "usage": {"input_tokens": 10, "output_tokens": 2, "cost_usd": 0.0},
        "status": "interrupted",
        "depth": 0,
        "pending": {
            "call": {"id": "c1", "name": "pay", "arguments": {"usd": 5}},
            "mode": "approve",
            "payload": {"tool": "pay", "arguments": {"usd": 5}},
        },
        "scratch": {},
    }
    await store.put(State.load(reference))

    @tool(approve=True)
    async def pay(usd: int) -> str:
        """Pay."""
        return f"paid {usd}"

    done = await Agent(ScriptedProvider(["paid"]), tools=[pay], checkpoint=store).resume("ref")

    assert done.answer == "paid"
    assert done.state.messages[2] == Message.tool("paid 5", "c1", "pay")
    assert isinstance(done.state.messages[1].tool_calls[0], ToolCall)


async def test_a_store_that_refuses_a_save_ends_the_run_with_an_error_result() -> None:
    class Refusing(InMemoryCheckpointStore):
        async def put(self, state: State) -> None:
            if any("poison" in m.text for m in state.messages):
                raise ValueError("cannot encode this text")
            await super().put(state)

    agent = Agent(ScriptedProvider(["poison"]), checkpoint=Refusing())

    result = await agent.run("hi")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and "cannot encode this text" in result.error


async def test_arguments_nested_too_deep_go_back_to_the_model_as_a_tool_error() -> None:
    ran: list[object] = []

    @tool
    async def take(data: dict) -> str:  # type: ignore[type-arg]
        """Take anything."""
        ran.append(data)
        return "taken"

    deep: dict[str, object] = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    agent = Agent(ScriptedProvider([asks(call("take", data=deep)), "ok"]), tools=[take])

    result = await agent.run("go")

    assert ran == [] and result.ok
    [(_, text, is_error)] = tool_messages(result.state.messages)
    assert is_error and "nested deeper than 64 levels" in text


async def test_lone_surrogates_in_a_tool_result_are_replaced_visibly() -> None:
    @tool
    async def listdir() -> list[str]:
        """A non-UTF-8 file name, as os.listdir gives it."""
        return ["caf\udce9.txt"]

    agent = Agent(ScriptedProvider([asks(call("listdir")), "ok"]), tools=[listdir])

    result = await agent.run("go")

    [(_, text, _)] = tool_messages(result.state.messages)
    assert text == '["caf\ufffd.txt"]'
    text.encode("utf-8")  # encodable: every store and API accepts it


async def test_a_token_of_a_resolved_pause_cannot_answer_the_next_pause() -> None:
    ran: list[int] = []

    @tool(approve=True)
    async def pay(usd: int) -> str:
        """Pay."""
        ran.append(usd)
        return f"paid {usd}"

    store = InMemoryCheckpointStore()
    script = [asks(call("pay", "p1", usd=1)), asks(call("pay", "p2", usd=2)), "done"]
    agent = Agent(ScriptedProvider(script), tools=[pay], checkpoint=store)
    first = await agent.run("pay twice", session_id="s")
    second = await agent.resume(first.resume_token or "")  # pays 1, then pauses on the 2nd
    assert second.interrupted and second.resume_token != first.resume_token

    with pytest.raises(ResumeError, match="stale"):
        await agent.resume(first.resume_token or "")
    assert ran == [1]  # the old token did not approve the new call
    done = await agent.resume(second.resume_token or "")
    assert done.answer == "done" and ran == [1, 2]
