"""`ModelFallback`: switch to the next model when a model call fails."""

from __future__ import annotations

from collections.abc import Sequence

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
    """Try other models, in order, when the agent's model fails within a step.

    Each step starts on the agent's own provider; after a failure that no inner middleware
    (e.g. `Retry`) recovered, the step moves to the next entry of `models`. When the list is
    exhausted the error ends the run as usual. String entries are resolved lazily through
    `spine_core.resolve_provider` on first use (constructing the middleware needs no SDK).

    Args:
        models: Fallback providers or "scheme:model" strings, tried in this order.
        on_kinds: Error kinds (`ProviderErrorKind` values) that trigger a fallback; default
            every kind.

    Raises:
        ValueError: `models` is empty.
        PluginNotFoundError: (at fallback time) a "scheme:model" names a scheme that is not
            installed.
    """

    def __init__(
        self, *, models: Sequence[str | Provider], on_kinds: Sequence[str] | None = None
    ) -> None:
        if not models:
            raise ValueError("ModelFallback needs at least one fallback model")
        self.models = list(models)
        self.on_kinds = (
            None if on_kinds is None else frozenset(ProviderErrorKind(k) for k in on_kinds)
        )
        self._resolved: dict[int, Provider] = {}

    def provider(self, index: int) -> Provider:
        """The fallback provider at `index`, resolving a "scheme:model" string once."""
        found = self._resolved.get(index)
        if found is None:
            entry = self.models[index]
            found = resolve_provider(entry) if isinstance(entry, str) else entry
            self._resolved[index] = found
        return found

    async def on_error(
        self, ctx: StepContext | ToolContext, error: Exception
    ) -> ErrorAction | None:
        if isinstance(ctx, ToolContext):
            return None
        if (
            self.on_kinds is not None
            and isinstance(error, ProviderError)
            and error.kind not in self.on_kinds
        ):
            return None
        used: dict[int, int] = ctx.scratch.setdefault("model_fallback.next", {})
        index = used.get(ctx.step, 0)
        if index >= len(self.models):
            return None
        used[ctx.step] = index + 1
        ctx.provider = self.provider(index)
        return ErrorAction.FALLBACK
