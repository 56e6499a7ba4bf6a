"""`Worker`: a process that serves a DBOS queue of Spine runs and recovers dead peers.

DBOS (without its Conductor service) recovers a workflow only on a process with the same
executor id. A `Worker` adds peer recovery: each worker holds a liveness lock for its
executor id for as long as it lives (a Postgres session advisory lock, or an `flock` on a
file next to a SQLite database); the kernel or Postgres releases it the moment the process
dies, SIGKILL included. Every `recovery_interval_s` each worker looks for executors with
pending workflows whose lock it can take: those are dead, and their workflows are handed back
to DBOS (`recover_pending_workflows`), which re-enqueues them for any live worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from dbos import DBOS

from .engine import DEFAULT_APP_NAME, EXECUTOR_PREFIX, launch, new_executor_id, shutdown

__all__ = ["Worker", "serve"]

log = logging.getLogger("spine_dbos.worker")

# Advisory lock namespace (the first key of the two-key form): hashtext('spine_dbos').
_LOCK_SPACE = "spine_dbos.executor"


class Worker:
    """Serve `queue` in this process: launch DBOS, register the queue with its concurrency
    limits, hold this executor's liveness lock and recover dead peers' workflows.

    Create the `DurableAgent`s and `DurableWorkflow`s this worker runs before `start()`.

    Args:
        database_url: The DBOS system database (`postgresql://...` or `sqlite:///path`).
        queue: The queue name to serve.
        concurrency: Runs of the queue in flight across all workers at once (None: no limit).
            A paused run holds no slot.
        worker_concurrency: Runs in flight in this process at once (None: no limit).
        name: The DBOS application name (shared by the fleet).
        executor_id: This worker's id (default unique per process; must start with
            "spine-" for peers to recover it).
        recovery_interval_s: Seconds between checks for dead peers.
        polling_interval_s: Seconds between this worker's polls of the queue.
        application_version: Pin DBOS's application version (default derived from code).
    """

    def __init__(
        self,
        database_url: str,
        *,
        queue: str = "spine",
        concurrency: int | None = None,
        worker_concurrency: int | None = None,
        name: str = DEFAULT_APP_NAME,
        executor_id: str | None = None,
        recovery_interval_s: float = 2.0,
        polling_interval_s: float = 0.2,
        application_version: str | None = None,
    ) -> None:
        self.database_url = database_url
        self.queue = queue
        self.concurrency = concurrency
        self.worker_concurrency = worker_concurrency
        self.name = name
        self.executor_id = executor_id or new_executor_id()
        self.recovery_interval_s = recovery_interval_s
        self.polling_interval_s = polling_interval_s
        self.application_version = application_version
        self._liveness = _liveness(database_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the liveness lock, launch DBOS and start serving and recovering.

        Raises:
            RuntimeError: another live process holds this executor id.
        """
        if not self._liveness.hold(self.executor_id):
            raise RuntimeError(f"executor id '{self.executor_id}' is held by a live worker")
        launch(
            self.database_url,
            name=self.name,
            executor_id=self.executor_id,
            application_version=self.application_version,
        )
        DBOS.register_queue(
            self.queue,
            global_concurrency=self.concurrency,
            worker_concurrency=self.worker_concurrency,
            polling_interval_sec=self.polling_interval_s,
            on_conflict="always_update",
        )
        self._thread = threading.Thread(target=self._watch, name="spine-dbos-recovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (runs in flight are recovered by a peer or on restart)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        shutdown()
        self._liveness.close()

    def recover_dead_peers(self) -> list[str]:
        """Hand the pending workflows of dead workers back to DBOS; returns their executor
        ids."""
        dead = []
        pending = self._liveness.pending_executors(self.executor_id)
        log.debug("executors with pending workflows: %s", pending)
        for executor in pending:
            if self._liveness.is_dead(executor):
                dead.append(executor)
        if dead:
            DBOS._recover_pending_workflows(dead)
            log.info("recovered the workflows of dead workers %s", ", ".join(dead))
        return dead

    def _watch(self) -> None:
        while not self._stop.wait(self.recovery_interval_s):
            if not self._liveness.alive():
                # Our lock is gone with its connection: a peer may take over our workflows,
                # so this process must stop running them at once.
                log.error("lost the liveness lock of %s; exiting", self.executor_id)
                os._exit(70)
            try:
                self.recover_dead_peers()
            except Exception:  # a transient database error: try again next round
                log.exception("peer recovery failed")


class _Liveness(Protocol):
    def hold(self, executor_id: str) -> bool: ...

    def alive(self) -> bool: ...

    def is_dead(self, executor_id: str) -> bool: ...

    def pending_executors(self, me: str) -> list[str]: ...

    def close(self) -> None: ...


def _liveness(database_url: str) -> _Liveness:
    if database_url.startswith("sqlite"):
        return _FileLiveness(database_url)
    return _PostgresLiveness(database_url)


def _pending_query(schema: str | None) -> sa.TextClause:
    table = f'"{schema}".workflow_status' if schema else "workflow_status"
    return sa.text(
        f"SELECT DISTINCT executor_id FROM {table} "
        "WHERE status = 'PENDING' AND executor_id LIKE :prefix AND executor_id <> :me"
    )


class _PostgresLiveness:
    """Session advisory locks: Postgres frees them when the holder's connection closes."""

    def __init__(self, database_url: str) -> None:
        url = sa.make_url(database_url).set(drivername="postgresql+psycopg")
        self.engine = sa.create_engine(url, pool_size=2, max_overflow=0, pool_pre_ping=True)
        self.held: sa.Connection | None = None
        self.lock = threading.Lock()

    def hold(self, executor_id: str) -> bool:
        self.held = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return bool(self._try_lock(self.held, executor_id))

    def alive(self) -> bool:
        if self.held is None:
            return False
        try:
            with self.lock:
                self.held.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.DBAPIError:
            return False

    def is_dead(self, executor_id: str) -> bool:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as probe:
            if not self._try_lock(probe, executor_id):
                return False
            probe.execute(
                sa.text("SELECT pg_advisory_unlock(hashtext(:space), hashtext(:id))"),
                {"space": _LOCK_SPACE, "id": executor_id},
            )
            return True

    def pending_executors(self, me: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(_pending_query("dbos"), {"prefix": f"{EXECUTOR_PREFIX}%", "me": me})
            return [row[0] for row in rows]

    def close(self) -> None:
        if self.held is not None:
            with contextlib.suppress(Exception):
                self.held.close()
        self.engine.dispose()

    @staticmethod
    def _try_lock(conn: sa.Connection, executor_id: str) -> bool:
        row = conn.execute(
            sa.text("SELECT pg_try_advisory_lock(hashtext(:space), hashtext(:id))"),
            {"space": _LOCK_SPACE, "id": executor_id},
        ).scalar()
        return bool(row)


class _FileLiveness:
    """`flock`s on `<database>.executors/<executor id>.lock`: the kernel frees them when the
    holder dies (one machine, as SQLite itself requires)."""

    def __init__(self, database_url: str) -> None:
        path = database_url.split(":///", 1)[1]
        self.database = Path(path)
        self.folder = Path(f"{path}.executors")
        self.engine = sa.create_engine(f"sqlite:///{path}")
        self.fd: int | None = None

    def hold(self, executor_id: str) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{executor_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def alive(self) -> bool:
        return self.fd is not None

    def is_dead(self, executor_id: str) -> bool:
        fd = os.open(self.folder / f"{executor_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
        finally:
            os.close(fd)

    def pending_executors(self, me: str) -> list[str]:
        if not self.database.exists():
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(_pending_query(None), {"prefix": f"{EXECUTOR_PREFIX}%", "me": me})
            return [row[0] for row in rows]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.engine.dispose()


def serve(
    agents: Any,
    *,
    database_url: str,
    queue: str = "spine",
    concurrency: int | None = None,
    worker_concurrency: int | None = None,
    name: str = DEFAULT_APP_NAME,
    stop: threading.Event | None = None,
) -> None:
    """Run a `Worker` until SIGTERM / SIGINT (or `stop` is set); blocking.

    Args:
        agents: The `DurableAgent`s and `DurableWorkflow`s (or one) this worker runs; they
            must exist before the worker starts (this argument keeps them referenced).
        database_url, queue, concurrency, worker_concurrency, name: See `Worker`.
        stop: An event that ends the worker when set (default: the signals only).
    """
    del agents  # registered by their constructors; the parameter documents the order
    done = stop or threading.Event()
    worker = Worker(
        database_url,
        queue=queue,
        concurrency=concurrency,
        worker_concurrency=worker_concurrency,
        name=name,
    )
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
    worker.start()
    try:
        done.wait()
    finally:
        worker.stop()
