"""`ToolTimeout`: a wall-clock limit on each tool call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spine_core import Middleware, ToolContext

__all__ = ["ToolTimeout"]


class ToolTimeout(Middleware):
    """Apply a wall-clock timeout to tool execution.

    Sets `ctx.timeout_s` in `before_tool`; the kernel cancels the tool with
    `anyio.fail_after` and gives the model the timeout as a tool error ("Tool 'x' timed out
    after 5 s"), so the run goes on. Restrict it to some tools with `tools=[...]`; give
    single tools their own limit with `per_tool`. When a limit is already set (by another
    middleware) the shorter one wins, and the limit never runs past the run's
    `Guards.timeout_s`. The approved call of a human-in-the-loop pause gets it too.

    Args:
        timeout_s: Limit per call, seconds.
        tools: Only these tools (by name) get `timeout_s`; None for all.
        per_tool: Limits for specific tools by name, seconds (they apply whatever `tools`
            says).

    Raises:
        ValueError: a limit is not > 0.
    """

    def __init__(
        self,
        timeout_s: float = 30.0,
        *,
        tools: Iterable[str] | None = None,
        per_tool: Mapping[str, float] | None = None,
    ) -> None:
        limits = dict(per_tool or {})
        if timeout_s <= 0 or any(v <= 0 for v in limits.values()):
            raise ValueError("tool timeouts must be > 0 seconds")
        self.timeout_s = timeout_s
        self.tools = None if tools is None else frozenset(tools)
        self.per_tool = limits

    def limit_for(self, name: str) -> float | None:
        """The limit for tool `name`, seconds (None: this middleware sets none)."""
        if name in self.per_tool:
            return self.per_tool[name]
        if self.tools is None or name in self.tools:
            return self.timeout_s
        return None

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        limit = self.limit_for(ctx.call.name)
        if limit is None:
            return
        left = ctx.run.time_left()
        if left is not None:
            limit = max(min(limit, left), 0.001)
        if ctx.timeout_s is None or limit < ctx.timeout_s:
            ctx.timeout_s = limit
