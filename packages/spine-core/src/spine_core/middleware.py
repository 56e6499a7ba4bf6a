"""Middleware: hooks around the run, each model call and each tool call.

The chain is an onion: `on_run_start` and `before_*` run outer to inner (list order),
`after_*`, `on_error` and `on_run_end` inner to outer. A class may define any subset of the
hooks (duck typing works too); hooks left at the no-op default are never called. Hooks
communicate through the context objects they receive (`ctx.response`, `ctx.result`,
`ctx.skip`, ...), as the Spine API reference documents.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .context import StepContext, ToolContext
from .control import StopRun

if TYPE_CHECKING:
    from .result import Result
    from .state import State

__all__ = ["ErrorAction", "Middleware", "StopRun"]


class ErrorAction(StrEnum):
    """What `on_error` asks the kernel to do.

    - retry: try the failed model or tool call again (bounded by
      `Guards.max_retries_per_step`; the hook does any waiting).
    - fallback: like retry, after the hook switched `ctx.provider` to another model.
    - skip: model call: drop this step and go on to the next one; tool call: give the error
      to the model as the tool result (the default for tools).
    - fail: end the run with `StopReason.error` (the default for model calls).
    """

    RETRY = "retry"
    SKIP = "skip"
    FAIL = "fail"
    FALLBACK = "fallback"


class Middleware:
    """Base class with no-op hooks; subclass and override what you need.

    Duck-typed objects implementing only some hooks work too: the chain calls a hook only if
    the middleware defines it (hooks left at this class's defaults are never called).

    - `on_run_start(state)`: the run begins (after the input was added to `state`).
    - `before_model(ctx)`: may edit `ctx.messages` / `ctx.tools` / `ctx.settings` /
      `ctx.provider`, or preset `ctx.response` to skip the provider.
    - `after_model(ctx)`: reads and may replace `ctx.response` (before its usage is banked).
    - `before_tool(ctx)`: may edit `ctx.args`, set `ctx.timeout_s`, or answer the call itself
      with `ctx.result` and `ctx.skip = True`.
    - `after_tool(ctx)`: reads and may replace `ctx.result` and `ctx.error`.
    - `on_error(ctx, err)`: a model call (`StepContext`) or tool call (`ToolContext`) failed;
      return an `ErrorAction`, or None to leave the decision to other middleware.
    - `on_run_end(state, result)`: the run ended; returning a `Result` replaces it.

    Raise `StopRun` from any hook to end the run.
    """

    async def on_run_start(self, state: State) -> None: ...

    async def on_run_end(self, state: State, result: Result) -> Result | None: ...

    async def before_model(self, ctx: StepContext[Any]) -> None: ...

    async def after_model(self, ctx: StepContext[Any]) -> None: ...

    async def before_tool(self, ctx: ToolContext[Any]) -> None: ...

    async def after_tool(self, ctx: ToolContext[Any]) -> None: ...

    async def on_error(
        self, ctx: StepContext[Any] | ToolContext[Any], err: Exception
    ) -> ErrorAction | None: ...
