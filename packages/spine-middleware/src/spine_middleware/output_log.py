"""`OutputLog`: a run's events appended to a file as JSON lines, as they happen."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import anyio

from spine_core import Middleware, Result, State, StepContext, ToolContext

__all__ = ["OutputLog"]


class OutputLog(Middleware):
    """Append each run's events to a log file as they happen (`tail -f` it).

    One JSON object per line, with `event`, `ts` (Unix seconds), `session_id` and `step`:
    `run_start` (the latest user message), `model_call` (provider, model, number of
    messages), `model_response` (content, tool calls, finish reason, usage with cost in
    USD), `tool_call` (name, arguments), `tool_result` (result text, is_error), `error`
    and `run_end` (stopped reason, answer, usage). Token deltas are not hook events: stream
    the run (`Agent.stream`) for those, or use the Claude Code provider's own `output_log`
    (the CLI's raw stream-json). Marianne's `set_output_log_path`, made safe for concurrent
    runs: the path is a template, and each line is one append, so runs never share state.

    Args:
        path: The log file; `{session_id}`, `{agent}` and `{tenant_id}` are filled in per
            run (e.g. `"logs/{session_id}.jsonl"`). Folders are created.
        content: Log message content, tool arguments and results (False: names, sizes and
            usage only, for logs that must not hold user data).
    """

    def __init__(self, path: str | os.PathLike[str], *, content: bool = True) -> None:
        self.path = os.fspath(path)
        self.content = content

    def file_for(self, state: State) -> Path:
        """The log file of `state`'s session."""
        return Path(
            self.path.format(
                session_id=state.session_id, agent=state.agent, tenant_id=state.tenant_id or ""
            )
        )

    async def _write(self, state: State, event: str, **data: Any) -> None:
        line = {"event": event, "ts": time.time(), "session_id": state.session_id}
        line.update(step=state.step, **data)
        text = json.dumps(line, default=str, ensure_ascii=False) + "\n"
        await anyio.to_thread.run_sync(_append, self.file_for(state), text.encode())

    def _text(self, value: str | None) -> str | int | None:
        if value is None:
            return None
        return value if self.content else len(value)

    async def on_run_start(self, state: State) -> None:
        last = next((m for m in reversed(state.messages) if m.role.value == "user"), None)
        await self._write(state, "run_start", input=self._text(last.text if last else None))

    async def before_model(self, ctx: StepContext[Any]) -> None:
        provider = ctx.provider
        await self._write(
            ctx.state,
            "model_call",
            provider=getattr(provider, "name", type(provider).__name__),
            model=getattr(provider, "model", None),
            messages=len(ctx.messages),
        )

    async def after_model(self, ctx: StepContext[Any]) -> None:
        response = ctx.response
        if response is None:
            return
        calls = [
            {"id": c.id, "name": c.name, "arguments": c.arguments if self.content else None}
            for c in response.message.tool_calls
        ]
        await self._write(
            ctx.state,
            "model_response",
            content=self._text(response.message.content),
            tool_calls=calls,
            finish_reason=response.finish_reason.value,
            usage=response.usage.model_dump(),
        )

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        arguments = ctx.args if self.content else None
        await self._write(
            ctx.state, "tool_call", id=ctx.call.id, name=ctx.call.name, arguments=arguments
        )

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        failed = ctx.error is not None or ctx.is_error
        result = ctx.result
        text = (
            result if isinstance(result, str) or result is None else json.dumps(result, default=str)
        )
        await self._write(
            ctx.state,
            "tool_result",
            id=ctx.call.id,
            name=ctx.call.name,
            result=self._text(text),
            is_error=failed,
        )

    async def on_error(self, ctx: StepContext[Any] | ToolContext[Any], err: Exception) -> None:
        await self._write(ctx.state, "error", error=f"{type(err).__name__}: {err}")

    async def on_run_end(self, state: State, result: Result) -> None:
        await self._write(
            state,
            "run_end",
            stopped_reason=result.stopped_reason.value,
            answer=self._text(result.answer),
            error=result.error,
            usage=result.usage.model_dump(),
        )


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write on an O_APPEND descriptor: lines of concurrent runs never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
