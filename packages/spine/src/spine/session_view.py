"""Stored sessions on the terminal (rich): the `spine sessions list` table, and a session's
messages, tool calls, usage and pending pause for `spine sessions show` and `/history`."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from spine_core import CheckpointInfo, Message, Role, State

from .render import call_text

__all__ = ["print_messages", "print_session", "sessions_table", "usage_text"]

_ROLE_STYLE = {
    Role.SYSTEM: "dim",
    Role.USER: "bold magenta",
    Role.ASSISTANT: "bold green",
    Role.TOOL: "cyan",
}
_STATUS_STYLE = {
    "done": "green",
    "running": "blue",
    "interrupted": "yellow",
    "error": "red",
    "cancelled": "magenta",
}


def _clip(text: str, limit: int | None) -> str:
    if limit is None:
        return text
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def when(ts: float) -> str:
    """Unix seconds as local `YYYY-MM-DD HH:MM:SS`."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def usage_text(state: State) -> str:
    """The session's totals in one line: tokens, requests and cost (USD)."""
    u = state.usage
    cached = f" ({u.cache_read_tokens:,} cached)" if u.cache_read_tokens else ""
    return (
        f"session {state.session_id}: tokens {u.input_tokens:,} in{cached} / "
        f"{u.output_tokens:,} out · requests {u.requests} · cost ${u.cost_usd:.4f}"
    )


def sessions_table(sessions: Sequence[CheckpointInfo], *, title: str) -> Table:
    """One row per session, most recently updated first."""
    table = Table(title=title, title_justify="left")
    for column in ("session", "agent", "tenant", "status", "steps", "messages", "updated"):
        table.add_column(
            column, no_wrap=True, justify="right" if column in ("steps", "messages") else "left"
        )
    for info in sorted(sessions, key=lambda i: i.updated_at, reverse=True):
        status = info.status.value
        table.add_row(
            info.session_id,
            info.agent,
            info.tenant_id or "-",
            Text(status, style=_STATUS_STYLE.get(status, "")),
            str(info.step),
            str(info.message_count),
            when(info.updated_at),
        )
    return table


def _message_lines(message: Message, limit: int | None) -> list[Text]:
    role = message.role
    label = Text(f"{role.value:<10}", style=_ROLE_STYLE.get(role, ""))
    lines: list[Text] = []
    if role is Role.TOOL:
        style = "red" if message.is_error else ""
        mark = "✗ " if message.is_error else "← "
        lines.append(Text.assemble(label, (f"{message.name or '?'} {mark}", "cyan"),
                                   (_clip(message.text, limit), style)))  # fmt: skip
        return lines
    text = message.text
    if text or not message.tool_calls:
        lines.append(Text.assemble(label, _clip(text, 200 if role is Role.SYSTEM else limit)))
    for call in message.tool_calls:
        lead = label if not lines else Text(" " * 10)
        lines.append(Text.assemble(lead, (f"→ {call_text(call.name, call.arguments)}", "cyan")))
    for thought in message.thinking:
        thinking = getattr(thought, "text", "") or ""
        if thinking:
            lines.append(Text.assemble(" " * 10, (f"(thinking) {_clip(thinking, limit)}", "dim")))
    return lines


def print_messages(out: Console, state: State, *, limit: int | None = 300) -> None:
    """Every message of the session, one or more lines each (text clipped to `limit`
    characters; None shows everything)."""
    for message in state.messages:
        for line in _message_lines(message, limit):
            out.print(line)


def print_session(
    out: Console, state: State, *, store: str, resume: str | None, limit: int | None
) -> None:
    """The session: its header, messages, usage and pending pause (with `resume`, the
    command that continues it)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    status = state.status.value
    reason = state.stopped_reason.value if state.stopped_reason is not None else "-"
    grid.add_row("session", state.session_id)
    grid.add_row("store", store)
    grid.add_row("agent", state.agent)
    grid.add_row("tenant", state.tenant_id or "-")
    grid.add_row(
        "status", Text(f"{status} (stopped: {reason})", style=_STATUS_STYLE.get(status, ""))
    )
    grid.add_row("revision", f"{state.revision} · state version {state.version}")
    grid.add_row("created", when(state.created_at))
    grid.add_row("updated", when(state.updated_at))
    grid.add_row("usage", usage_text(state).partition(": ")[2])
    out.print(grid)
    out.print()
    print_messages(out, state, limit=limit)
    pending = state.pending
    if pending is not None:
        out.print()
        out.print(Text(f"⏸ paused ({pending.kind}): {pending.question}", style="bold yellow"))
        call = pending.tool_call
        out.print(Text(f"pending tool call: {call_text(call.name, call.arguments)}"))
        if resume:
            out.print(Text(f"continue with: {resume}", style="dim"))
