"""Terminal output for the CLI (rich): results, live streams, interrupts, plugins, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.table import Table
from rich.text import Text

from spine_core import EventType, Result, StopReason, Tool, TraceEvent
from spine_core.registry import PluginInfo

from .diagnose import umbrella_extras

__all__ = [
    "OFFLINE_NOTE",
    "call_text",
    "console",
    "event_dict",
    "event_json",
    "print_error",
    "print_event",
    "print_offline_note",
    "print_plugins",
    "print_result",
    "print_stop",
    "print_usage",
    "result_json",
    "stop_detail",
]

Tools = Mapping[str, Tool]

_CLIP = 160

OFFLINE_NOTE = (
    "offline: the `test` provider calls each tool once with its default arguments and answers "
    "with a summary of the tool results, whatever the question (no model, no network, no "
    "cost). Run the same spec on a real model with -m SCHEME:MODEL, e.g. "
    "-m anthropic:claude-sonnet-4-6 with ANTHROPIC_API_KEY set "
    '(pip install "spine-agents[anthropic]").'
)


def console(*, stderr: bool = False) -> Console:
    """A console that never wraps lines it does not own (answers stay copy-pasteable) and uses
    a wide layout when output is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() else 200
    return Console(file=stream, soft_wrap=True, width=wide, highlight=False)


def print_offline_note(provider: str) -> None:
    """Say on stderr what the offline `test` provider does, when `provider` is it."""
    if provider == "test":
        console(stderr=True).print(Text(OFFLINE_NOTE, style="dim"))


def print_error(message: str) -> None:
    """One line on stderr: `spine: error: MESSAGE`."""
    out = console(stderr=True)
    out.print(Text.assemble(("spine: error: ", "bold red"), " ".join(message.split())))


def _clip(text: str, limit: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value(value: Any) -> str:
    return json.dumps(to_jsonable_python(value, fallback=repr), ensure_ascii=False)


def call_text(name: str, arguments: Any, tool: Tool | None = None) -> str:
    """A tool call as `name(key=value, ...)` (values as JSON), with the defaults the tool
    fills in for arguments the model left out."""
    given = dict(arguments) if isinstance(arguments, dict) else {}
    shown = [f"{key}={_value(value)}" for key, value in given.items()]
    if tool is not None:
        properties = tool.parameters.get("properties", {})
        for key, schema in properties.items():
            if key not in given and isinstance(schema, dict) and "default" in schema:
                shown.append(f"{key}={_value(schema['default'])}")
    if not isinstance(arguments, dict):
        shown = [_value(arguments)]
    return f"{name}({', '.join(shown)})"


def print_tool_calls(
    out: Console, result: Result, *, tools: Tools | None = None, quoted: str = ""
) -> None:
    """The run's tool calls with their arguments and results, one pair of lines each; a
    result that `quoted` (the answer printed next) repeats is printed there only."""
    for event in result.trace:
        _tool_line(out, event, tools=tools, quoted=quoted)


def _tool_line(out: Console, event: TraceEvent, *, tools: Tools | None, quoted: str = "") -> bool:
    data = event.data
    if event.type is EventType.TOOL_CALL:
        tool = tools.get(data["name"]) if tools is not None else None
        out.print(
            Text.assemble(
                ("→ ", "cyan"), (call_text(data["name"], data["arguments"], tool), "cyan")
            )
        )
        return True
    if event.type is EventType.TOOL_RESULT:
        error = bool(data.get("is_error"))
        style = "red" if error else "dim"
        text = str(data.get("result", ""))
        if not error and quoted and _quotes(quoted, text):
            out.print(Text("  ← (result in the answer below)", style=style))
        else:
            mark = "  ✗ " if error else "  ← "
            out.print(Text.assemble((mark, style), (_clip(text), style)))
        return True
    return False


def _quotes(answer: str, result: str) -> bool:
    """Whether `answer` repeats `result` (its first 80 characters, whitespace aside)."""
    head = " ".join(result.split())[:80]
    return bool(head) and head in " ".join(answer.split())


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
    out.print(f"pending tool call: {call_text(call.name, call.arguments)}", markup=False)
    out.print(f"resume token: {result.resume_token}")
    flag = "--approve  (or --reject REASON)" if request.kind == "approval" else '--answer "..."'
    out.print(Text(f"continue with: spine resume {spec} {result.resume_token} {flag}", style="dim"))


def print_result(
    result: Result, *, spec: str, streamed: bool = False, tools: Tools | None = None
) -> None:
    """The outcome of a run on stdout: tool calls, the answer (unless it was streamed),
    an interrupt's resume instructions, or why the run stopped; then the usage line."""
    out = console()
    if not streamed:
        answer = result.answer or "" if result.stopped_reason is StopReason.FINAL else ""
        print_tool_calls(out, result, tools=tools, quoted=answer)
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
    detail = " ".join(umbrella_extras(stop_detail(result)).split())
    reason = result.stopped_reason.value
    out.print(Text(f"stopped: {reason}" + (f": {detail}" if detail else ""), style="bold red"))
    if result.stopped_reason in _PARTIAL and result.answer:
        out.print(Text("last answer so far:", style="dim"))
        out.print(result.answer, markup=False)


def print_event(
    out: Console, event: TraceEvent, *, at_line_start: bool, tools: Tools | None = None
) -> bool:
    """Print one live event of `--stream`; returns whether the cursor is at a line start."""
    if event.type is EventType.TOKEN:
        out.print(event.data.get("text", ""), end="", markup=False)
        return False
    if event.type in (EventType.TOOL_CALL, EventType.TOOL_RESULT):
        if not at_line_start:
            out.print()
        _tool_line(out, event, tools=tools)
        return True
    if event.type is EventType.MODEL_RESPONSE and not at_line_start:
        out.print()
        return True
    return at_line_start


def event_dict(event: TraceEvent) -> dict[str, Any]:
    """An event as JSON-ready data: `{"type", "step", "ts", "data"}`, the nested values
    (a `Usage`, a message) as JSON objects. `--json` and `--stream --json` both use it."""
    return {
        "type": event.type.value,
        "step": event.step,
        "ts": event.ts,
        "data": to_jsonable_python(event.data, fallback=repr),
    }


def event_json(event: TraceEvent) -> str:
    """`event_dict(event)` as one line of JSON."""
    return json.dumps(event_dict(event), ensure_ascii=False)


def result_json(result: Result) -> str:
    """The result as one line of JSON: `"type": "result"`, every `Result` field (trace events
    shaped as `event_dict`), `ok` and `session_id`."""
    data: dict[str, Any] = {"type": "result"}
    data.update(result.model_dump(mode="json", exclude={"trace"}))
    data["trace"] = [event_dict(e) for e in result.trace]
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
