"""`Idempotency`: replay a side-effecting tool's result instead of running it twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, Literal

from spine_core import (
    InMemoryKeyValueStore,
    KeyValueStore,
    Middleware,
    ToolContext,
    tool_output_text,
)

__all__ = ["Idempotency"]

_KEYS = "idempotency.keys"  # ctx.extra: call id -> idempotency key of a call that ran


class Idempotency(Middleware):
    """De-duplicate side-effecting tool calls by an idempotency key.

    On a repeated `(tool, args)` the recorded result is replayed and the tool is not executed
    again (`ctx.skip`), e.g. a run resumed on another worker after a crash does not send the
    e-mail twice. Only successful results are recorded: a call that failed runs again next
    time. Restrict it to the side-effecting tools with `tools=[...]`.

    The key is `key(tool_name, args)`, by default the tool name and its arguments as
    canonical JSON; with `scope="session"` it is also bound to the session, so only repeats
    within one conversation are replayed.

    `store` is where results are kept: a dict (or any mutable mapping, holding the raw
    results under the keys) or, to share them across processes, a `KeyValueStore` such as
    `spine_backends.RedisKeyValueStore` (results kept as JSON under `prefix` + a SHA-256 of
    the key, for `ttl_s` seconds). The default is a process-local `InMemoryKeyValueStore`.

    Args:
        tools: Names of the tools to protect; None protects every tool.
        store: A mutable mapping or a `KeyValueStore`.
        key: `key(tool_name, args) -> str`, the idempotency key of a call.
        scope: "global" (across sessions) or "session".
        ttl_s: Seconds a result is kept in a `KeyValueStore` (None: forever).
        max_result_chars: Longest result recorded, characters (None: no limit); a longer
            result is not recorded, so that call runs again when repeated.
        prefix: Key prefix in a `KeyValueStore`.
    """

    def __init__(
        self,
        *,
        tools: Iterable[str] | None = None,
        store: MutableMapping[str, Any] | KeyValueStore | None = None,
        key: Callable[[str, dict[str, Any]], str] | None = None,
        scope: Literal["global", "session"] = "global",
        ttl_s: float | None = 24 * 3600.0,
        max_result_chars: int | None = None,
        prefix: str = "spine:idempotency",
    ) -> None:
        if scope not in ("global", "session"):
            raise ValueError("scope must be 'global' or 'session'")
        self.tools = None if tools is None else frozenset(tools)
        self.store: MutableMapping[str, Any] | KeyValueStore = (
            InMemoryKeyValueStore() if store is None else store
        )
        self._key_fn = key
        self.scope = scope
        self.ttl_s = ttl_s
        self.max_result_chars = max_result_chars
        self.prefix = prefix

    def key_for(self, ctx: ToolContext[Any]) -> str:
        """The idempotency key of a tool call (before the store's prefix)."""
        name = ctx.call.name
        if self._key_fn is not None:
            key = self._key_fn(name, ctx.args)
        else:
            key = f"{name}:{json.dumps(ctx.args, sort_keys=True, default=str)}"
        return f"{ctx.session_id}:{key}" if self.scope == "session" else key

    def _applies(self, ctx: ToolContext[Any]) -> bool:
        return self.tools is None or ctx.call.name in self.tools

    def _kv_key(self, key: str) -> str:
        return f"{self.prefix}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def _get(self, key: str) -> tuple[bool, Any]:
        store = self.store
        if isinstance(store, KeyValueStore):
            raw = await store.get(self._kv_key(key))
            return (False, None) if raw is None else (True, _decode(raw))
        return (True, store[key]) if key in store else (False, None)

    async def _put(self, key: str, result: Any) -> None:
        store = self.store
        if isinstance(store, KeyValueStore):
            await store.set(
                self._kv_key(key), _encode(result), ttl_s=self.ttl_s, only_if_absent=True
            )
        else:
            store.setdefault(key, result)

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        if not self._applies(ctx):
            return
        key = self.key_for(ctx)
        found, result = await self._get(key)
        if found:
            ctx.result = result
            ctx.skip = True
        else:
            ctx.extra.setdefault(_KEYS, {})[ctx.call.id] = key

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        key = ctx.extra.get(_KEYS, {}).pop(ctx.call.id, None)
        if key is None or ctx.skip or ctx.error is not None or ctx.is_error:
            return  # not ours, replayed, answered by another middleware, or failed
        limit = self.max_result_chars
        if limit is not None and len(tool_output_text(ctx.result)) > limit:
            return
        await self._put(key, ctx.result)


def _encode(result: Any) -> str:
    """A result as stored in a `KeyValueStore`: JSON values as they are, others as text."""
    try:
        return json.dumps({"json": result}, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps({"text": tool_output_text(result)}, ensure_ascii=False)


def _decode(raw: str) -> Any:
    try:
        envelope = json.loads(raw)
    except ValueError:
        return raw  # a plain text value
    if isinstance(envelope, dict) and len(envelope) == 1:
        if "json" in envelope:
            return envelope["json"]
        if "text" in envelope:
            return envelope["text"]
    return raw
