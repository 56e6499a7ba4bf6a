"""Against the Temporal dev server: kill-and-resume (a worker process is killed with SIGKILL
in the middle of a run, a new worker process finishes it, and every completed tool call's
side effect happened exactly once), a decision signalled while no worker is up, and, on real
time (the time-skipping server would skip past the activities' heartbeat timeouts), the run
timeout and a cancel in the middle of a tool call."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from spine_core import (
    Agent,
    Guards,
    Message,
    Result,
    RunStatus,
    ScriptedProvider,
    StopReason,
    ToolCall,
    tool,
)
from spine_temporal import ActivityOptions, RunRequest, TemporalAgent, start_run

from .crash import (
    Workers,
    check_exactly_once,
    completed_tool_attempts,
    ledger_lines,
    write_spec,
)


async def _wait_for(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll `predicate` (a file the worker process writes) until it holds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_run_survives_sigkill_of_its_worker_mid_tool_call(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    steps = 6  # five tool calls, then the answer
    ledger = tmp_path / "ledger.txt"
    workers = Workers(
        spec=write_spec(tmp_path, steps=steps),
        address=dev_env.client.service_client.config.target_host,
        queue=f"crash-{uuid.uuid4().hex[:8]}",
        ledger=ledger,
        block_step=3,  # the first attempt of tool call 3 hangs: the worker dies inside it
    )
    go = tmp_path / "standby-go"
    try:
        first = workers.start()
        second = workers.start(go=go)  # imports done while the first works; serves on `go`
        request = RunRequest(agent="crash", input="count", session_id="s-crash")
        handle = await start_run(
            dev_env.client,
            request,
            task_queue=workers.queue,
            workflow_id=f"spine:crash:s-crash-{uuid.uuid4().hex[:6]}",
            task_timeout_s=2,
        )
        await _wait_for(
            lambda: any(e == "start" and s == 3 for e, _, s, _, _ in ledger_lines(ledger)),
            timeout_s=60,
            what="tool call 3 to start",
        )
        workers.kill(first)
        killed_at = time.monotonic()
        go.touch()
        with anyio.fail_after(60):
            result: Result = await handle.result()
        recovery_s = time.monotonic() - killed_at
    finally:
        workers.stop_all()
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == f"done after {steps - 1}"
    assert result.state.status is RunStatus.DONE
    lines = ledger_lines(ledger)
    done = check_exactly_once(lines, steps, await completed_tool_attempts(handle.workflow))
    assert done == {step: 1 for step in range(1, steps)}
    starts = [(s, a) for e, _, s, a, _ in lines if e == "start"]
    assert starts == [(1, 1), (2, 1), (3, 1), (3, 2), (4, 1), (5, 1)]
    pids = {s: pid for e, _, s, _, pid in lines if e == "done"}
    assert pids[1] == pids[2] == first.pid  # finished before the kill: not run again
    assert pids[3] == pids[4] == pids[5] == second.pid  # finished by the new worker
    assert recovery_s < 30


@pytest.mark.anyio
async def test_run_timeout_guard_stops_a_hung_tool_call(dev_env: WorkflowEnvironment) -> None:
    @tool
    async def slow_report() -> str:
        """Build a report (hangs: it never finishes)."""
        await anyio.Event().wait()
        return "never"

    provider = ScriptedProvider([_asks_for("slow_report"), "unreachable"])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[slow_report], name="slow", guards=Guards(timeout_s=1.0)),
        task_queue=f"slow-{uuid.uuid4().hex[:8]}",
        activities=ActivityOptions(heartbeat_timeout_s=5),
    )
    started = time.monotonic()
    async with agent.worker(dev_env.client, graceful_shutdown_timeout=timedelta(seconds=0)):
        result = await agent.run(dev_env.client, "report", session_id="s-slow")
    assert time.monotonic() - started < 20
    assert result.stopped_reason is StopReason.TIMEOUT
    assert result.state.stopped_reason is StopReason.TIMEOUT
    assert len(provider.calls) == 1
    assert result.state.pending_tool_calls()[0].name == "slow_report"  # cut off, unanswered


def _asks_for(name: str, **arguments: object) -> Message:
    call = ToolCall(id="c1", name=name, arguments=arguments)
    return Message.assistant("", tool_calls=[call])


@pytest.mark.anyio
async def test_a_signalled_decision_waits_for_the_next_worker(
    dev_env: WorkflowEnvironment,
) -> None:
    made: list[int] = []

    @tool(approve=True)
    async def refund(order: int) -> str:
        """Refund an order.

        Args:
            order: The order number.
        """
        made.append(order)
        return f"refunded {order}"

    provider = ScriptedProvider([_asks_for("refund", order=9), "Refunded."])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[refund], name="refunder"),
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
    )
    sticky = {"sticky_queue_schedule_to_start_timeout": timedelta(seconds=1)}
    async with agent.worker(dev_env.client, **sticky):
        handle = await agent.start(dev_env.client, "Refund 9", session_id="s-noworker")
        await handle.wait()
    # No worker is up: the pause holds none, and the signal is recorded by the server.
    await handle.decide("approve", wait=False)
    assert made == []
    async with agent.worker(dev_env.client):  # a new worker picks the run up
        result = await handle.result()
    assert result.ok and made == [9]


@pytest.mark.anyio
async def test_cancelling_a_run_mid_tool_call_cancels_the_activity(
    dev_env: WorkflowEnvironment,
) -> None:
    started, stopped = anyio.Event(), anyio.Event()

    @tool
    async def crunch() -> str:
        """Crunch numbers for a long time."""
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.set()
        return "never"

    provider = ScriptedProvider([_asks_for("crunch"), "unreachable"])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[crunch], name="cruncher"),
        task_queue=f"crunch-{uuid.uuid4().hex[:8]}",
        activities=ActivityOptions(heartbeat_timeout_s=1.0),
    )
    async with agent.worker(dev_env.client):
        handle = await agent.start(dev_env.client, "crunch", session_id="s-crunch")
        with anyio.fail_after(30):
            await started.wait()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        with anyio.fail_after(30):
            await stopped.wait()  # the activity heard the cancel through its heartbeat
    assert isinstance(failure.value.cause, CancelledError)
    assert len(provider.calls) == 1


SOAK_RUNS = int(os.environ.get("SPINE_SOAK_TEMPORAL_RUNS", "0"))
SOAK_KILLS = int(os.environ.get("SPINE_SOAK_TEMPORAL_KILLS", "10"))
SOAK_WORKERS = int(os.environ.get("SPINE_SOAK_TEMPORAL_WORKERS", "2"))


@pytest.mark.slow
@pytest.mark.skipif(SOAK_RUNS == 0, reason="soak: set SPINE_SOAK_TEMPORAL_RUNS (e.g. 40)")
@pytest.mark.anyio
async def test_soak_random_sigkills_lose_no_run_and_repeat_no_tool_call(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    steps = 10
    ledger = tmp_path / "ledger.txt"
    workers = Workers(
        spec=write_spec(tmp_path, steps=steps),
        address=dev_env.client.service_client.config.target_host,
        queue=f"soak-{uuid.uuid4().hex[:8]}",
        ledger=ledger,
    )
    rng = random.Random(int(os.environ.get("SPINE_SOAK_TEMPORAL_SEED", "20")))
    handles = []
    try:
        live = [workers.start() for _ in range(SOAK_WORKERS)]
        for index in range(SOAK_RUNS):
            request = RunRequest(agent="crash", input="count", session_id=f"soak-{index}")
            handles.append(
                await start_run(
                    dev_env.client,
                    request,
                    task_queue=workers.queue,
                    workflow_id=f"soak-{index}-{uuid.uuid4().hex[:6]}",
                    task_timeout_s=2,
                )
            )
        for _ in range(SOAK_KILLS):
            await anyio.sleep(rng.uniform(0.2, 1.5))
            victim = live.pop(rng.randrange(len(live)))
            workers.kill(victim)
            live.append(workers.start())
        results = []
        with anyio.fail_after(60 + SOAK_RUNS * 2):
            for handle in handles:
                results.append(await handle.result())
    finally:
        workers.stop_all()
    assert all(r.stopped_reason is StopReason.FINAL for r in results)
    repeated = 0
    for index, handle in enumerate(handles):
        lines = ledger_lines(ledger, f"soak-{index}")
        done = check_exactly_once(lines, steps, await completed_tool_attempts(handle.workflow))
        repeated += sum(count - 1 for count in done.values())
    assert repeated <= SOAK_KILLS  # only a call in flight at a kill may have run twice
    print(f"soak: {SOAK_RUNS} runs, {SOAK_KILLS} kills, {repeated} in-flight calls re-run")
