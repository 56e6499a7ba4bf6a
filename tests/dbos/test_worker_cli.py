"""`spine worker SPEC --dbos`: a real CLI worker process serving a queue on SQLite."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from dbos import DBOSClient

import spine_dbos
from spine_core import Agent, StopReason

pytestmark = pytest.mark.anyio

SPEC = """\
name: cli-worker
model: test
system: You are terse.
checkpoint: memory
"""


def spine(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spine", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def test_worker_needs_exactly_one_engine(tmp_path: Path) -> None:
    spec = tmp_path / "agent.yaml"
    spec.write_text(SPEC)
    proc = spine("worker", str(spec))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip() == "spine: error: choose one engine: --dbos or --temporal"


async def test_dbos_worker_serves_a_specs_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    spec = tmp_path / "agent.yaml"
    spec.write_text(SPEC)
    url = f"sqlite:///{tmp_path / 'dbos.sqlite'}"
    proc = spine(
        "worker", str(spec), "--dbos", "--database-url", url, "--queue", "cli", cwd=tmp_path
    )
    try:
        client = await _client(url, proc)
        durable = spine_dbos.DurableAgent(
            Agent("test", name="cli-worker"), queue="cli", client=client, poll_interval_s=0.1
        )
        with anyio.fail_after(60):
            result = await durable.run("hello there", session_id="cli-1")
        client.destroy()
        assert result.stopped_reason is StopReason.FINAL
        assert result.answer and "hello there" in result.answer
        assert result.state.messages[0].text == "You are terse."
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "serving 'cli-worker' on DBOS queue 'cli'" in err


async def _client(url: str, proc: subprocess.Popen[str]) -> DBOSClient:
    """A client once the worker has created the system database."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            client = DBOSClient(system_database_url=url, application_name="spine")
            await client.list_queues_async()
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.2)
