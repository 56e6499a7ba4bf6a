"""DBOS benchmark (a plain script, not a test): ten-step runs (a fake provider asking for nine
tool calls, then answering) as spine-dbos workflows on Postgres, served by 1, 2 and 4 worker
processes sharing one DBOS queue, beside Spine alone with spine-backends' PostgresCheckpoint.

Reports, for each configuration, in the same invocation:
1. runs per second (all runs submitted at once; first enqueue to last completion);
2. p50 / p95 run latency: for DBOS, from dequeue to completion (DBOS's own timestamps, ms
   resolution; queueing time excluded), and p50 / p95 of submit-to-completion; for the
   baseline, the `Agent.run` call;
3. the engine's overhead per step: p50 run latency / 10 steps, as a ratio to the baseline's.

Every configuration has `--concurrency` runs in flight per worker (the baseline: in its one
process). Usage:

    .venv/bin/python bench/dbos_bench.py [--runs 1000] [--concurrency 8] [--workers 1,2,4]

(SPINE_BENCH_DBOS_RUNS / _CONCURRENCY / _WORKERS set the defaults.) Needs PostgreSQL at
127.0.0.1:5432 (trust auth, database `test`); each invocation uses a fresh database
`spine_dbos_bench_<random>` and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import anyio
import sqlalchemy as sa

from spine_core import Agent, Message, ModelResponse, StopReason, ToolCall, Usage, tool

STEPS = 10
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
QUEUE = "bench"


class TenSteps:
    """Asks for `noop(n)` until nine tools answered, then answers (stateless)."""

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


def make_agent(**kwargs: Any) -> Agent:
    return Agent(TenSteps(), tools=[noop], name="bench", guards=None, **kwargs)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- worker process ----------------------------------------------------------------------


def worker_main(url: str, concurrency: int) -> None:
    import spine_dbos

    spine_dbos.DurableAgent(make_agent(), queue=QUEUE)
    worker = spine_dbos.Worker(
        url, queue=QUEUE, worker_concurrency=concurrency, polling_interval_s=0.05
    )
    worker.start()
    print("ready", flush=True)
    sys.stdin.read()
    worker.stop()


# -- DBOS configurations -----------------------------------------------------------------


async def bench_dbos(url: str, workers: int, runs: int, concurrency: int) -> dict[str, Any]:
    from dbos import DBOSClient

    import spine_dbos

    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url, str(concurrency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if not proc.stdout.readline().startswith("ready"):
                raise RuntimeError("a bench worker did not start")
        client = DBOSClient(system_database_url=url, application_name="spine")
        durable = spine_dbos.DurableAgent(make_agent(), queue=QUEUE, client=client)
        tag = uuid.uuid4().hex[:6]
        started = time.time()
        ids = [await durable.start("go", run_id=f"{tag}-{i}") for i in range(runs)]
        await _wait_all(client, ids)
        statuses = [
            s
            for s in await client.list_workflows_async(
                workflow_id_prefix=f"{tag}-", load_input=False, load_output=True
            )
        ]
        client.destroy()
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=60)
    assert len(statuses) == runs
    assert all(s.output and s.output["stopped_reason"] == StopReason.FINAL.value for s in statuses)
    execution = [(s.updated_at - s.dequeued_at) / 1000 for s in statuses]  # type: ignore[operator]
    total = [(s.updated_at - s.created_at) / 1000 for s in statuses]  # type: ignore[operator]
    span = max(s.updated_at for s in statuses) / 1000 - started  # type: ignore[type-var]
    return {
        "config": f"dbos, {workers} worker{'s' if workers > 1 else ''}",
        "runs_per_s": round(runs / span, 1),
        "p50_ms": round(percentile(execution, 0.5) * 1000, 1),
        "p95_ms": round(percentile(execution, 0.95) * 1000, 1),
        "p50_submit_to_done_ms": round(percentile(total, 0.5) * 1000, 1),
        "p95_submit_to_done_ms": round(percentile(total, 0.95) * 1000, 1),
    }


async def _wait_all(client: Any, ids: list[str]) -> None:
    pending = set(ids)
    while pending:
        done = await client.list_workflows_async(
            workflow_ids=list(pending),
            status=["SUCCESS", "ERROR", "CANCELLED"],
            load_input=False,
            load_output=False,
        )
        pending -= {s.workflow_id for s in done}
        if pending:
            await asyncio.sleep(0.2)


# -- baseline: Spine alone with the Postgres checkpoint ----------------------------------


async def bench_baseline(url: str, runs: int, concurrency: int) -> dict[str, Any]:
    from spine_backends import PostgresCheckpoint

    store = PostgresCheckpoint(dsn=url, table=f"bench_{uuid.uuid4().hex[:6]}")
    agent = make_agent(checkpoint=store)
    latencies: list[float] = []
    limiter = anyio.CapacityLimiter(concurrency)

    async def one() -> None:
        async with limiter:
            begin = time.perf_counter()
            result = await agent.run("go")
            latencies.append(time.perf_counter() - begin)
            assert result.stopped_reason is StopReason.FINAL

    await agent.run("warm up")
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(runs):
            tg.start_soon(one)
    span = time.perf_counter() - started
    await store.aclose()
    return {
        "config": "spine alone + PostgresCheckpoint",
        "runs_per_s": round(runs / span, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--runs", type=int, default=int(env("SPINE_BENCH_DBOS_RUNS", "1000")))
    parser.add_argument(
        "--concurrency", type=int, default=int(env("SPINE_BENCH_DBOS_CONCURRENCY", "8"))
    )
    parser.add_argument("--workers", default=env("SPINE_BENCH_DBOS_WORKERS", "1,2,4"))
    args = parser.parse_args()
    name = f"spine_dbos_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        # DBOS creates its system tables on the first worker's launch; warm it up once.
        await bench_dbos(url, 1, 5, args.concurrency)
        rows = [await bench_baseline(url, args.runs, args.concurrency)]
        for count in (int(w) for w in args.workers.split(",")):
            rows.append(await bench_dbos(url, count, args.runs, args.concurrency))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    base_step = rows[0]["p50_ms"] / STEPS
    for row in rows:
        row["per_step_ms"] = round(row["p50_ms"] / STEPS, 2)
        row["overhead_vs_baseline"] = round(row["p50_ms"] / STEPS / base_step, 2)
    print(json.dumps({"runs": args.runs, "concurrency": args.concurrency, "results": rows}))
    for row in rows:
        print(
            f"{row['config']:<36} {row['runs_per_s']:>8} runs/s  p50 {row['p50_ms']:>8} ms  "
            f"p95 {row['p95_ms']:>8} ms  {row['per_step_ms']:>6} ms/step  "
            f"x{row['overhead_vs_baseline']}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], int(sys.argv[3]))
    else:
        anyio.run(main)
