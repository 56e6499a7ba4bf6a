"""`spine sessions list|show|delete|export` and `spine trace`: the sessions in a checkpoint
store (SQLite, Redis, PostgreSQL or any registered store).

The store is the one a spec names (`spine sessions list agent.yaml`), the one `--store URL`
names (`redis://...`, `postgresql://...`, `sqlite:///path` or a file), or else the default
SQLite file `.spine/state.db`. A first argument that is a YAML file is the spec.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from spine_core import CheckpointStore, RunStatus, State

from . import render
from .runtime import CliError, failure, fetch, open_store, resume_command, run_async
from .session_view import print_session, sessions_table
from .stores import StoreInfo, close_store
from .timeline import entries, print_timeline

__all__ = ["register"]

T = TypeVar("T")

sessions_app = typer.Typer(
    name="sessions",
    help="List, show, delete and export the sessions in a checkpoint store.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store by URL: redis://..., postgresql://..., sqlite:///PATH or a file "
        "(default: the spec's store, else .spine/state.db).",
        metavar="URL",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add `sessions` (list, show, delete, export) and `trace` to `app`."""
    app.add_typer(sessions_app)
    app.command(name="trace", no_args_is_help=True)(trace)


def _is_spec(value: str) -> bool:
    return value.lower().endswith((".yaml", ".yml"))


def _split(args: list[str], *, need: int | None) -> tuple[Path | None, list[str]]:
    """`[SPEC] SESSION...` -> (spec, sessions); `need` sessions exactly (None: one or more)."""
    spec = Path(args[0]) if args and _is_spec(args[0]) else None
    rest = args[1:] if spec is not None else list(args)
    if need is not None and len(rest) != need:
        what = "no SESSION" if len(rest) < need else f"unexpected argument '{rest[need]}'"
        raise CliError(f"{what} (usage: [SPEC] SESSION)")
    if need is None and not rest:
        raise CliError("no SESSION given (usage: [SPEC] SESSION...)")
    return spec, rest


def _with_store(
    spec: Path | None,
    url: str | None,
    work: Callable[[CheckpointStore, StoreInfo], Awaitable[T]],
    *,
    session: str | None = None,
) -> T:
    store, info = open_store(spec, url)

    async def go() -> T:
        try:
            return await work(store, info)
        finally:
            await close_store(store)

    return run_async(go, info=info, session=session)


async def _get(store: CheckpointStore, info: StoreInfo, session: str) -> State:
    state = await fetch(store, info, session)
    if state is None:
        raise CliError(f"no session '{session}' in the {info}")
    return state


def _resume_line(spec: Path | None, state: State) -> str | None:
    if state.pending is None:
        return None
    return resume_command(spec or Path("SPEC"), state)


@sessions_app.command(name="list")
def list_sessions(
    spec: Annotated[
        Path | None, typer.Argument(help="An agent spec whose store to read.", show_default=False)
    ] = None,
    store: StoreOpt = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only sessions in this status: " + ", ".join(s.value for s in RunStatus),
        ),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's sessions.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the sessions in the store, most recently updated first."""
    if status is not None and status not in {s.value for s in RunStatus}:
        allowed = ", ".join(s.value for s in RunStatus)
        raise CliError(f"unknown status '{status}' (use one of: {allowed})")

    async def work(backend: CheckpointStore, info: StoreInfo) -> None:
        try:
            found = await backend.list(tenant_id=tenant, status=status)
        except Exception as exc:
            raise failure(exc, info=info) from None
        if as_json:
            rows = [i.model_dump(mode="json") for i in found]
            sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
            return
        filters = [f for f in (status and f"status {status}", tenant and f"tenant {tenant}") if f]
        title = f"{len(found)} session(s) in the {info}" + (
            f" ({', '.join(filters)})" if filters else ""
        )
        render.console().print(sessions_table(found, title=title))

    _with_store(spec, store, work)


@sessions_app.command(name="show", no_args_is_help=True)
def show(
    args: Annotated[
        list[str],
        typer.Argument(help="[SPEC] SESSION", show_default=False, metavar="[SPEC] SESSION"),
    ],
    store: StoreOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Do not shorten long messages.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a session: its status, messages, tool calls, usage and pending pause."""
    spec, (session,) = _split(args, need=1)

    async def work(backend: CheckpointStore, info: StoreInfo) -> None:
        state = await _get(backend, info, session)
        if as_json:
            sys.stdout.write(state.model_dump_json() + "\n")
            return
        print_session(
            render.console(), state, store=str(info), resume=_resume_line(spec, state),
            limit=None if full else 300,
        )  # fmt: skip

    _with_store(spec, store, work, session=session)


@sessions_app.command(name="delete", no_args_is_help=True)
def delete(
    args: Annotated[
        list[str],
        typer.Argument(help="[SPEC] SESSION...", show_default=False, metavar="[SPEC] SESSION..."),
    ],
    store: StoreOpt = None,
) -> None:
    """Delete sessions from the store (exit 1 when one of them does not exist)."""
    spec, sessions = _split(args, need=None)

    async def work(backend: CheckpointStore, info: StoreInfo) -> list[str]:
        missing = []
        for session in sessions:
            try:
                gone = await backend.delete(session)
            except Exception as exc:
                raise failure(exc, info=info, session=session) from None
            if gone:
                render.console().print(f"deleted session {session}", markup=False)
            else:
                missing.append(session)
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            raise CliError(f"no session {names} in the {info}")
        return missing

    _with_store(spec, store, work)


@sessions_app.command(name="export", no_args_is_help=True)
def export(
    args: Annotated[
        list[str],
        typer.Argument(help="[SPEC] SESSION", show_default=False, metavar="[SPEC] SESSION"),
    ],
    store: StoreOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Export a session as JSON (the whole `State`; `State.load` reads it back)."""
    spec, (session,) = _split(args, need=1)

    async def work(backend: CheckpointStore, info: StoreInfo) -> None:
        state = await _get(backend, info, session)
        text = json.dumps(state.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
        render.console(stderr=True).print(f"exported session {session} to {output}", markup=False)

    _with_store(spec, store, work, session=session)


def trace(
    args: Annotated[
        list[str],
        typer.Argument(help="[SPEC] SESSION", show_default=False, metavar="[SPEC] SESSION"),
    ],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a session as a timeline: turns, steps (model calls with tokens, cost and time),
    tool calls with their arguments, results, errors and a pending pause."""
    spec, (session,) = _split(args, need=1)

    async def work(backend: CheckpointStore, info: StoreInfo) -> None:
        state = await _get(backend, info, session)
        if as_json:
            data: dict[str, Any] = {"session_id": state.session_id, "status": state.status.value}
            data["timeline"] = entries(state)
            data["usage"] = state.usage.model_dump()
            sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
            return
        print_timeline(render.console(), state, resume=_resume_line(spec, state))

    _with_store(spec, store, work, session=session)
