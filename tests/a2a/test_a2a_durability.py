"""Tasks outlive their server: a restarted server (new app, agent and store object) on the same
SQLite file, and a second server process on the same PostgreSQL store, answer for them."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from a2a.types import (
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)
from a2a_agents import asking_agent
from a2a_helpers import Worker, sdk_client, serve

from spine_a2a import A2AServer
from spine_backends import PostgresCheckpoint, SQLiteCheckpoint


def request(text: str, task_id: str | None = None) -> SendMessageRequest:
    message = Message(role=Role.ROLE_USER, message_id=uuid.uuid4().hex, parts=[Part(text=text)])
    if task_id:
        message.task_id = task_id
    return SendMessageRequest(message=message)


@pytest.mark.anyio
async def test_tasks_read_back_and_resume_after_a_server_restart(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    path = tmp_path / "spine.db"
    first_store = SQLiteCheckpoint(path)
    with serve(A2AServer(asking_agent(first_store))) as url:
        client = await sdk_client(url, http, streaming=False)
        [paused] = [e async for e in client.send_message(request("hi"))]
        assert paused.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    await first_store.aclose()
    # A new app, agent and store object on the same file: nothing survives but the file.
    with serve(A2AServer(asking_agent(SQLiteCheckpoint(path)))) as url:
        client = await sdk_client(url, http, streaming=False)
        again = await client.get_task(GetTaskRequest(id=paused.task.id))
        assert again.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert again.status.message.parts[0].text == "What is your name?"
        [done] = [e async for e in client.send_message(request("Eve", paused.task.id))]
        assert done.task.status.state == TaskState.TASK_STATE_COMPLETED
        assert done.task.artifacts[0].parts[0].text == "Hello, Eve!"
        listed = await client.list_tasks(ListTasksRequest())
        assert [t.id for t in listed.tasks] == [paused.task.id]


@pytest.mark.anyio
@pytest.mark.services
async def test_a_second_process_on_the_same_postgres_answers_the_task(
    postgres_dsn: str, postgres_schema: str, http: httpx.AsyncClient
) -> None:
    store = f"postgres:{postgres_dsn}#{postgres_schema}"
    # Process one is this test process (a server thread), process two a worker process.
    other = Worker("asking", store)
    try:
        local = PostgresCheckpoint(postgres_dsn, schema=postgres_schema, min_size=1, max_size=2)
        with serve(A2AServer(asking_agent(local))) as url:
            on_a = await sdk_client(url, http)
            events = [e async for e in on_a.send_message(request("hi"))]
            task_id = events[0].task.id
            assert events[-1].status_update.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
            on_b = await sdk_client(other.url, http, streaming=False)
            [done] = [e async for e in on_b.send_message(request("Fay", task_id))]
            assert done.task.status.state == TaskState.TASK_STATE_COMPLETED
            seen_by_a = await on_a.get_task(GetTaskRequest(id=task_id))
            assert seen_by_a.status.state == TaskState.TASK_STATE_COMPLETED
            assert seen_by_a.artifacts[0].parts[0].text == "Hello, Fay!"
    finally:
        other.stop()
