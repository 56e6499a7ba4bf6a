"""Two app instances ("workers") on one shared store, Redis or PostgreSQL: a session paused
through one is resumed through the other, and of two racing resumes exactly one runs the
approved tool while the other gets a 409."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from spine_core import Agent, CheckpointStore, TestProvider, tool

from .conftest import missing

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("SPINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get(
    "SPINE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["redis", "postgres"])
async def shared_store(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[], CheckpointStore]]:
    """A factory of store objects (one per worker) on one real Redis prefix / Postgres schema."""
    made: list[Any] = []
    if request.param == "redis":
        try:
            import redis.asyncio as aioredis

            probe = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2)
            await probe.ping()
            await probe.aclose()
        except Exception as exc:
            missing(f"Redis at {REDIS_URL} is not reachable: {exc}")
        from spine_backends import RedisCheckpoint

        prefix = f"spine-serve-test:{uuid.uuid4().hex[:12]}"

        def make() -> CheckpointStore:
            made.append(RedisCheckpoint(url=REDIS_URL, prefix=prefix))
            return made[-1]  # type: ignore[no-any-return]

        yield make
        cleanup = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in cleanup.scan_iter(match=f"{prefix}:*")]
        if keys:
            await cleanup.delete(*keys)
        await cleanup.aclose()
    else:
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        except OSError as exc:
            missing(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
        from spine_backends import PostgresCheckpoint

        schema = f"serve_{uuid.uuid4().hex[:12]}"

        def make() -> CheckpointStore:
            made.append(PostgresCheckpoint(POSTGRES_DSN, schema=schema))
            return made[-1]  # type: ignore[no-any-return]

        yield make
        import asyncpg

        con = await asyncpg.connect(POSTGRES_DSN)
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await con.close()
    for store in made:
        close = getattr(store, "aclose", None)
        if close is not None:
            await close()


async def test_any_worker_resumes_and_racing_resumes_run_the_tool_once(
    client_for: Callable[..., Any], shared_store: Callable[[], CheckpointStore]
) -> None:
    runs: list[str] = []

    @tool(approve=True)
    def delete_branch(name: str) -> str:
        """Delete a git branch.

        Args:
            name: The branch.
        """
        runs.append(name)
        return f"deleted branch {name}"

    def worker() -> Agent:
        return Agent(provider=TestProvider(), tools=[delete_branch], checkpoint=shared_store())

    first, second = await client_for(worker()), await client_for(worker())
    paused = await first.post("/runs", json={"input": "go", "session_id": "moved"})
    assert paused.json()["status"] == "interrupted"
    assert (await second.get("/sessions/moved")).json()["status"] == "interrupted"
    resumed = await second.post("/sessions/moved/resume", json={"decision": "approve"})
    assert resumed.json()["answer"] == "Tool results:\n- delete_branch: deleted branch example"
    assert runs == ["example"]

    await first.post("/runs", json={"input": "go", "session_id": "raced"})
    statuses: list[int] = []

    async def resume(client: Any) -> None:
        response = await client.post("/sessions/raced/resume", json={"decision": "approve"})
        statuses.append(response.status_code)

    async with anyio.create_task_group() as tg:
        tg.start_soon(resume, first)
        tg.start_soon(resume, second)
    assert sorted(statuses) == [200, 409]
    assert runs == ["example", "example"]  # once for each session, never twice for one
