"""Shared pieces of the kill-and-resume tests: worker processes, the spec they serve, and the
ledger of tool side effects checked against the workflow histories."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

REPO = Path(__file__).resolve().parents[2]


def write_spec(folder: Path, *, steps: int) -> Path:
    spec = folder / "crash.yaml"
    spec.write_text(
        "name: crash\n"
        f"model: countdown:{steps}\n"
        "tools:\n"
        "  - python: tests.temporal.fakes:record\n"
        f"guards: {{max_steps: {steps + 2}}}\n"
        "checkpoint:\n"
        f"  sqlite: {{path: {folder / 'state.db'}}}\n",
        encoding="utf-8",
    )
    return spec


@dataclass
class Workers:
    """Worker processes serving `spec`; each is killed with SIGKILL or stopped at the end."""

    spec: Path
    address: str
    queue: str
    ledger: Path
    block_step: int | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return [self.address, self.queue]

    def start(self, *, go: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a worker process; with `go`, it serves only once that file exists."""
        env = dict(os.environ, SPINE_TEMPORAL_LEDGER=str(self.ledger), PYTHONPATH=str(REPO))
        if self.block_step is not None:
            env["SPINE_TEMPORAL_BLOCK_STEP"] = str(self.block_step)
        argv = [*self.argv, str(go)] if go is not None else self.argv
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.temporal.crash_worker", str(self.spec), *argv],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


Line = tuple[str, str, int, int, int]


def ledger_lines(ledger: Path, session: str | None = None) -> list[Line]:
    """(event, session, step, attempt, pid) per line, of one session or all: "start" when a
    tool call began, "done" when its side effect was complete."""
    if not ledger.exists():
        return []
    out = []
    for line in ledger.read_text(encoding="utf-8").splitlines():
        event, sid, step, attempt, pid = line.split()
        if session is None or sid == session:
            out.append((event, sid, int(step), int(attempt), int(pid)))
    return out


async def completed_tool_attempts(handle: WorkflowHandle[object, object]) -> list[int]:
    """The attempt number of each `spine.tool` activity that completed, in history order."""
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    started: dict[int, int] = {}
    out = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = attrs.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs_s = event.activity_task_started_event_attributes
            started[attrs_s.scheduled_event_id] = attrs_s.attempt
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_c = event.activity_task_completed_event_attributes
            if scheduled.get(attrs_c.scheduled_event_id) == "spine.tool":
                out.append(started[attrs_c.scheduled_event_id])
    return out


def check_exactly_once(lines: list[Line], steps: int, attempts: list[int]) -> Counter[int]:
    """Assert each tool call's side effect happened once per completed activity: every step
    has one "done" at the attempt that completed, and no (step, attempt) ran twice (a completed
    activity re-executed after a replay would run again at attempt 1). Returns the count of
    "done" lines per step (more than one only for attempts lost to a kill)."""
    tool_steps = list(range(1, steps))
    assert len(attempts) == len(tool_steps), (attempts, tool_steps)
    done = [(step, attempt) for event, _, step, attempt, _ in lines if event == "done"]
    assert len(done) == len(set(done)), f"a (step, attempt) ran twice: {sorted(done)}"
    for step, attempt in zip(tool_steps, attempts, strict=True):
        assert (step, attempt) in done, f"step {step} completed at attempt {attempt} unseen"
        later = [a for s, a in done if s == step and a > attempt]
        assert not later, f"step {step} ran again after it completed (attempts {later})"
    return Counter(step for step, _ in done)
