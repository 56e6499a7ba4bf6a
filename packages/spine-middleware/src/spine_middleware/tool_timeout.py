"""`ToolTimeout`: a wall-clock limit on each tool call."""

from __future__ import annotations

from collections.abc import Mapping

from spine_core import Middleware, ToolContext

__all__ = ["ToolTimeout"]


class ToolTimeout(Middleware):
    """Bound each tool call; running over is a tool error the model sees
    ("Tool 'x' timed out after 5 s"), not a crashed run.

    The limit is also capped by the time left before the run's `Guards.timeout_s`.

    Args:
        seconds: Default limit per call, seconds.
        per_tool: Limits for specific tools by name, seconds.

    Raises:
        ValueError: a limit is not > 0.
    """

    def __init__(
        self, *, seconds: float = 30.0, per_tool: Mapping[str, float] | None = None
    ) -> None:
        limits = dict(per_tool or {})
        if seconds <= 0 or any(v <= 0 for v in limits.values()):
            raise ValueError("tool timeouts must be > 0 seconds")
        self.seconds = seconds
        self.per_tool = limits

    async def before_tool(self, ctx: ToolContext) -> str | None:
        limit = self.per_tool.get(ctx.call.name, self.seconds)
        left = ctx.run.time_left()
        if left is not None:
            limit = max(min(limit, left), 0.001)
        if ctx.timeout_s is None or limit < ctx.timeout_s:
            ctx.timeout_s = limit
        return None
