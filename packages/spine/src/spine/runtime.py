"""What the commands share: loading a spec for a run, opening its checkpoint store, reading a
session with one-line errors, resume commands, and leaving the process on Ctrl-C.

Every failure reaches the user as `CliError`, whose message is one line (what and where).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import anyio

from spine_core import Agent, CheckpointStore, SpineError, State

from .diagnose import explain
from .errors import SpecError
from .stores import StoreInfo, close_store, open_url

__all__ = [
    "CliError",
    "Loaded",
    "exit_now",
    "failure",
    "fetch",
    "load",
    "new_session_id",
    "open_store",
    "pause_line",
    "resume_command",
    "run_async",
    "unwrap",
]

T = TypeVar("T")


class CliError(Exception):
    """A failure to report as `spine: error: MESSAGE` with exit code 1."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass(slots=True)
class Loaded:
    """An agent built from a spec, with its checkpoint store and where that store lives.

    `async with` closes the provider's client and the store's connections."""

    spec: Path
    agent: Agent
    info: StoreInfo
    model: str | None = None

    @property
    def store(self) -> CheckpointStore:
        return self.agent.checkpoint

    async def __aenter__(self) -> Loaded:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.agent.aclose()
            finally:
                await close_store(self.store)


def load(spec: Path, *, model: str | None = None, max_steps: int | None = None) -> Loaded:
    """Build the agent in `spec` for a CLI run: its store, and the `TraceLog` that
    `spine trace` reads.

    Raises:
        CliError: anything wrong with the spec (file, line, key path, problem).
    """
    from .build import build_agent, build_checkpoint
    from .spec import load_spec
    from .tracelog import TraceLog

    try:
        parsed = load_spec(spec)
        store, info = build_checkpoint(parsed)
        agent = build_agent(parsed, model=model, max_steps=max_steps, checkpoint=store)
    except SpecError as exc:
        raise CliError(str(exc)) from None
    agent.chain.add(TraceLog(), outermost=True)
    return Loaded(spec=spec, agent=agent, info=info, model=model)


def open_store(spec: Path | None, url: str | None) -> tuple[CheckpointStore, StoreInfo]:
    """The store `--store URL` names, else the one `spec` names, else the default SQLite file
    `.spine/state.db` (it must exist).

    Raises:
        CliError: a bad spec or URL, or no default store here.
    """
    from .build import DEFAULT_STATE_DB, build_checkpoint
    from .spec import load_spec

    try:
        if url is not None:
            return open_url(url)
        if spec is not None:
            return build_checkpoint(load_spec(spec))
        if not DEFAULT_STATE_DB.is_file():
            raise CliError(
                f"no session store here: {DEFAULT_STATE_DB} does not exist (name the agent "
                "spec, or the store with --store URL)"
            )
        return open_url(str(DEFAULT_STATE_DB))
    except SpecError as exc:
        raise CliError(str(exc)) from None


def new_session_id() -> str:
    """A fresh session id (32 hex digits)."""
    return uuid.uuid4().hex


async def fetch(store: CheckpointStore, info: StoreInfo, session_id: str) -> State | None:
    """The stored session, or None; a store that cannot be reached or read, or a corrupt or
    too-new session, is a `CliError` naming the store and the session."""
    try:
        return await store.get(session_id)
    except Exception as exc:
        if os.environ.get("SPINE_DEBUG"):
            raise
        raise failure(exc, info=info, session=session_id) from None


def failure(
    exc: BaseException, *, info: StoreInfo | None = None, session: str | None = None
) -> CliError:
    """`exc` as a one-line `CliError`; an exception Spine does not know gets a pointer to
    `SPINE_DEBUG=1`, which makes the CLI print its traceback."""
    message = explain(exc, store=info, session=session)
    if message.startswith(f"{type(exc).__name__}:") and not isinstance(exc, SpineError):
        message += " (SPINE_DEBUG=1 shows the traceback)"
    return CliError(message)


def unwrap(exc: BaseException) -> BaseException:
    """The one exception inside (nested) single-member exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _cancel_on_sigint(scope: anyio.CancelScope, hits: list[int]) -> Callable[[], None]:
    """Make SIGINT cancel `scope` (a second one leaves at once), through the event loop's
    wakeup fd: the loop wakes whichever thread the signal lands on, even when the main thread
    is idle while a sync tool runs in a worker thread. Returns the undo."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio
        return lambda: None

    def interrupted() -> None:
        hits.append(1)
        if len(hits) > 1:
            exit_now(130)
        scope.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupted)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        return lambda: None

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGINT)

    return undo


def run_async(
    go: Callable[[], Awaitable[T]], *, info: StoreInfo | None = None, session: str | None = None
) -> T:
    """`anyio.run(go)`; Ctrl-C cancels `go` (the kernel checkpoints the run as cancelled) and
    then raises KeyboardInterrupt; an exception becomes a one-line `CliError`
    (BrokenPipeError passes through for `main` to handle)."""
    hits: list[int] = []

    async def guarded() -> tuple[bool, T | None]:
        with anyio.CancelScope() as scope:
            undo = _cancel_on_sigint(scope, hits)
            try:
                return True, await go()
            finally:
                undo()
        return False, None  # cancelled by Ctrl-C

    try:
        finished, value = anyio.run(guarded)
    except (CliError, KeyboardInterrupt, BrokenPipeError):
        raise
    except BaseException as exc:
        inner = unwrap(exc)
        if isinstance(inner, CliError | KeyboardInterrupt | BrokenPipeError):
            raise inner from None
        if not isinstance(inner, Exception):
            raise
        if os.environ.get("SPINE_DEBUG"):
            raise
        raise failure(inner, info=info, session=session) from None
    if not finished:
        raise KeyboardInterrupt
    return value  # type: ignore[return-value]  # `go` returned it


def resume_command(spec: Path, state: State, *, model: str | None = None) -> str:
    """The `spine resume` command line that continues `state`'s pause or cancelled run."""
    pending = state.pending
    override = f" --model {model}" if model else ""
    if pending is None:
        return f"spine resume {spec} {state.session_id}:{override}"
    token = f"{state.session_id}:{pending.id}"
    flag = "--approve (or --reject REASON)" if pending.kind == "approval" else '--answer "..."'
    return f"spine resume {spec} {token} {flag}{override}"


def pause_line(spec: Path, state: State, *, model: str | None = None) -> str:
    """`session 'S' is paused ...: QUESTION; continue with: spine resume ...`."""
    pending = state.pending
    assert pending is not None
    what = "for approval" if pending.kind == "approval" else "for an answer"
    return (
        f"session '{state.session_id}' is paused {what}: {pending.question}; continue with: "
        f"{resume_command(spec, state, model=model)}"
    )


def exit_now(code: int) -> NoReturn:
    """Exit with `code` at once (after Ctrl-C): flush the output, then leave without waiting
    for worker threads, so a sync tool still running cannot hold the process (`os._exit`
    when such threads are alive: exit handlers do not run then)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if busy:
        os._exit(code)
    sys.exit(code)
