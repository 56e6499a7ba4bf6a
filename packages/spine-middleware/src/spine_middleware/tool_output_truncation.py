"""`ToolOutputTruncation`: cap the size of tool results sent back to the model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spine_core import Middleware, ToolContext, tool_output_text

__all__ = ["ToolOutputTruncation"]


class ToolOutputTruncation(Middleware):
    """Cap huge tool outputs before they re-enter the context window.

    A result longer than `max_chars` (as the text the model would see) keeps its first
    `max_chars` characters followed by "…[truncated N chars]"; with `tail_chars`, the last
    `tail_chars` of those characters come from the end of the result instead
    ("head…[truncated N chars]…tail"), which keeps closing lines such as a stack trace's
    last frame. Shorter results are left as they are (non-text results included).

    Args:
        max_chars: Characters of the result kept.
        tail_chars: How many of them come from the end of the result.
        tools: Only these tools (by name); None for all.

    Raises:
        ValueError: `max_chars` is not positive, or `tail_chars` is not in [0, max_chars).
    """

    def __init__(
        self,
        max_chars: int = 4000,
        *,
        tail_chars: int = 0,
        tools: Iterable[str] | None = None,
    ) -> None:
        if max_chars <= 0:
            raise ValueError("max_chars must be positive")
        if not 0 <= tail_chars < max_chars:
            raise ValueError("tail_chars must be >= 0 and below max_chars")
        self.max_chars = max_chars
        self.tail_chars = tail_chars
        self.tools = None if tools is None else frozenset(tools)

    def truncate(self, text: str) -> str:
        """`text`, or its head (and tail) around "…[truncated N chars]"."""
        if len(text) <= self.max_chars:
            return text
        removed = len(text) - self.max_chars
        head = text[: self.max_chars - self.tail_chars]
        if not self.tail_chars:
            return f"{head}…[truncated {removed} chars]"
        return f"{head}…[truncated {removed} chars]…{text[-self.tail_chars :]}"

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        if ctx.result is None or (self.tools is not None and ctx.call.name not in self.tools):
            return
        text = tool_output_text(ctx.result)
        if len(text) > self.max_chars:
            ctx.result = self.truncate(text)
