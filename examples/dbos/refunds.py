"""The whole story on this machine, on a SQLite system database: two `spine worker --dbos`
processes serve the refund desk; a run pauses for approval; both workers are killed with
SIGKILL; a new worker starts; the approval is sent from this client; the run finishes.

    uv run python examples/dbos/refunds.py
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from dbos import DBOSClient

import spine_dbos
from spine_core import Agent

HERE = Path(__file__).parent


def worker(url: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "spine", "worker", str(HERE / "agent.yaml"), "--dbos"]
    return subprocess.Popen([*command, "--database-url", url], cwd=HERE)


async def client(url: str) -> DBOSClient:
    deadline = time.monotonic() + 60
    while True:  # until the first worker has created the system database
        try:
            found = DBOSClient(system_database_url=url, application_name="spine")
            await found.list_queues_async()
            return found
        except Exception:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.3)


async def main() -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'dbos.sqlite'}"
    workers = [worker(url), worker(url)]
    submitter = await client(url)
    # The client side only needs the agent's name: the workers run the spec's agent.
    desk = spine_dbos.DurableAgent(Agent("test", name="refund-desk"), client=submitter)
    paused = await desk.run("Refund order A-17, it arrived broken.", session_id="cust-9")
    print("paused:", paused.interrupt.question if paused.interrupt else paused.answer)
    for proc in workers:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    print("both workers killed; starting a new one")
    workers = [worker(url)]
    assert paused.resume_token is not None
    done = await desk.resume(paused.resume_token, "approve")
    print("answer:", done.answer)
    submitter.destroy()
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


if __name__ == "__main__":
    anyio.run(main)
