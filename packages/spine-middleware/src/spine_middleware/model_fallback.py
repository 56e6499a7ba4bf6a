"""`ModelFallback`: switch to the next model when a model call fails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spine_core import (
    ErrorAction,
    Middleware,
    Provider,
    ProviderError,
    ProviderErrorKind,
    StepContext,
    ToolContext,
    resolve_provider,
)

__all__ = ["ModelFallback"]


class ModelFallback(Middleware):
    """On a provider error, swap to the next provider and retry the call.

    Providers are tried in order, per step, until one succeeds or the list is exhausted
    (then the kernel fails the run). Each step starts on the agent's own provider (the
    kernel resets `ctx.provider`), so a fallback lasts one step. A failure that an inner
    middleware (e.g. `Retry`) recovers never reaches this one. Accepts `Provider` instances or
    "scheme:model" strings; strings are resolved through `spine_core.resolve_provider` on
    first use, so constructing the middleware needs no SDK and no key. The per-step position
    lives in `ctx.extra`, so one instance serves concurrent runs.

    Args:
        *providers: Fallback providers or "scheme:model" strings, tried in this order.
        models: The same as a keyword list (what a YAML spec passes); appended after
            `providers`.
        on_kinds: Error kinds (`ProviderErrorKind` values) that trigger a fallback; default
            every error.

    Raises:
        ValueError: no fallback provider given, or an unknown kind.
        PluginNotFoundError: (at fallback time) a "scheme:model" names a scheme that is not
            installed.
    """

    def __init__(
        self,
        *providers: str | Provider,
        models: Sequence[str | Provider] | None = None,
        on_kinds: Sequence[str] | None = None,
    ) -> None:
        entries = [*providers, *(models or ())]
        if not entries:
            raise ValueError("ModelFallback needs at least one fallback provider")
        self.models: list[str | Provider] = entries
        self.on_kinds = (
            None if on_kinds is None else frozenset(ProviderErrorKind(k) for k in on_kinds)
        )
        self._resolved: dict[int, Provider] = {}
        self._key = f"model_fallback.{id(self)}"  # per-run position, in ctx.extra

    def provider(self, index: int) -> Provider:
        """The fallback provider at `index`, resolving a "scheme:model" string once."""
        found = self._resolved.get(index)
        if found is None:
            entry = self.models[index]
            found = resolve_provider(entry) if isinstance(entry, str) else entry
            self._resolved[index] = found
        return found

    async def on_error(
        self, ctx: StepContext[Any] | ToolContext[Any], err: Exception
    ) -> ErrorAction | None:
        if isinstance(ctx, ToolContext):
            return None
        if (
            self.on_kinds is not None
            and isinstance(err, ProviderError)
            and err.kind not in self.on_kinds
        ):
            return None
        step, index = ctx.extra.get(self._key, (None, 0))
        if step != ctx.step:
            index = 0
        if index >= len(self.models):
            return None
        ctx.extra[self._key] = (ctx.step, index + 1)
        ctx.provider = self.provider(index)
        return ErrorAction.FALLBACK
