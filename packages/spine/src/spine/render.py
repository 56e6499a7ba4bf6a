"""Terminal output for the CLI (rich): results, live streams, interrupts, plugins, errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from spine_core import EventType, Result, StopReason, TraceEvent
from spine_core.registry import PluginInfo

__all__ = [
    "console",
    "print_error",
    "print_event",
    "print_plugins",
    "print_result",
    "print_stop",
    "print_usage",
    "result_json",
    "stop_detail",
]

_CLIP = 160


def console(*, stderr: bool = False) -> Console:
    """A console that never wraps lines it does not own (answers stay copy-pasteable) and uses
    a wide layout when output is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() else 200
    return Console(file=stream, soft_wrap=True, width=wide, highlight=False)


def print_error(message: str) -> None:
    """One line on stderr: `spine: error: MESSAGE`."""
    out = console(stderr=True)
    out.print(Text.assemble(("spine: error: ", "bold red"), " ".join(message.split())))


def _clip(text: str, limit: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call_text(name: str, arguments: Any) -> str:
    return f"{name}({json.dumps(arguments, ensure_ascii=False)})"


def print_tool_calls(out: Console, result: Result) -> None:
    """The run's tool calls and their results, one pair of lines each."""
    for event in result.trace:
        _tool_line(out, event)


def _tool_line(out: Console, event: TraceEvent) -> bool:
    data = event.data
    if event.type is EventType.TOOL_CALL:
        out.print(
            Text.assemble(("→ ", "cyan"), (_call_text(data["name"], data["arguments"]), "cyan"))
        )
        return True
    if event.type is EventType.TOOL_RESULT:
        style = "red" if data.get("is_error") else "dim"
        out.print(Text.assemble(("  ← ", style), (_clip(str(data.get("result", ""))), style)))
        return True
    return False


def print_usage(out: Console, result: Result) -> None:
    """One dim line: stop reason, steps, tokens, requests and cost."""
    usage = result.usage
    out.print(
        Text(
            f"[{result.stopped_reason.value}] steps {result.state.step} · "
            f"tokens {usage.input_tokens} in / {usage.output_tokens} out · "
            f"requests {usage.requests} · cost ${usage.cost_usd:.4f} · "
            f"session {result.session_id}",
            style="dim",
        )
    )


def print_interrupt(out: Console, result: Result, *, spec: str) -> None:
    """What the paused run waits for, the pending tool call and how to resume it."""
    request = result.interrupt
    if request is None:
        return
    call = request.tool_call
    out.print(Text.assemble(("⏸ paused: ", "bold yellow"), request.question))
    out.print(f"pending tool call: {_call_text(call.name, call.arguments)}")
    out.print(f"resume token: {result.resume_token}")
    flag = "--approve  (or --reject REASON)" if request.kind == "approval" else '--answer "..."'
    out.print(Text(f"continue with: spine resume {spec} {result.resume_token} {flag}", style="dim"))


def print_result(result: Result, *, spec: str, streamed: bool = False) -> None:
    """The outcome of a run on stdout: tool calls, the answer (unless it was streamed),
    an interrupt's resume instructions, or why the run stopped; then the usage line."""
    out = console()
    if not streamed:
        print_tool_calls(out, result)
    if result.stopped_reason is StopReason.FINAL:
        tokens = any(e.type is EventType.TOKEN for e in result.trace)
        if not streamed or not tokens:
            out.print(result.answer or "", markup=False)
    elif result.stopped_reason is StopReason.INTERRUPT:
        print_interrupt(out, result, spec=spec)
    else:
        print_stop(out, result)
    print_usage(out, result)


# Stop reasons whose `Result.answer` is the last assistant text so far (a guard trip or a
# cancel); for the other non-final reasons it is a `StopRun`'s explanation.
_PARTIAL = frozenset(
    {
        StopReason.MAX_STEPS,
        StopReason.MAX_COST,
        StopReason.MAX_TOKENS,
        StopReason.TIMEOUT,
        StopReason.MAX_DEPTH,
        StopReason.CANCELLED,
    }
)


def stop_detail(result: Result) -> str:
    """Why a run that did not answer stopped: the error text, or a `StopRun`'s message
    ("" for a guard trip or a cancel)."""
    if result.stopped_reason is StopReason.ERROR:
        return result.error or ""
    if result.stopped_reason in _PARTIAL:
        return ""
    return result.answer or ""


def print_stop(out: Console, result: Result) -> None:
    """`stopped: REASON[: detail]` in red, then the partial answer of a guard trip, if any."""
    detail = stop_detail(result)
    reason = result.stopped_reason.value
    out.print(Text(f"stopped: {reason}" + (f": {detail}" if detail else ""), style="bold red"))
    if result.stopped_reason in _PARTIAL and result.answer:
        out.print(Text("last answer so far:", style="dim"))
        out.print(result.answer, markup=False)


def print_event(out: Console, event: TraceEvent, *, at_line_start: bool) -> bool:
    """Print one live event of `--stream`; returns whether the cursor is at a line start."""
    if event.type is EventType.TOKEN:
        out.print(event.data.get("text", ""), end="", markup=False)
        return False
    if event.type in (EventType.TOOL_CALL, EventType.TOOL_RESULT):
        if not at_line_start:
            out.print()
        _tool_line(out, event)
        return True
    if event.type is EventType.MODEL_RESPONSE and not at_line_start:
        out.print()
        return True
    return at_line_start


def result_json(result: Result) -> str:
    """The result as JSON: every `Result` field plus `ok` and `session_id`."""
    data = result.model_dump(mode="json")
    data["ok"] = result.ok
    data["session_id"] = result.session_id
    return json.dumps(data, ensure_ascii=False)


def print_plugins(plugins: list[PluginInfo], *, as_json: bool) -> None:
    """Discovered plugins as a table (or JSON lines of group, name, value, distribution)."""
    if as_json:
        rows = [
            {"group": p.group, "name": p.name, "value": p.value, "distribution": p.distribution}
            for p in plugins
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="Spine plugins", title_justify="left")
    for column in ("group", "name", "provided by", "target"):
        table.add_column(column, no_wrap=True)
    for p in plugins:
        table.add_row(p.group.removeprefix("spine."), p.name, p.distribution, p.value)
    console().print(table)
