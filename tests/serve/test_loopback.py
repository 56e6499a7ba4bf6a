"""The app on uvicorn over loopback: events arrive while the run is still going, a client
that disconnects mid-stream cancels the run (checkpointed as cancelled), and 200 concurrent
SSE runs on one worker all complete."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from spine.serve import app
from spine_core import Agent, InMemoryCheckpointStore, TestProvider, tool

from .conftest import EVENT, add, run_input

pytestmark = pytest.mark.anyio

LOAD_RUNS = int(os.environ.get("SPINE_SERVE_LOAD_RUNS", "200"))
LOAD_BOUND_S = 60.0


async def _events(response: httpx.Response) -> Any:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            raw = json.loads(line[6:])
            EVENT.validate_python(raw)
            yield raw


async def test_events_arrive_before_the_run_ends(loopback: Callable[..., Any]) -> None:
    release = anyio.Event()

    @tool
    async def wait_for_client() -> str:
        """Wait until the client has seen the call."""
        await release.wait()
        return "released"

    url = await loopback(app(Agent(provider=TestProvider(), tools=[wait_for_client])))
    seen: list[str] = []
    body = run_input("live", "go")
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as client,
        client.stream("POST", "/ag-ui", json=body) as response,
    ):
        async for event in _events(response):
            seen.append(event["type"])
            if event["type"] == "TOOL_CALL_END":
                release.set()  # the run is blocked on this until the client saw the call
    assert seen[-1] == "RUN_FINISHED"
    assert seen.index("TOOL_CALL_END") < seen.index("TOOL_CALL_RESULT")


@pytest.mark.parametrize("endpoint", ["ag-ui", "runs"])
async def test_client_disconnect_cancels_the_run_and_checkpoints_it(
    loopback: Callable[..., Any], endpoint: str
) -> None:
    entered = anyio.Event()
    finished: list[bool] = []

    @tool
    async def forever() -> str:
        """Never ends by itself."""
        entered.set()
        await anyio.sleep(60)
        finished.append(True)
        return "late"

    store = InMemoryCheckpointStore()
    asgi = app(Agent(provider=TestProvider(), tools=[forever], checkpoint=store))
    url = await loopback(asgi)
    session = f"gone-{endpoint}"
    body = (
        run_input(session, "go")
        if endpoint == "ag-ui"
        else {"input": "go", "session_id": session, "mode": "stream"}
    )
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        async with client.stream("POST", f"/{endpoint}", json=body) as response:
            assert response.status_code == 200
            with anyio.fail_after(10):
                await entered.wait()
        # leaving the block closed the connection mid-run
        with anyio.fail_after(10):
            while True:
                state = await store.get(session)
                if state is not None and state.status.value == "cancelled":
                    break
                await anyio.sleep(0.02)
        got = (await client.get(f"/sessions/{session}")).json()
    assert got["status"] == "cancelled"
    assert got["stopped_reason"] == "cancelled"
    assert finished == []


async def test_concurrent_sse_runs_on_one_worker(loopback: Callable[..., Any]) -> None:
    url = await loopback(app(Agent(provider=TestProvider(), tools=[add])))
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=LOAD_RUNS + 10, max_keepalive_connections=LOAD_RUNS)

    async def one(client: httpx.AsyncClient, index: int) -> None:
        started = time.perf_counter()
        try:
            async with client.stream("POST", "/ag-ui", json=run_input(f"load-{index}", "add")) as r:
                last = None
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        last = json.loads(line[6:])
            if (
                last is None
                or last["type"] != "RUN_FINISHED"
                or "add: 2" not in last["result"]["answer"]
            ):
                failures.append(f"run {index}: ended with {last}")
        except Exception as exc:
            failures.append(f"run {index}: {type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=LOAD_BOUND_S, limits=limits) as client:
        with anyio.fail_after(LOAD_BOUND_S):
            async with anyio.create_task_group() as tg:
                for index in range(LOAD_RUNS):
                    tg.start_soon(one, client, index)
    wall = time.perf_counter() - began
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"\nload: {LOAD_RUNS} concurrent AG-UI SSE runs, one uvicorn worker: "
        f"wall {wall:.2f}s, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"errors {len(failures)}"
    )
    assert failures == []
    assert len(latencies) == LOAD_RUNS
