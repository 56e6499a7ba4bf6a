"""The `spine` command line: run, resume and chat with agents described by YAML specs.

Exit codes: 0 when a run ends with a final answer, 2 when it pauses for a human (the resume
token is printed), 1 for every other stop reason and for any error (a bad spec is reported in
one line, never a traceback).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Literal

import anyio
import typer

from spine_core import Agent, Result, SpineError, StopReason

from . import render
from .errors import SpecError

__all__ = ["app", "main"]

OPTIONAL_COMMANDS = ("spine.eval_command",)
"""Modules that add commands when installed: each defines `register(app: typer.Typer)`."""

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
    try:
        return version("spine")
    except PackageNotFoundError:  # running from a source tree without metadata
        return "unknown"


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


def _fail(message: str) -> typer.Exit:
    render.print_error(message)
    return typer.Exit(1)


def _load(spec: Path, *, model: str | None = None, max_steps: int | None = None) -> Agent:
    from .spec import load_agent

    try:
        return load_agent(spec, model=model, max_steps=max_steps)
    except SpecError as exc:
        raise _fail(str(exc)) from None


def _exit_code(result: Result) -> int:
    if result.stopped_reason is StopReason.FINAL:
        return 0
    return 2 if result.stopped_reason is StopReason.INTERRUPT else 1


def _finish(result: Result, *, spec: Path, as_json: bool, streamed: bool = False) -> None:
    if as_json:
        sys.stdout.write(render.result_json(result) + "\n")
    else:
        render.print_result(result, spec=str(spec), streamed=streamed)
    raise typer.Exit(_exit_code(result))


def _read_input(given: str | None) -> str:
    if given is not None:
        return given
    if sys.stdin.isatty():
        raise _fail("no INPUT: pass it as an argument or pipe it on stdin")
    text = sys.stdin.read().strip()
    if not text:
        raise _fail("no INPUT: stdin was empty")
    return text


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
) -> None:
    """Run the agent in SPEC on INPUT and print the answer, tool calls and usage.

    Exit code 0 on a final answer, 2 when the run pauses for a human (the resume token is
    printed), 1 otherwise. With --stream --json, every event is one JSON line and the Result
    is the last line.
    """
    text = _read_input(input)
    agent = _load(spec, model=model, max_steps=max_steps)

    async def go() -> Result:
        async with agent:
            if not stream:
                return await agent.run(text, session_id=session)
            out = render.console()
            at_start = True
            events = agent.stream(text, session_id=session)
            async for event in events:
                if as_json:
                    sys.stdout.write(json.dumps(event.to_dict(), default=str) + "\n")
                    sys.stdout.flush()
                else:
                    at_start = render.print_event(out, event, at_line_start=at_start)
            if not at_start:
                out.print()
            assert events.result is not None
            return events.result

    result = _execute(go)
    _finish(result, spec=spec, as_json=as_json, streamed=stream)


def _execute(go: Callable[[], Awaitable[Result]]) -> Result:
    try:
        result: Result = anyio.run(go)
    except SpineError as exc:
        raise _fail(str(exc)) from None
    return result


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
    """Continue a run that paused for a human, from any process sharing the checkpoint store.

    An approval pause takes --approve, --reject [REASON] or --decision VALUE; a tool's
    question takes --answer TEXT (or --decision TEXT). Give exactly one; a cancelled run's
    token, which ends in ':', needs none. Exit codes as for `spine run`.
    """
    chosen = sum((approve, reject, decision is not None, answer is not None))
    if chosen > 1:
        raise _fail("give only one of --approve, --reject, --decision, --answer")
    if chosen == 0 and not token.endswith(":"):
        raise _fail(
            "choose a decision: --approve, --reject [REASON], --decision VALUE or --answer TEXT"
        )
    if reason is not None and not reject:
        raise _fail(f"unexpected argument '{reason}' (a REASON goes with --reject)")
    value: str = decision if decision is not None else "reject" if reject else "approve"
    agent = _load(spec, model=model)

    async def go() -> Result:
        async with agent:
            kind = await _pause_kind(agent, token)
            if kind == "input" and (approve or reject):
                raise SpineError(
                    "this pause asks a question, not an approval: answer it with --answer TEXT"
                )
            if kind == "approval" and answer is not None:
                raise SpineError(
                    "this pause asks for an approval, not an answer: use --approve, "
                    "--reject [REASON] or --decision VALUE"
                )
            return await agent.resume(token, value, reason=reason, answer=answer)

    _finish(_execute(go), spec=spec, as_json=as_json)


async def _pause_kind(agent: Agent, token: str) -> str | None:
    """The kind of pause `token` resumes ("approval" or "input"); None when it resumes none
    (unknown, stale, cancelled: `Agent.resume` reports those)."""
    state = await agent.checkpoint.get(token)
    interrupt_id = None
    if state is None:
        session_id, colon, interrupt_id = token.rpartition(":")
        state = await agent.checkpoint.get(session_id) if colon and session_id else None
    pending = state.pending if state is not None else None
    if pending is None or (interrupt_id and interrupt_id != pending.id):
        return None
    return pending.kind


@app.command()
def chat(
    spec: SpecArg,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Continue this session (default: a new one)."),
    ] = None,
    model: ModelOpt = None,
) -> None:
    """Talk with the agent turn by turn; the session lives in the spec's checkpoint store.

    Type /exit (or end the input) to leave. When the agent asks for approval, answer y or n;
    when a tool asks a question, type the answer.
    """
    agent = _load(spec, model=model)
    session_id = session or uuid.uuid4().hex[:12]
    out = render.console()
    out.print(
        f"session {session_id} · /exit to leave · continue later with --session {session_id}",
        style="dim",
    )

    def ask(prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    async def go() -> None:
        async with agent:
            while True:
                line = await anyio.to_thread.run_sync(ask, "you> ")
                if line is None or line.strip() in ("/exit", "/quit"):
                    break
                if not line.strip():
                    continue
                result = await agent.run(line, session_id=session_id)
                while result.interrupted and result.interrupt is not None:
                    render.print_tool_calls(out, result)
                    request = result.interrupt
                    out.print(f"⏸ {request.question}", style="bold yellow", markup=False)
                    if request.kind == "approval":
                        reply = await anyio.to_thread.run_sync(ask, "approve? [y/N] ")
                        ok = (reply or "").strip().lower() in ("y", "yes")
                        decision: Literal["approve", "reject"] = "approve" if ok else "reject"
                        result = await agent.resume(result.resume_token or "", decision)
                    else:
                        reply = await anyio.to_thread.run_sync(ask, "answer> ")
                        result = await agent.resume(result.resume_token or "", answer=reply or "")
                render.print_tool_calls(out, result)
                if result.ok:
                    out.print(f"agent> {result.answer or ''}", markup=False)
                else:
                    render.print_stop(out, result)
                render.print_usage(out, result)

    try:
        anyio.run(go)
    except SpineError as exc:
        raise _fail(str(exc)) from None


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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
