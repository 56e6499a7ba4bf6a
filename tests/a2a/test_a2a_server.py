"""a2a-sdk's own client against `A2AServer`, over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from a2a.client import A2ACardResolver
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError
from a2a_agents import approval_agent, asking_agent, echo_agent, slow_agent
from a2a_helpers import sdk_client, serve
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette
from starlette.routing import Mount

from spine_a2a import A2AServer
from spine_core import RunStatus


def user(text: str, *, task_id: str | None = None, context_id: str | None = None) -> Message:
    message = Message(role=Role.ROLE_USER, message_id=uuid.uuid4().hex, parts=[Part(text=text)])
    if task_id:
        message.task_id = task_id
    if context_id:
        message.context_id = context_id
    return message


def request(text: str, **ids: str | None) -> SendMessageRequest:
    return SendMessageRequest(message=user(text, **ids))


async def final_task(events: list[StreamResponse]) -> Task:
    """The task as the stream left it (a2a-sdk's client does not aggregate)."""
    task = Task()
    for event in events:
        kind = event.WhichOneof("payload")
        if kind == "task":
            task.CopyFrom(event.task)
        elif kind == "status_update":
            task.status.CopyFrom(event.status_update.status)
        elif kind == "artifact_update":
            task.artifacts.append(event.artifact_update.artifact)
    return task


def answer(task: Task) -> str:
    return "".join(p.text for a in task.artifacts for p in a.parts)


@pytest.mark.anyio
async def test_card_mounted_under_a_prefix_describes_agent_and_routes_there(
    http: httpx.AsyncClient,
) -> None:
    server = A2AServer(asking_agent())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.router.lifespan_context(server):  # as `spine serve` mounts it
            yield

    parent = Starlette(routes=[Mount("/a2a", app=server)], lifespan=lifespan)
    with serve(parent) as base:
        card = await A2ACardResolver(http, f"{base}/a2a").get_agent_card()
        assert card.name == "greeter"
        assert card.capabilities.streaming is True
        assert [s.id for s in card.skills] == ["ask_name"]
        urls = {i.protocol_binding: i.url for i in card.supported_interfaces}
        assert urls == {"JSONRPC": f"{base}/a2a/", "HTTP+JSON": f"{base}/a2a/rest"}
        client = await sdk_client(f"{base}/a2a", http, streaming=False)
        [event] = [e async for e in client.send_message(request("hi"))]
        assert event.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED


@pytest.mark.anyio
async def test_send_message_returns_completed_task_with_answer_artifact(
    http: httpx.AsyncClient,
) -> None:
    with serve(A2AServer(echo_agent())) as url:
        client = await sdk_client(url, http, streaming=False)
        [event] = [e async for e in client.send_message(request("hello"))]
        assert event.task.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer(event.task) == "echo #1: hello"
        stored = await client.get_task(GetTaskRequest(id=event.task.id))
        assert stored.status.state == TaskState.TASK_STATE_COMPLETED
        assert [m.parts[0].text for m in stored.history if m.role == Role.ROLE_USER] == ["hello"]


@pytest.mark.anyio
async def test_http_json_binding_serves_the_same_agent(http: httpx.AsyncClient) -> None:
    with serve(A2AServer(echo_agent())) as url:
        client = await sdk_client(url, http, rest=True)
        events = [e async for e in client.send_message(request("over rest"))]
        task = await final_task(events)
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer(task) == "echo #1: over rest"
        listed = await client.list_tasks(ListTasksRequest(context_id=task.context_id))
        assert [t.id for t in listed.tasks] == [task.id]


@pytest.mark.anyio
async def test_stream_sends_task_then_tool_progress_then_artifact_and_completion(
    http: httpx.AsyncClient,
) -> None:
    agent = approval_agent()
    with serve(A2AServer(agent)) as url:
        client = await sdk_client(url, http)
        first = [e async for e in client.send_message(request("/tmp/x"))]
        task = await final_task(first)
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        events = [
            e
            async for e in client.send_message(
                request("yes", task_id=task.id, context_id=task.context_id)
            )
        ]
        kinds = [e.WhichOneof("payload") for e in events]
        assert kinds[-2:] == ["artifact_update", "status_update"]
        texts = [
            e.status_update.status.message.parts[0].text
            for e in events
            if e.HasField("status_update") and e.status_update.status.HasField("message")
        ]
        assert "Calling tool 'delete_file'." in texts
        assert "Tool 'delete_file' finished." in texts
        done = await final_task(events)
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer(done) == "Result: deleted /tmp/x"


@pytest.mark.anyio
async def test_turns_of_one_context_continue_one_spine_session(http: httpx.AsyncClient) -> None:
    agent = echo_agent()
    with serve(A2AServer(agent)) as url:
        client = await sdk_client(url, http, streaming=False)
        [one] = [e async for e in client.send_message(request("first"))]
        context = one.task.context_id
        [two] = [e async for e in client.send_message(request("second", context_id=context))]
        [other] = [e async for e in client.send_message(request("elsewhere"))]
        assert two.task.id != one.task.id and two.task.context_id == context
        assert answer(two.task) == "echo #2: second"
        assert answer(other.task) == "echo #1: elsewhere"
        state = await agent.checkpoint.get(f"a2a:{context}")
        assert state is not None
        assert [m.text for m in state.messages if m.role.value == "user"] == ["first", "second"]


@pytest.mark.anyio
async def test_input_required_carries_the_question_and_the_answer_resumes_the_run(
    http: httpx.AsyncClient,
) -> None:
    with serve(A2AServer(asking_agent())) as url:
        client = await sdk_client(url, http)
        task = await final_task([e async for e in client.send_message(request("hi"))])
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert task.status.message.parts[0].text == "What is your name?"
        pause = MessageToDict(task.status.message.metadata)["spine.pause"]
        assert pause["kind"] == "input" and pause["data"] == {"field": "name"}
        # The answer names only the task; the server finds its context.
        events = [e async for e in client.send_message(request("Ada", task_id=task.id))]
        done = await final_task(events)
        assert done.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer(done) == "Hello, Ada!"


@pytest.mark.anyio
async def test_rejecting_an_approval_pause_tells_the_model_the_reason(
    http: httpx.AsyncClient,
) -> None:
    with serve(A2AServer(approval_agent())) as url:
        client = await sdk_client(url, http, streaming=False)
        [paused] = [e async for e in client.send_message(request("/etc/passwd"))]
        pause = MessageToDict(paused.task.status.message.metadata)["spine.pause"]
        assert pause["kind"] == "approval"
        reply = request("reject: too risky", task_id=paused.task.id)
        [done] = [e async for e in client.send_message(reply)]
        assert answer(done.task) == "Result: The user rejected this tool call: too risky"


@pytest.mark.anyio
async def test_cancel_stops_a_running_task_and_a_waiting_one(http: httpx.AsyncClient) -> None:
    agent = slow_agent()
    with serve(A2AServer(agent)) as url:
        client = await sdk_client(url, http)
        started = anyio.Event()
        seen: list[StreamResponse] = []

        async def consume() -> None:
            async for event in client.send_message(request("go")):
                seen.append(event)
                if event.HasField("status_update") and "slow_step" in str(event):
                    started.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            with anyio.fail_after(10):
                await started.wait()
            task_id = seen[0].task.id
            cancelled = await client.cancel_task(CancelTaskRequest(id=task_id))
            assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
            tg.cancel_scope.cancel()
        stored = await client.get_task(GetTaskRequest(id=task_id))
        assert stored.status.state == TaskState.TASK_STATE_CANCELED
        state = await agent.checkpoint.get(f"a2a:{seen[0].task.context_id}")
        assert state is not None and state.status is RunStatus.CANCELLED
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(CancelTaskRequest(id=task_id))

    asking = asking_agent()
    with serve(A2AServer(asking)) as url:
        client = await sdk_client(url, http, streaming=False)
        [paused] = [e async for e in client.send_message(request("hi"))]
        cancelled = await client.cancel_task(CancelTaskRequest(id=paused.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        # The context is not stuck on the dropped question: a new turn runs.
        again = request("hello again", context_id=paused.task.context_id)
        [fresh] = [e async for e in client.send_message(again)]
        assert fresh.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert fresh.task.id != paused.task.id


@pytest.mark.anyio
async def test_new_turn_in_a_context_waiting_for_input_is_rejected(
    http: httpx.AsyncClient,
) -> None:
    with serve(A2AServer(asking_agent())) as url:
        client = await sdk_client(url, http, streaming=False)
        [paused] = [e async for e in client.send_message(request("hi"))]
        other = request("something else", context_id=paused.task.context_id)
        [refused] = [e async for e in client.send_message(other)]
        assert refused.task.status.state == TaskState.TASK_STATE_REJECTED
        assert paused.task.id in refused.task.status.message.parts[0].text
        [done] = [e async for e in client.send_message(request("Bo", task_id=paused.task.id))]
        assert answer(done.task) == "Hello, Bo!"


@pytest.mark.anyio
async def test_list_tasks_filters_by_context_and_state(http: httpx.AsyncClient) -> None:
    with serve(A2AServer(echo_agent())) as url:
        client = await sdk_client(url, http, streaming=False)
        [a] = [e async for e in client.send_message(request("a"))]
        ctx = a.task.context_id
        [b] = [e async for e in client.send_message(request("b", context_id=ctx))]
        [_] = [e async for e in client.send_message(request("c"))]
        listed = await client.list_tasks(ListTasksRequest(context_id=ctx))
        assert {t.id for t in listed.tasks} == {a.task.id, b.task.id}
        everything = await client.list_tasks(
            ListTasksRequest(status=TaskState.TASK_STATE_COMPLETED, page_size=2)
        )
        assert everything.total_size == 3 and len(everything.tasks) == 2
        assert everything.next_page_token
