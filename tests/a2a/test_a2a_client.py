"""`A2AAgent` against an agent built with a2a-sdk's own server classes, over JSON-RPC and
HTTP+JSON on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from a2a.types import TaskState
from a2a_helpers import serve
from a2a_sdk_agent import painter_app
from starlette.applications import Starlette
from starlette.routing import Mount

from spine_a2a import A2AAgent, A2AAgentError, A2AEventType, A2AInputRequired
from spine_a2a.client import SCRATCH_KEY
from spine_core import (
    Agent,
    EventType,
    InMemoryCheckpointStore,
    Message,
    Role,
    ScriptedProvider,
    StopReason,
    ToolCall,
)


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def painter(request: pytest.FixtureRequest) -> Iterator[str]:
    binding = str(request.param)
    with serve(factory=lambda base: painter_app(base, binding)) as url:
        yield url


def delegate(text: str, call_id: str = "call_1") -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id=call_id, name="painter_agent", arguments={"input": text})]
    )


@pytest.mark.anyio
async def test_send_discovers_the_card_and_returns_the_streamed_answer(painter: str) -> None:
    async with A2AAgent(painter) as remote:
        assert remote.name == "painter_agent"
        assert remote.description.startswith("Paints things.")
        assert "- paint: Paint a thing" in remote.description
        assert await remote.send("Ada") == "Hello, Ada!"
        kinds = [e.WhichOneof("payload") async for e in remote.stream("Bo")]
        assert kinds[0] == "task" and "artifact_update" in kinds
        assert kinds[-1] == "status_update"


@pytest.mark.anyio
async def test_input_required_raises_and_the_answer_completes_the_task(painter: str) -> None:
    async with A2AAgent(painter) as remote:
        with pytest.raises(A2AInputRequired) as asked:
            await remote.send("paint the fence")
        assert asked.value.question == "Which color?"
        assert asked.value.state == "input-required"
        reply = await remote.send(
            "blue", task_id=asked.value.task_id, context_id=asked.value.context_id
        )
        assert reply == "Painted blue."
        task = await remote.get_task(asked.value.task_id)
        assert task.status.state == TaskState.TASK_STATE_COMPLETED


@pytest.mark.anyio
async def test_tasks_are_listed_and_cancelled(painter: str) -> None:
    async with A2AAgent(painter) as remote:
        with pytest.raises(A2AInputRequired) as asked:
            await remote.send("paint it")
        listed = await remote.list_tasks(context_id=asked.value.context_id)
        assert [t.id for t in listed.tasks] == [asked.value.task_id]
        cancelled = await remote.cancel_task(asked.value.task_id)
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        with pytest.raises(A2AAgentError) as again:
            await remote.cancel_task(asked.value.task_id)
        assert again.value.code == -32002 and again.value.kind.value == "bad_request"
        with pytest.raises(A2AAgentError) as failed:
            await remote.send("fail")
        assert "ended failed: cannot do that" in str(failed.value)


@pytest.mark.anyio
async def test_as_tool_streams_remote_updates_into_the_run_trace(painter: str) -> None:
    async with A2AAgent(painter) as remote:
        provider = ScriptedProvider([delegate("Cy"), "The painter said hello."])
        agent = Agent(provider=provider, tools=[remote.as_tool()])
        events = [e async for e in agent.stream("greet Cy")]
        result = agent.last_result
        assert result is not None and result.ok
        tool_result = next(m for m in result.state.messages if m.role is Role.TOOL)
        assert tool_result.text == "Hello, Cy!"
        states = [e.data["state"] for e in events if A2AEventType.of(e) is A2AEventType.STATUS]
        assert states[0] == "submitted" and states[-1] == "completed"
        assert "working" in states
        chunks = [e.data["text"] for e in events if A2AEventType.of(e) is A2AEventType.ARTIFACT]
        assert chunks == ["Hello, ", "Cy!"]
        assert all(e.data["tool"] == "painter_agent" for e in events if A2AEventType.of(e))
        # Live order: the remote's updates come between the call and its result.
        order = [A2AEventType.of(e) or e.type for e in events]
        assert order.index(EventType.TOOL_CALL) < order.index(A2AEventType.ARTIFACT)
        assert order.index(A2AEventType.ARTIFACT) < order.index(EventType.TOOL_RESULT)


@pytest.mark.anyio
async def test_remote_input_required_pauses_and_a_fresh_process_resume_answers_it(
    painter: str,
) -> None:
    store = InMemoryCheckpointStore()
    async with A2AAgent(painter) as remote:
        first = Agent(
            provider=ScriptedProvider([delegate("paint the door")]),
            tools=[remote.as_tool()],
            checkpoint=store,
        )
        paused = await first.run("paint my door")
        assert paused.stopped_reason is StopReason.INTERRUPT
        assert paused.interrupt is not None and paused.interrupt.question == "Which color?"
        assert paused.interrupt.data["a2a"]["state"] == "input-required"
    saved = await store.get(paused.session_id)
    assert saved is not None
    record = saved.scratch[SCRATCH_KEY]["call_1"]
    assert record["task_id"] == paused.interrupt.data["a2a"]["task_id"] and record["context_id"]
    # A new A2AAgent and Agent (as in another process), sharing only the checkpoint store.
    async with A2AAgent(painter) as fresh_remote:
        second = Agent(
            provider=ScriptedProvider(["Your door is green."]),
            tools=[fresh_remote.as_tool()],
            checkpoint=store,
        )
        assert paused.resume_token is not None
        done = await second.resume(paused.resume_token, answer="green")
        assert done.ok and done.answer == "Your door is green."
        tool_result = next(m for m in done.state.messages if m.role is Role.TOOL)
        assert tool_result.text == "Painted green." and not tool_result.is_error
        assert SCRATCH_KEY not in done.state.scratch
        task = await fresh_remote.get_task(record["task_id"])
        assert task.status.state == TaskState.TASK_STATE_COMPLETED


@pytest.mark.anyio
async def test_a_remote_without_a_card_is_reached_at_its_json_rpc_url() -> None:
    def no_card(base: str) -> Starlette:
        app = painter_app(f"{base}/rpc", "JSONRPC")
        routes = [r for r in app.routes if getattr(r, "path", "") == "/"]
        return Starlette(routes=[Mount("/rpc", routes=routes)])

    with serve(factory=no_card) as url:
        remote = A2AAgent(f"{url}/rpc/")
        assert await remote.send("Gil") == "Hello, Gil!"
        assert remote.name == "remote_agent"  # no card, so the reference's default
        await remote.aclose()
