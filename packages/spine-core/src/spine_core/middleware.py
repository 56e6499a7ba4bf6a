"""Middleware: hooks around the run, each model call and each tool call.

The chain is an onion: `on_run_start` and `before_*` run outer to inner (list order),
`after_*`, `on_error` and `on_run_end` inner to outer. A class may define any subset of the
hooks (duck typing works too); hooks left at the no-op default are never called.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from .context import StepContext, ToolContext
from .errors import SpineError
from .messages import ModelResponse
from .stop import StopReason

if TYPE_CHECKING:
    from .result import Result

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
    FALLBACK = "fallback"
    SKIP = "skip"
    FAIL = "fail"


class StopRun(SpineError):
    """Raise from any hook or tool to stop the run with `reason` (e.g. guardrail, loop)."""

    def __init__(self, reason: StopReason | str, message: str = "") -> None:
        super().__init__(message or str(reason))
        self.reason = StopReason(reason)
        self.message = message


class Middleware:
    """Base class with no-op hooks; override the ones you need.

    Hooks returning None leave things as they are; returning a value replaces it:
    `before_model` -> a `ModelResponse` short-circuits the provider (cache, replay);
    `after_model` -> a replacement response; `before_tool` -> a string used as the tool result
    without calling the tool (an error result when the hook set `ctx.is_error = True`);
    `after_tool` -> a replacement result text; `on_error` -> an `ErrorAction`; `on_run_end` ->
    a replacement `Result`.
    """

    async def on_run_start(self, ctx: StepContext) -> None:
        return None

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        return None

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        return None

    async def before_tool(self, ctx: ToolContext) -> str | None:
        return None

    async def after_tool(self, ctx: ToolContext, result: str) -> str | None:
        return None

    async def on_error(
        self, ctx: StepContext | ToolContext, error: Exception
    ) -> ErrorAction | None:
        return None

    async def on_run_end(self, ctx: StepContext, result: Result) -> Result | None:
        return None
