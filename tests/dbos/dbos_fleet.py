"""Test harness: a fleet of real worker processes (`fleet_app.py`) on one DBOS system
database, a chaos monkey that SIGKILLs random workers, and the databases they use."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

APP = Path(__file__).with_name("dbos_fleet_app.py")
PG_ADMIN_URL = os.environ.get(
    "SPINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
READY_TIMEOUT_S = 60.0

EFFECTS_DDL = (
    "CREATE TABLE effects (call_key TEXT NOT NULL, workflow_id TEXT NOT NULL, "
    "step_id INTEGER, pid INTEGER NOT NULL, completed_before BOOLEAN NOT NULL)"
)


def unavailable(reason: str) -> None:
    """Skip, or fail under CI=true (a missing service is a failure there)."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database `spine_dbos_<random>` (with the `effects` table); dropped after.
    Yields its URL (`postgresql://...`)."""
    name = f"spine_dbos_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server
        unavailable(f"Postgres at {PG_ADMIN_URL} is not available: {exc}")
    url = sa.make_url(PG_ADMIN_URL).set(database=name)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(EFFECTS_DDL))
    engine.dispose()
    try:
        yield url.set(drivername="postgresql").render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_effects(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(EFFECTS_DDL))
    engine.dispose()
    return url


def effects(url: str) -> list[tuple[str, str, int, int, bool]]:
    """Every recorded tool execution: (call key, workflow id, step id, pid, completed before)."""
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT call_key, workflow_id, step_id, pid, completed_before FROM effects")
        ).fetchall()
    engine.dispose()
    return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


class Fleet:
    """Worker processes serving one queue; `kill` SIGKILLs one, `spawn` starts a new one.
    `app` is the worker script (default `dbos_fleet_app.py`)."""

    def __init__(self, system_url: str, effects_url: str, *, app: Path = APP, **env: str) -> None:
        self.app = app
        self.env = {
            **os.environ,
            "SPINE_TEST_DBOS_URL": system_url,
            "SPINE_TEST_EFFECTS_URL": effects_url,
            **env,
        }
        self.workers: list[subprocess.Popen[str]] = []
        self.killed: list[int] = []
        self.ready: set[int] = set()
        self.lock = threading.Lock()

    def spawn(self, *, wait: bool = True) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(self.app)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log(),
            text=True,
            env=self.env,
        )
        with self.lock:
            self.workers.append(proc)
        if wait:
            self.wait_ready(proc)
            self.ready.add(proc.pid)
        else:
            threading.Thread(target=self._await_ready, args=(proc,), daemon=True).start()
        return proc

    def _await_ready(self, proc: subprocess.Popen[str]) -> None:
        try:
            self.wait_ready(proc)
        except RuntimeError:
            return
        with self.lock:
            self.ready.add(proc.pid)

    def serving(self) -> list[subprocess.Popen[str]]:
        """Live workers that finished starting (they hold work a kill can interrupt)."""
        with self.lock:
            return [p for p in self.workers if p.poll() is None and p.pid in self.ready]

    def _log(self) -> Any:
        folder = os.environ.get("SPINE_TEST_WORKER_LOGS")
        if not folder:
            return subprocess.DEVNULL
        return open(Path(folder) / f"worker-{len(self.workers)}.log", "w")

    def start(self, count: int) -> None:
        procs = [self.spawn(wait=False) for _ in range(count)]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(p.pid in self.ready for p in procs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker did not start")
            time.sleep(0.05)

    @staticmethod
    def wait_ready(proc: subprocess.Popen[str]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        line = proc.stdout.readline()
        if not line.startswith("ready") or time.monotonic() > deadline:
            raise RuntimeError(f"worker {proc.pid} did not start (exit {proc.poll()})")
        return line.split()[1]

    def alive(self) -> list[subprocess.Popen[str]]:
        with self.lock:
            return [p for p in self.workers if p.poll() is None]

    def kill(self, proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with self.lock:
            self.killed.append(proc.pid)

    def kill_all(self) -> None:
        for proc in self.alive():
            self.kill(proc)

    def stop(self) -> None:
        """End every worker at once (SIGKILL: the suites test crashes, not shutdowns)."""
        for proc in list(self.workers):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


class Chaos(threading.Thread):
    """SIGKILLs a random serving worker `kills` times, at random moments `interval_s` apart
    on average, and starts a replacement (a new executor id) after each kill. It never kills
    the last serving worker (on a loaded machine a replacement can take seconds to start)."""

    def __init__(self, fleet: Fleet, *, kills: int, interval_s: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.fleet, self.kills, self.interval_s = fleet, kills, interval_s
        self.random = random.Random(seed)
        self.done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while self.done < self.kills:
                time.sleep(self.random.uniform(0.2, 1.8) * self.interval_s)
                alive = self.fleet.serving()
                if len(alive) < 2:
                    continue
                self.fleet.kill(self.random.choice(alive))
                self.done += 1
                self.fleet.spawn(wait=False)
        except BaseException as exc:  # reported by the test
            self.error = exc
