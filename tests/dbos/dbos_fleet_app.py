"""A worker process of the crash suites (run as a script by the tests and the benchmark).

Environment:
    SPINE_TEST_DBOS_URL: the DBOS system database.
    SPINE_TEST_EFFECTS_URL: where the tool records each execution (table `effects`).
    SPINE_TEST_QUEUE: the queue to serve (default "spine").
    SPINE_TEST_CONCURRENCY: global concurrency of the queue (default 8).
    SPINE_TEST_TOOL_CALLS: tool calls per run of the `counter` agent (default 3).
    SPINE_TEST_DELAY_S: upper bound of the random delay in each model and tool call.

It prints "ready <executor id>" once it serves the queue.
"""

from __future__ import annotations

import faulthandler
import functools
import logging
import os
import random
import signal
import sys
import threading
import time
from typing import Any

import sqlalchemy as sa
from dbos import DBOS

import spine_dbos
from spine_core import Agent, FunctionProvider, Message, ModelResponse, Role, ToolCall, tool
from spine_core.context import ToolContext

CALLS = int(os.environ.get("SPINE_TEST_TOOL_CALLS", "3"))
DELAY_S = float(os.environ.get("SPINE_TEST_DELAY_S", "0.01"))


@functools.cache
def _engines() -> tuple[sa.Engine, sa.Engine, str]:
    """(effects engine, system database engine, the step outputs table)."""
    system_url = os.environ["SPINE_TEST_DBOS_URL"]
    effects = _url(os.environ["SPINE_TEST_EFFECTS_URL"])
    outputs = "dbos.operation_outputs" if system_url.startswith("postgres") else "operation_outputs"
    return sa.create_engine(effects), sa.create_engine(_url(system_url)), outputs


def _url(url: str) -> str:
    if url.startswith("postgresql://"):
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return url


def _nap() -> None:
    if DELAY_S > 0:
        time.sleep(random.uniform(0, DELAY_S))


def record(call_key: str) -> None:
    """One side effect: a row in `effects`, flagged when DBOS had already recorded this
    very step as completed (a completed step running again). A database error (the server
    is shared with other test runs) is retried: it is the harness failing, not the tool."""
    for attempt in range(5):
        try:
            _record(call_key)
            return
        except sa.exc.OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _record(call_key: str) -> None:
    effects, system, outputs = _engines()
    workflow_id, step_id = DBOS.workflow_id, DBOS.step_id
    with system.connect() as conn:
        completed = conn.execute(
            sa.text(
                f"SELECT count(*) FROM {outputs} WHERE workflow_uuid = :w AND function_id = :f "
                "AND (output IS NOT NULL OR error IS NOT NULL "
                "OR completed_at_epoch_ms IS NOT NULL)"
            ),
            {"w": workflow_id, "f": step_id},
        ).scalar()
    with effects.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO effects (call_key, workflow_id, step_id, pid, completed_before)"
                " VALUES (:k, :w, :s, :p, :c)"
            ),
            {"k": call_key, "w": workflow_id, "s": step_id, "p": os.getpid(), "c": bool(completed)},
        )


@tool
def count(n: int, ctx: ToolContext[Any]) -> str:
    """Count one step.

    Args:
        n: The step number.
    """
    _nap()
    record(f"{ctx.session_id}:{ctx.call.id}")
    return f"counted {n}"


@tool(approve=True)
def transfer(amount: int, ctx: ToolContext[Any]) -> str:
    """Move money (needs a human's approval).

    Args:
        amount: The amount.
    """
    record(f"{ctx.session_id}:{ctx.call.id}")
    return f"moved {amount}"


def counting_model(messages: list[Message], tools: Any, settings: Any) -> Any:
    _nap()
    done = sum(1 for m in messages if m.role is Role.TOOL)
    if done < CALLS:
        call = ToolCall(id=f"call{done}", name="count", arguments={"n": done})
        return ModelResponse(message=Message(role=Role.ASSISTANT, content="", tool_calls=[call]))
    return f"counted to {done}"


def approving_model(messages: list[Message], tools: Any, settings: Any) -> Any:
    if not any(m.role is Role.TOOL for m in messages):
        call = ToolCall(id="t1", name="transfer", arguments={"amount": 5})
        return ModelResponse(message=Message(role=Role.ASSISTANT, content="", tool_calls=[call]))
    return "transfer: " + messages[-1].text


def agents() -> list[spine_dbos.DurableAgent]:
    """The durable agents of the fleet (the tests build the same on the client side)."""
    queue = os.environ.get("SPINE_TEST_QUEUE", "spine")
    counter = Agent(FunctionProvider(counting_model), tools=[count], name="counter")
    approver = Agent(FunctionProvider(approving_model), tools=[transfer], name="approver")
    return [
        spine_dbos.DurableAgent(counter, queue=queue),
        spine_dbos.DurableAgent(approver, queue=queue),
    ]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")  # stderr
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stuck worker's stacks
    fleet = agents()
    worker = spine_dbos.Worker(
        os.environ["SPINE_TEST_DBOS_URL"],
        queue=os.environ.get("SPINE_TEST_QUEUE", "spine"),
        concurrency=int(os.environ.get("SPINE_TEST_CONCURRENCY", "8")),
        recovery_interval_s=float(os.environ.get("SPINE_TEST_RECOVERY_S", "0.5")),
        polling_interval_s=0.1,
    )
    worker.start()
    print(f"ready {worker.executor_id}", flush=True)
    stop = threading.Event()
    try:
        sys.stdin.read()  # the parent closes stdin (or kills us) to stop
    finally:
        stop.set()
        worker.stop()
        del fleet


if __name__ == "__main__":
    main()
