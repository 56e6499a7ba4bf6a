"""`Idempotency`: replay a side-effecting tool's result instead of running it twice."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from spine_core import (
    InMemoryKeyValueStore,
    KeyValueStore,
    Middleware,
    ToolContext,
    tool_output_text,
)

__all__ = ["Claim", "Idempotency"]

_KEYS = "idempotency.keys"  # ctx.extra: call id -> idempotency key of a call that ran


@dataclass(frozen=True, slots=True)
class Claim:
    """A call under way: the marker an `Idempotency` store holds for a key between the claim
    and the recorded result.

    Attributes:
        owner: "<session id>:<tool call id>" of the call that claimed the key.
        at: Epoch seconds of the claim.
    """

    owner: str
    at: float


class Idempotency(Middleware):
    """De-duplicate side-effecting tool calls by an idempotency key: each key runs once.

    Before a call runs, its key is claimed atomically in the store (`SET NX` on Redis); the
    result is recorded under the key when the call succeeds. A repeated `(tool, args)` then
    replays the recorded result and the tool is not executed again (`ctx.skip`) - e.g. a run
    resumed on another worker after a crash does not send the e-mail twice. A call that
    failed releases its claim and runs again next time (the reference recorded errors, so a
    failed side effect was replayed forever).

    A call that finds the key claimed by another call waits (polling the store, up to
    `wait_s` seconds) for that call's result and replays it; if no result comes, or the
    claim was left by a worker that died mid-call, it is answered with a tool error saying
    so ("... is claimed by <owner> since <time> and has no recorded result ...") instead of
    running: once per key is at most once, and whether a crashed call's side effect
    happened is for a person (or `clear(key)`) to decide. Claims and results expire after
    `ttl_s` seconds in a `KeyValueStore`. The same call coming back (its session resumed
    after a crash, same tool-call id) gets that error at once. Restrict the middleware to
    the side-effecting tools with `tools=[...]`.

    The key is `key(tool_name, args)`, by default the tool name and its arguments as
    canonical JSON; with `scope="session"` it is also bound to the session, so only repeats
    within one conversation are replayed.

    `store` is where claims and results are kept: a dict (or any mutable mapping; results
    are kept raw under the keys, claims as `Claim` objects - one process only) or, to share
    them across processes, a `KeyValueStore` such as `spine_backends.RedisKeyValueStore`
    (JSON under `prefix` + a SHA-256 of the key). The default is a process-local
    `InMemoryKeyValueStore`.

    Args:
        tools: Names of the tools to protect; None protects every tool.
        store: A mutable mapping or a `KeyValueStore`.
        key: `key(tool_name, args) -> str`, the idempotency key of a call.
        scope: "global" (across sessions) or "session".
        ttl_s: Seconds a claim or result is kept in a `KeyValueStore` (None: forever).
        max_result_chars: Longest result recorded, characters (None: no limit); a longer
            result is not recorded (its claim is released), so that call runs again.
        prefix: Key prefix in a `KeyValueStore`.
        wait_s: Seconds a call waits for another call holding its key.
        poll_s: First interval between two looks at the store while waiting, seconds
            (doubling up to 1 s).
        clock: Epoch seconds (the claims' timestamps).
        sleep: Awaitable sleep in seconds (inject a fake in tests).

    Raises:
        ValueError: an unknown scope or a negative wait.
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
        wait_s: float = 30.0,
        poll_s: float = 0.05,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if scope not in ("global", "session"):
            raise ValueError("scope must be 'global' or 'session'")
        if wait_s < 0 or poll_s <= 0:
            raise ValueError("wait_s must be >= 0 and poll_s > 0 seconds")
        self.tools = None if tools is None else frozenset(tools)
        self.store: MutableMapping[str, Any] | KeyValueStore = (
            InMemoryKeyValueStore() if store is None else store
        )
        self._key_fn = key
        self.scope = scope
        self.ttl_s = ttl_s
        self.max_result_chars = max_result_chars
        self.prefix = prefix
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._clock = clock
        self._sleep = sleep

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

    async def lookup(self, key: str) -> tuple[str, Any]:
        """What the store holds for `key`: ("result", value), ("claim", Claim) or
        ("none", None)."""
        store = self.store
        if isinstance(store, KeyValueStore):
            raw = await store.get(self._kv_key(key))
            return ("none", None) if raw is None else _decode(raw)
        if key not in store:
            return ("none", None)
        value = store[key]
        return ("claim", value) if isinstance(value, Claim) else ("result", value)

    async def _claim(self, key: str, claim: Claim) -> bool:
        store = self.store
        if isinstance(store, KeyValueStore):
            blob = json.dumps({"claim": claim.owner, "at": claim.at})
            return await store.set(self._kv_key(key), blob, ttl_s=self.ttl_s, only_if_absent=True)
        if key in store:
            return False
        store[key] = claim
        return True

    async def _record(self, key: str, result: Any) -> None:
        store = self.store
        if isinstance(store, KeyValueStore):
            await store.set(self._kv_key(key), _encode(result), ttl_s=self.ttl_s)
        else:
            store[key] = result

    async def clear(self, key: str) -> None:
        """Forget `key` (its claim or result), e.g. after checking by hand that a crashed
        call did not run; the next call with this key runs."""
        store = self.store
        if isinstance(store, KeyValueStore):
            await store.delete(self._kv_key(key))
        else:
            store.pop(key, None)

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        if not self._applies(ctx):
            return
        key = self.key_for(ctx)
        mine = Claim(owner=f"{ctx.session_id}:{ctx.call.id}", at=self._clock())
        deadline = self._clock() + self.wait_s
        pause = self.poll_s
        while True:
            kind, value = await self.lookup(key)
            if kind == "result":
                ctx.result = value
                ctx.skip = True
                return
            if kind == "none":
                if await self._claim(key, mine):
                    ctx.extra.setdefault(_KEYS, {})[ctx.call.id] = key
                    return
                continue  # another call claimed it first: look again
            if self._clock() >= deadline or value.owner == mine.owner:  # ours: a crashed attempt
                since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value.at))
                ctx.result = (
                    f"Not run: idempotency key {key!r} of tool '{ctx.call.name}' is claimed by "
                    f"{value.owner} since {since} and has no recorded result (the call is "
                    "still running elsewhere, or its worker died mid-call and it may or may "
                    "not have taken effect)."
                )
                ctx.is_error = True
                ctx.skip = True
                return
            await self._sleep(min(pause, max(deadline - self._clock(), 0.0)))
            pause = min(pause * 2, 1.0)

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        key = ctx.extra.get(_KEYS, {}).pop(ctx.call.id, None)
        if key is None:
            if not self._applies(ctx) or ctx.skip:
                return
            # A call answered without before_tool (a human's answer to the tool's own
            # Interrupt, on resume): settle the claim it left.
            key = self.key_for(ctx)
            kind, value = await self.lookup(key)
            if kind != "claim" or value.owner != f"{ctx.session_id}:{ctx.call.id}":
                return
        failed = ctx.error is not None or ctx.is_error
        limit = self.max_result_chars
        too_long = limit is not None and len(tool_output_text(ctx.result)) > limit
        with anyio.CancelScope(shield=True):
            if ctx.skip or failed or too_long:  # answered elsewhere, failed, or not kept
                await self.clear(key)
            else:
                await self._record(key, ctx.result)


def _encode(result: Any) -> str:
    """A result as stored in a `KeyValueStore`: JSON values as they are, others as text."""
    try:
        return json.dumps({"json": result}, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps({"text": tool_output_text(result)}, ensure_ascii=False)


def _decode(raw: str) -> tuple[str, Any]:
    """("result", value) or ("claim", Claim) for a stored value."""
    try:
        envelope = json.loads(raw)
    except ValueError:
        return ("result", raw)  # a plain text value
    if isinstance(envelope, dict):
        if len(envelope) == 1 and "json" in envelope:
            return ("result", envelope["json"])
        if len(envelope) == 1 and "text" in envelope:
            return ("result", envelope["text"])
        if set(envelope) == {"claim", "at"}:
            return ("claim", Claim(owner=str(envelope["claim"]), at=float(envelope["at"])))
    return ("result", raw)
