"""`TraceLog`: the middleware the CLI adds to the agents it runs, so `spine trace SESSION` can
show what the stored messages alone do not: each model call's model, tokens, cost and
duration, each tool call's duration, and errors.

The records live in the session's `state.scratch["spine.trace"]` (persisted with the state),
a list of JSON objects, the most recent `MAX_RECORDS` kept:

- `{"kind": "model", "step", "at", "ts", "s", "model", "usage"[, "cached"]}`: a model call;
  `at` is the index its response got in `state.messages`, `s` its seconds, `usage` the
  non-zero `Usage` fields (tokens; `cost_usd` in USD), `cached` true when a cache answered.
- `{"kind": "tool", "id", "name", "s", "error"}`: a tool call (by `ToolCall.id`) and its
  seconds; `error` is the exception as `Type: message`, or null.
- `{"kind": "error", "step", "at", "ts", "where", "error"}`: a failed model or tool call
  (`at`: how many messages the session held then).
"""

from __future__ import annotations

import time
from typing import Any

from spine_core import Middleware, StepContext, ToolContext, provider_model, provider_name
from spine_core.state import State

__all__ = ["KEY", "MAX_RECORDS", "TraceLog", "records"]

KEY = "spine.trace"
MAX_RECORDS = 100
"""Records kept per session (older ones are dropped): the header, rewritten at each checkpoint,
stays a few kilobytes however long the session grows."""

_STARTED = "spine.trace.t0"  # ctx.extra: monotonic start of the model call / tool calls


def records(state: State) -> list[dict[str, Any]]:
    """The session's trace records (empty when it was not run through the CLI)."""
    found = state.scratch.get(KEY)
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def _append(state: State, record: dict[str, Any]) -> None:
    log = state.scratch.get(KEY)
    if not isinstance(log, list):
        log = state.scratch[KEY] = []
    log.append(record)
    if len(log) > MAX_RECORDS:
        del log[: len(log) - MAX_RECORDS]


def _error_text(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


class TraceLog(Middleware):
    """Records model calls, tool calls and errors in `state.scratch` (see the module doc).
    Add it outermost, so its `after_model` sees the response every other middleware left."""

    async def before_model(self, ctx: StepContext[Any]) -> None:
        ctx.extra[_STARTED] = time.monotonic()

    async def after_model(self, ctx: StepContext[Any]) -> None:
        response = ctx.response
        if response is None:
            return
        started = ctx.extra.pop(_STARTED, None)
        usage = {k: v for k, v in response.usage.model_dump().items() if v}
        provider = ctx.provider
        name = provider_name(provider) if provider is not None else "?"
        model = provider_model(provider) if provider is not None else ""
        _append(
            ctx.state,
            {
                "kind": "model",
                "step": ctx.step,
                "at": len(ctx.state.messages),
                "ts": time.time(),
                "s": round(time.monotonic() - started, 3) if started is not None else None,
                "model": f"{name}:{model}" if model else name,
                "usage": usage,
                **({"cached": True} if getattr(response, "cached", False) else {}),
            },
        )

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        ctx.extra[f"{_STARTED}:{ctx.call.id}"] = time.monotonic()

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        started = ctx.extra.pop(f"{_STARTED}:{ctx.call.id}", None)
        error = ctx.error
        _append(
            ctx.state,
            {
                "kind": "tool",
                "id": ctx.call.id,
                "name": ctx.call.name,
                "s": round(time.monotonic() - started, 3) if started is not None else None,
                "error": _error_text(error) if error is not None else None,
            },
        )

    async def on_error(self, ctx: StepContext[Any] | ToolContext[Any], err: Exception) -> None:
        where = f"tool {ctx.call.name}" if isinstance(ctx, ToolContext) else "model"
        _append(
            ctx.state,
            {"kind": "error", "step": ctx.state.step, "at": len(ctx.state.messages),
             "ts": time.time(), "where": where, "error": _error_text(err)},
        )  # fmt: skip
        return None
