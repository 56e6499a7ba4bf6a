"""`Idempotency`: replay a side-effecting tool's result instead of running it twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from spine_core import InMemoryKeyValueStore, KeyValueStore, Middleware, ToolContext

from ._util import digest

__all__ = ["Idempotency"]


class Idempotency(Middleware):
    """Run each side-effecting tool call once per idempotency key; later calls with the same
    key get the recorded result (e.g. a run resumed on another worker after a crash does not
    send the e-mail again).

    The key is the tool name plus a SHA-256 of its arguments, within the session (`scope=
    "session"`) or across sessions (`scope="global"`). Only successful results are stored;
    errors are retried normally. Entries expire after `ttl_s`, and results longer than
    `max_result_chars` are not stored, so the store stays bounded.

    Args:
        tools: Names of the tools to protect; None protects every tool.
        scope: "session" or "global".
        ttl_s: Seconds a result is kept.
        max_result_chars: Longest result stored, characters.
        store: Shared store (default: a process-local `InMemoryKeyValueStore`).
        prefix: Key prefix in the store.
    """

    def __init__(
        self,
        *,
        tools: Sequence[str] | None = None,
        scope: Literal["session", "global"] = "session",
        ttl_s: float = 24 * 3600.0,
        max_result_chars: int = 100_000,
        store: KeyValueStore | None = None,
        prefix: str = "spine:idempotency",
    ) -> None:
        self.tools = None if tools is None else frozenset(tools)
        self.scope = scope
        self.ttl_s = ttl_s
        self.max_result_chars = max_result_chars
        self.store: KeyValueStore = store or InMemoryKeyValueStore()
        self.prefix = prefix

    def key(self, ctx: ToolContext) -> str:
        """The idempotency key of a tool call."""
        where = ctx.session_id if self.scope == "session" else "*"
        return f"{self.prefix}:{where}:{ctx.call.name}:{digest(ctx.arguments)}"

    def _applies(self, ctx: ToolContext) -> bool:
        return self.tools is None or ctx.call.name in self.tools

    async def before_tool(self, ctx: ToolContext) -> str | None:
        if not self._applies(ctx):
            return None
        recorded = await self.store.get(self.key(ctx))
        if recorded is not None:
            ctx.scratch.setdefault("idempotency.replayed", set()).add(ctx.call.id)
        return recorded

    async def after_tool(self, ctx: ToolContext, result: str) -> str | None:
        if not self._applies(ctx) or ctx.is_error or len(result) > self.max_result_chars:
            return None
        if ctx.call.id in ctx.scratch.get("idempotency.replayed", ()):
            return None
        await self.store.set(self.key(ctx), result, ttl_s=self.ttl_s, only_if_absent=True)
        return None
