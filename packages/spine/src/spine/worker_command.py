"""`spine worker SPEC --dbos | --temporal`: serve a spec's agent as a durable-execution worker.

`--dbos` runs a spine-dbos `Worker` (DBOS Transact on Postgres or SQLite) serving a DBOS queue;
`--temporal` hands over to spine-temporal's `serve`. Both block until Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from .runtime import CliError, exit_now, load

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `worker` to `app`."""
    app.command(name="worker", no_args_is_help=True)(worker)


def worker(
    spec: Annotated[
        Path, typer.Argument(help="The agent spec (YAML).", show_default=False, metavar="SPEC")
    ],
    dbos: Annotated[bool, typer.Option("--dbos", help="Serve runs on DBOS (spine-dbos).")] = False,
    temporal: Annotated[
        bool, typer.Option("--temporal", help="Serve runs on Temporal (spine-temporal).")
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="DBOS system database: postgresql://... or sqlite:///PATH "
            "(default: $DBOS_SYSTEM_DATABASE_URL, else sqlite:///.spine/dbos.sqlite).",
            metavar="URL",
            envvar="DBOS_SYSTEM_DATABASE_URL",
        ),
    ] = None,
    queue: Annotated[
        str, typer.Option("--queue", help="DBOS queue to serve.", metavar="NAME")
    ] = "spine",
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            help="Runs of the queue in flight across all DBOS workers (default: no limit).",
            min=1,
            metavar="N",
        ),
    ] = None,
    address: Annotated[
        str, typer.Option("--address", help="Temporal server address.", metavar="HOST:PORT")
    ] = "localhost:7233",
    task_queue: Annotated[
        str, typer.Option("--task-queue", help="Temporal task queue.", metavar="NAME")
    ] = "spine",
) -> None:
    """Serve the agent in SPEC as a durable worker (blocks until Ctrl-C)."""
    if dbos == temporal:
        raise CliError("choose one engine: --dbos or --temporal")
    if not spec.is_file():
        raise CliError(f"{spec}: no such spec file")
    try:
        if temporal:
            _temporal(spec, address=address, task_queue=task_queue)
        else:
            _dbos(spec, database_url=database_url, queue=queue, concurrency=concurrency)
    except KeyboardInterrupt:
        exit_now(130)


def _engine(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and module.startswith(exc.name):
            raise CliError(
                f"{package} is not installed (pip install 'spine-agents[{package.split('-')[1]}]')"
            ) from None
        raise


def _temporal(spec: Path, *, address: str, task_queue: str) -> None:
    engine = _engine("spine_temporal.worker", "spine-temporal")
    engine.serve(spec, address=address, task_queue=task_queue)


def _dbos(spec: Path, *, database_url: str | None, queue: str, concurrency: int | None) -> None:
    engine = _engine("spine_dbos", "spine-dbos")
    loaded = load(spec)
    durable = engine.DurableAgent(loaded.agent, queue=queue)
    url = database_url or engine.DEFAULT_DATABASE_URL
    typer.echo(
        f"spine worker: serving '{durable.name}' on DBOS queue '{queue}' at {_redact(url)} "
        "(Ctrl-C to stop)",
        err=True,
    )
    try:
        engine.serve(durable, database_url=url, queue=queue, concurrency=concurrency)
    except Exception as exc:
        raise CliError(f"DBOS worker failed: {type(exc).__name__}: {exc}") from None


def _redact(url: str) -> str:
    """`url` with any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
