"""`spine trace SESSION`: a stored session as a timeline of turns, steps (model calls), tool
calls with their arguments, results, errors and costs.

The timeline is built from the session's messages and, for sessions run through the CLI,
the `TraceLog` records beside them (each model call's model, tokens, cost and duration, each
tool call's duration, errors); `entries` gives it as JSON-ready dicts and `print_timeline`
renders them.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from spine_core import Message, Role, State, Usage

from .render import call_text
from .tracelog import records

__all__ = ["entries", "print_timeline"]

_CLIP = 200


def _clip(text: str, limit: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def entries(state: State) -> list[dict[str, Any]]:
    """The session's timeline, oldest first. Kinds: `turn` (a user message), `model` (a
    model call: step, model, usage, seconds, text, tool calls), `tool_call` (id, name,
    arguments), `tool_result` (id, name, result, is_error, seconds, error), `error` (where,
    error) and `pause` (the pending question and its resume token)."""
    logged = records(state)
    models = {r.get("at"): r for r in logged if r.get("kind") == "model"}
    tools = {r.get("id"): r for r in logged if r.get("kind") == "tool"}
    errors: dict[Any, list[dict[str, Any]]] = {}
    for r in logged:  # a failed tool call shows at its result; list the model's errors
        if r.get("kind") == "error" and r.get("where") == "model":
            errors.setdefault(r.get("at"), []).append(r)
    results = {m.tool_call_id: m for m in state.messages if m.role is Role.TOOL}
    out: list[dict[str, Any]] = []
    turn = step = 0
    for index, message in enumerate(state.messages):
        out.extend({"kind": "error", **e} for e in errors.pop(index, []))
        if message.role is Role.USER:
            turn, step = turn + 1, 0
            out.append({"kind": "turn", "turn": turn, "text": message.text})
        elif message.role is Role.ASSISTANT:
            step += 1
            record = models.get(index, {})
            out.append(
                {
                    "kind": "model",
                    "step": step,
                    "model": record.get("model"),
                    "usage": record.get("usage"),
                    "seconds": record.get("s"),
                    "text": message.text,
                    "tool_calls": len(message.tool_calls),
                }
            )
            for call in message.tool_calls:
                out.append(
                    {"kind": "tool_call", "id": call.id, "name": call.name,
                     "arguments": call.arguments}
                )  # fmt: skip
                result = results.get(call.id)
                if result is not None:
                    out.append(_result_entry(result, tools.get(call.id, {})))
    for rest in errors.values():
        out.extend({"kind": "error", **e} for e in rest)
    if state.pending is not None:
        out.append(
            {
                "kind": "pause",
                "type": state.pending.kind,
                "question": state.pending.question,
                "token": f"{state.session_id}:{state.pending.id}",
            }
        )
    return out


def _result_entry(message: Message, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "tool_result",
        "id": message.tool_call_id,
        "name": message.name,
        "result": message.text,
        "is_error": message.is_error,
        "seconds": record.get("s"),
        "error": record.get("error"),
    }


def _usage_text(usage: dict[str, Any] | None) -> str:
    if not usage:
        return ""
    u = Usage.model_validate(usage)
    cached = f" ({u.cache_read_tokens:,} cached)" if u.cache_read_tokens else ""
    return f"{u.input_tokens:,} in{cached} / {u.output_tokens:,} out · ${u.cost_usd:.4f}"


def _seconds(value: Any) -> str:
    return f"{value:.2f}s" if isinstance(value, int | float) else ""


def print_timeline(out: Console, state: State, *, resume: str | None = None) -> None:
    """Print the timeline of `state`; `resume` is the command line of a pending pause."""
    status = state.status.value
    reason = state.stopped_reason.value if state.stopped_reason is not None else "-"
    out.print(
        Text.assemble(
            ("session ", "bold"),
            (state.session_id, "bold"),
            f" · agent {state.agent} · {status} ({reason})",
            f" · tenant {state.tenant_id}" if state.tenant_id else "",
        )
    )
    calls = errors = 0
    items = entries(state)
    for item in items:
        kind = item["kind"]
        if kind == "turn":
            out.print(Text.assemble(("turn ", "bold magenta"), (str(item["turn"]), "bold magenta"),
                                    "  user: ", _clip(item["text"])))  # fmt: skip
        elif kind == "model":
            parts = [p for p in (item["model"], _usage_text(item["usage"]),
                                 _seconds(item["seconds"])) if p]  # fmt: skip
            out.print(Text.assemble(("  step ", "bold"), (str(item["step"]), "bold"),
                                    ("  " + " · ".join(parts), "dim")))  # fmt: skip
            if item["text"]:
                label = "answer: " if not item["tool_calls"] else "says: "
                out.print(Text.assemble(("    " + label, "green"), _clip(item["text"])))
        elif kind == "tool_call":
            calls += 1
            out.print(Text(f"    → {call_text(item['name'], item['arguments'])}", style="cyan"))
        elif kind == "tool_result":
            errors += bool(item["is_error"])
            style = "red" if item["is_error"] else "dim"
            mark = "✗" if item["is_error"] else "←"
            took = f" ({_seconds(item['seconds'])})" if item["seconds"] is not None else ""
            out.print(Text(f"      {mark} {_clip(item['result'])}{took}", style=style))
        elif kind == "error":
            out.print(Text(f"  ✗ error ({item.get('where', '?')}): {item.get('error', '')}",
                           style="bold red"))  # fmt: skip
        elif kind == "pause":
            out.print(Text(f"  ⏸ paused ({item['type']}): {item['question']}", style="bold yellow"))
            if resume:
                out.print(Text(f"    continue with: {resume}", style="dim"))
    usage = state.usage
    out.print(
        Text(
            f"total · {usage.requests} model calls · {usage.input_tokens:,} in / "
            f"{usage.output_tokens:,} out · ${usage.cost_usd:.4f} · {calls} tool calls"
            f" ({errors} failed)",
            style="bold",
        )
    )
    if not records(state) and items:
        out.print(
            Text(
                "(per-call tokens, costs and durations are recorded for runs made with the "
                "spine CLI)",
                style="dim",
            )
        )
