"""Configuring and launching DBOS for Spine (one DBOS instance per process)."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from dbos import DBOS, DBOSConfig

__all__ = [
    "DEFAULT_APP_NAME",
    "DEFAULT_DATABASE_URL",
    "dbos_config",
    "launch",
    "new_executor_id",
    "shutdown",
]

DEFAULT_DATABASE_URL = "sqlite:///.spine/dbos.sqlite"
"""Where DBOS keeps its system database when no URL is given (relative to the working dir)."""

DEFAULT_APP_NAME = "spine"
"""The DBOS application name Spine workers and clients share."""

EXECUTOR_PREFIX = "spine-"
"""Executor ids of Spine workers start with this; only those are recovered by peers."""


def new_executor_id() -> str:
    """A unique executor id for this process: `spine-<host>-<pid>-<random>`."""
    return f"{EXECUTOR_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def dbos_config(
    database_url: str | None = None,
    *,
    name: str = DEFAULT_APP_NAME,
    executor_id: str | None = None,
    application_version: str | None = None,
    log_level: str = "WARNING",
    **extra: Any,
) -> DBOSConfig:
    """The `DBOSConfig` for a Spine process.

    Args:
        database_url: The DBOS system database: `postgresql://user@host:5432/db` (DBOS creates
            the database if it is missing) or `sqlite:///path/to/file.sqlite`. Default
            `DEFAULT_DATABASE_URL`.
        name: The DBOS application name (workers and clients of one fleet share it).
        executor_id: This process's executor id (default `new_executor_id()`).
        application_version: Pin DBOS's application version (default: DBOS derives it from
            the workflow code, so every worker running the same code agrees).
        log_level: DBOS's log level.
        extra: Any other `DBOSConfig` key (e.g. `sys_db_pool_size`).
    """
    url = database_url or DEFAULT_DATABASE_URL
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
    config: DBOSConfig = {
        "name": name,
        "system_database_url": url,
        "executor_id": executor_id or new_executor_id(),
        "log_level": log_level,
    }
    if application_version is not None:
        config["application_version"] = application_version
    config.update(extra)  # type: ignore[typeddict-item]
    return config


def launch(
    database_url: str | None = None,
    *,
    name: str = DEFAULT_APP_NAME,
    executor_id: str | None = None,
    application_version: str | None = None,
    log_level: str = "WARNING",
    **extra: Any,
) -> DBOS:
    """Create and launch this process's DBOS instance (see `dbos_config` for the arguments).

    Call it after the `DurableAgent`s this process runs are created. It recovers the
    workflows of this executor id left pending by an earlier process (startup recovery);
    `spine_dbos.Worker` adds recovery of other, dead workers.

    Raises:
        dbos.error.DBOSException: DBOS cannot launch (e.g. the database is unreachable).
    """
    config = dbos_config(
        database_url,
        name=name,
        executor_id=executor_id,
        application_version=application_version,
        log_level=log_level,
        **extra,
    )
    instance = DBOS(config=config)
    DBOS.launch()
    return instance


def shutdown(*, wait_s: int = 0) -> None:
    """Destroy this process's DBOS instance (workflows still running are recovered later by
    a peer or on restart). `wait_s` seconds are given to running workflows to finish."""
    DBOS.destroy(workflow_completion_timeout_sec=wait_s)
