"""`ToolOutputTruncation`: cap the size of tool results sent back to the model."""

from __future__ import annotations

from collections.abc import Sequence

from spine_core import Middleware, ToolContext

__all__ = ["ToolOutputTruncation"]


class ToolOutputTruncation(Middleware):
    """Shorten long tool results to their head and tail with a marker in between.

    Args:
        max_chars: Longest result kept whole, characters.
        tail_chars: Characters kept from the end of a truncated result (the rest of the budget
            goes to the head).
        tools: Only these tools (by name); None for all.

    Raises:
        ValueError: `max_chars` < 1 or `tail_chars` not below `max_chars`.
    """

    def __init__(
        self, *, max_chars: int = 8_000, tail_chars: int = 1_000, tools: Sequence[str] | None = None
    ) -> None:
        if max_chars < 1 or not 0 <= tail_chars < max_chars:
            raise ValueError("need max_chars >= 1 and 0 <= tail_chars < max_chars")
        self.max_chars = max_chars
        self.tail_chars = tail_chars
        self.tools = None if tools is None else frozenset(tools)

    def truncate(self, text: str) -> str:
        """`text`, or its head and tail around "[... N characters truncated ...]"."""
        if len(text) <= self.max_chars:
            return text
        head = text[: self.max_chars - self.tail_chars]
        tail = text[len(text) - self.tail_chars :] if self.tail_chars else ""
        dropped = len(text) - len(head) - len(tail)
        return f"{head}\n[... {dropped} characters truncated ...]\n{tail}"

    async def after_tool(self, ctx: ToolContext, result: str) -> str | None:
        if self.tools is not None and ctx.call.name not in self.tools:
            return None
        shortened = self.truncate(result)
        return shortened if shortened is not result else None
