"""The `spine` command line: run, resume and chat with agents described by YAML specs, and
look at the sessions they leave in the checkpoint store.

Exit codes: 0 when a run ends with a final answer, 2 when it pauses for a human (the resume
command is printed), 130 after Ctrl-C (the resume command of the cancelled run is printed),
1 for every other stop reason and for any error. An error is one line on stderr, never a
traceback (`SPINE_DEBUG=1` adds it).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.text import Text

from spine_core import Result, StopReason, provider_name

from . import otel_setup, render
from .diagnose import explain
from .runtime import (
    CliError,
    Loaded,
    exit_now,
    fetch,
    load,
    new_session_id,
    pause_line,
    run_async,
)

__all__ = ["app", "main"]

OPTIONAL_COMMANDS = (
    "spine.chat",
    "spine.sessions",
    "spine.eval_command",
    "spine.serve_command",
    "spine.dev_command",
    "spine.worker_command",
)
"""Modules that add commands when importable: each defines `register(app: typer.Typer)`."""

app = typer.Typer(
    name="spine",
    help="Run, resume and chat with Spine agents described by YAML specs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

SpecArg = Annotated[
    Path, typer.Argument(help="The agent spec (YAML).", show_default=False, metavar="SPEC")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Override the spec's model, as SCHEME:MODEL.", metavar="SCHEME:MODEL"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the Result as JSON.")]


def _version() -> str:
    for dist in ("spine-agents", "spine"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"  # running from a source tree without metadata


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"spine {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Show the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Run, resume and chat with Spine agents described by YAML specs."""


def _exit_code(result: Result) -> int:
    if result.stopped_reason is StopReason.FINAL:
        return 0
    return 2 if result.stopped_reason is StopReason.INTERRUPT else 1


def _finish(result: Result, *, loaded: Loaded, as_json: bool, streamed: bool = False) -> None:
    if as_json:
        sys.stdout.write(render.result_json(result) + "\n")
    else:
        render.print_result(
            result, spec=str(loaded.spec), streamed=streamed, tools=loaded.agent.tools
        )
        render.print_offline_note(provider_name(loaded.agent.provider))
    sys.stdout.flush()
    raise typer.Exit(_exit_code(result))


def _read_input(given: str | None) -> str:
    if given is not None:
        return given
    if sys.stdin.isatty():
        raise CliError("no INPUT: pass it as an argument or pipe it on stdin")
    text = sys.stdin.read().strip()
    if not text:
        raise CliError("no INPUT: stdin was empty")
    return text


def _cancelled_hint(loaded: Loaded, session_id: str) -> None:
    """After Ctrl-C: how to continue the run the kernel checkpointed as cancelled."""
    override = f" --model {loaded.model}" if loaded.model else ""
    render.console(stderr=True).print(
        Text(
            f"cancelled: session {session_id} keeps every finished step; continue it with: "
            f"spine resume {loaded.spec} {session_id}:{override}",
            style="yellow",
        )
    )


@app.command()
def run(
    spec: SpecArg,
    input: Annotated[
        str | None,
        typer.Argument(
            help="The user's message (read from stdin when omitted).", show_default=False
        ),
    ] = None,
    model: ModelOpt = None,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Continue (or create) this session.")
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Print tokens and tool calls as they happen.")
    ] = False,
    as_json: JsonOpt = False,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Override guards.max_steps.")
    ] = None,
    otel: Annotated[
        bool,
        typer.Option(
            "--otel",
            help="Export traces and metrics via OTLP/HTTP, configured by the standard "
            "OTEL_EXPORTER_OTLP_* variables (needs spine-agents[otel]).",
        ),
    ] = False,
) -> None:
    """Run the agent in SPEC on INPUT and print the tool calls, the answer and usage.

    Exit code 0 on a final answer, 2 when the run pauses for a human (the resume command is
    printed), 130 on Ctrl-C (the cancelled run's resume command is printed), 1 otherwise.
    With --stream --json, every event is one JSON line and the Result is the last line.
    """
    text = _read_input(input)
    loaded = load(spec, model=model, max_steps=max_steps)
    export = otel_setup.setup(loaded.agent) if otel else None
    session_id = session or new_session_id()
    started = False

    async def go() -> Result:
        nonlocal started
        async with loaded:
            state = await fetch(loaded.store, loaded.info, session_id)
            if state is not None and state.pending is not None:
                raise CliError(pause_line(spec, state, model=model))
            started = True
            if not stream:
                return await loaded.agent.run(text, session_id=session_id)
            return await _stream(loaded, text, session_id, as_json=as_json)

    try:
        result = run_async(go, info=loaded.info, session=session_id)
    except KeyboardInterrupt:
        if started:
            _cancelled_hint(loaded, session_id)
        raise
    finally:
        if export is not None:
            export.shutdown()
    _finish(result, loaded=loaded, as_json=as_json, streamed=stream)


async def _stream(loaded: Loaded, text: str, session_id: str, *, as_json: bool) -> Result:
    out = render.console()
    at_start = True
    events = loaded.agent.stream(text, session_id=session_id)
    try:
        async for event in events:
            if as_json:
                sys.stdout.write(render.event_json(event) + "\n")
                sys.stdout.flush()
            else:
                at_start = render.print_event(
                    out, event, at_line_start=at_start, tools=loaded.agent.tools
                )
    finally:  # Ctrl-C or a closed pipe: wait until the run checkpointed itself as cancelled
        with anyio.CancelScope(shield=True):
            await events.aclose()
    if not at_start:
        out.print()
    assert events.result is not None
    return events.result


@app.command()
def resume(
    spec: SpecArg,
    token: Annotated[
        str, typer.Argument(help="The resume token a paused run printed.", show_default=False)
    ],
    reason: Annotated[
        str | None,
        typer.Argument(help="With --reject: why (shown to the model).", show_default=False),
    ] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Run the pending tool call.")] = False,
    reject: Annotated[
        bool,
        typer.Option("--reject", help="Refuse the pending tool call (optionally give REASON)."),
    ] = False,
    decision: Annotated[
        str | None,
        typer.Option(
            "--decision",
            help="Decide in a word: approve, approved or yes run the pending call; any other "
            "value rejects it and is shown to the model. For a tool's question, the answer.",
            metavar="VALUE",
        ),
    ] = None,
    answer: Annotated[
        str | None, typer.Option("--answer", help="Answer a tool's question (its Interrupt).")
    ] = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue a run that paused for a human (or was cancelled), from any process sharing
    the checkpoint store.

    An approval pause takes --approve, --reject [REASON] or --decision VALUE; a tool's
    question takes --answer TEXT (or --decision TEXT). Give exactly one; a cancelled run's
    token, which ends in ':', needs none. Exit codes as for `spine run`.
    """
    chosen = sum((approve, reject, decision is not None, answer is not None))
    if chosen > 1:
        raise CliError("give only one of --approve, --reject, --decision, --answer")
    if reason is not None and not reject:
        raise CliError(f"unexpected argument '{reason}' (a REASON goes with --reject)")
    value: str = decision if decision is not None else "reject" if reject else "approve"
    loaded = load(spec, model=model)
    session_id = token.rpartition(":")[0] if ":" in token else token
    started = False

    async def go() -> Result:
        nonlocal started, session_id
        async with loaded:
            state = await fetch(loaded.store, loaded.info, token)  # a bare session id
            if state is not None:
                session_id = token
            elif ":" in token:  # SESSION:INTERRUPT, or SESSION: for a cancelled run
                state = await fetch(loaded.store, loaded.info, session_id)
            if state is None:
                raise CliError(f"no session '{session_id}' in the {loaded.info}")
            pending = state.pending
            if chosen == 0 and not token.endswith(":"):
                if pending is not None:
                    raise CliError(pause_line(spec, state, model=model))
                raise CliError(
                    "choose a decision: --approve, --reject [REASON], --decision VALUE "
                    "or --answer TEXT"
                )
            if pending is not None and pending.kind == "input" and (approve or reject):
                raise CliError(
                    "this pause asks a question, not an approval: answer it with --answer TEXT"
                )
            if pending is not None and pending.kind == "approval" and answer is not None:
                raise CliError(
                    "this pause asks for an approval, not an answer: use --approve, "
                    "--reject [REASON] or --decision VALUE"
                )
            started = True
            return await loaded.agent.resume(token, value, reason=reason, answer=answer)

    try:
        result = run_async(go, info=loaded.info, session=session_id)
    except KeyboardInterrupt:
        if started:
            _cancelled_hint(loaded, session_id)
        raise
    _finish(result, loaded=loaded, as_json=as_json)


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every discovered provider, middleware, checkpoint store, memory, embedder and
    scorer with the distribution that provides it (nothing is imported)."""
    from spine_core.registry import GROUPS, available

    render.print_plugins([info for group in GROUPS for info in available(group)], as_json=as_json)


@app.command()
def schema() -> None:
    """Print the JSON schema of the agent spec format (for editors and validators)."""
    from .spec import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def _register_optional_commands(target: typer.Typer) -> None:
    for name in OPTIONAL_COMMANDS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(target)


_register_optional_commands(app)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing at exit cannot fail on a closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main() -> None:
    """Console-script entry point: one-line errors, Ctrl-C (exit 130, without waiting for a
    sync tool still running in a worker thread) and closed pipes (`spine run --stream --json
    | head -1`: no traceback)."""
    try:
        app(standalone_mode=True)
    except CliError as exc:
        render.print_error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        exit_now(130)
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(141)
    except SystemExit as exc:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
        code = exc.code if isinstance(exc.code, int) else 1
        if code == 130:  # typer's exit for KeyboardInterrupt
            exit_now(130)
        sys.exit(code)
    except Exception as exc:
        if os.environ.get("SPINE_DEBUG"):
            raise
        render.print_error(f"{explain(exc)} (SPINE_DEBUG=1 shows the traceback)")
        sys.exit(1)
