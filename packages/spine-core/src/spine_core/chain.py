"""`MiddlewareChain`: an agent's middleware, resolved once into per-hook lists in onion order.

`on_run_start` and `before_*` hooks run outer to inner (list order); `after_*`, `on_error` and
`on_run_end` run inner to outer. Hooks a middleware leaves at the `Middleware` defaults, or
does not define at all, are never called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .middleware import ErrorAction, Middleware

if TYPE_CHECKING:
    from .context import StepContext, ToolContext
    from .result import Result
    from .state import State

__all__ = ["MiddlewareChain"]

_OUTER_FIRST = ("on_run_start", "before_model", "before_tool")
_INNER_FIRST = ("after_model", "after_tool", "on_error", "on_run_end")


class MiddlewareChain:
    """The middleware of an agent, outermost first.

    Attributes:
        middleware: The middleware objects, outermost first (change it with `add`).
        present: The names of the hooks at least one middleware implements.
    """

    __slots__ = (
        "_after_model",
        "_after_tool",
        "_before_model",
        "_before_tool",
        "_on_error",
        "_on_run_end",
        "_on_run_start",
        "middleware",
        "present",
    )

    _on_run_start: tuple[Any, ...]
    _on_run_end: tuple[Any, ...]
    _before_model: tuple[Any, ...]
    _after_model: tuple[Any, ...]
    _before_tool: tuple[Any, ...]
    _after_tool: tuple[Any, ...]
    _on_error: tuple[Any, ...]

    def __init__(self, middleware: Iterable[Any] | None = None) -> None:
        self.middleware: tuple[Any, ...] = tuple(middleware or ())
        self._build()

    def _build(self) -> None:
        for hook in (*_OUTER_FIRST, *_INNER_FIRST):
            found = [
                getattr(mw, hook)
                for mw in self.middleware
                if getattr(mw, hook, None) is not None
                and getattr(type(mw), hook, None) is not getattr(Middleware, hook)
            ]
            setattr(self, f"_{hook}", tuple(reversed(found) if hook in _INNER_FIRST else found))
        hooks = (*_OUTER_FIRST, *_INNER_FIRST)
        self.present = frozenset(h for h in hooks if getattr(self, f"_{h}"))

    def add(self, middleware: Any, *, outermost: bool = False) -> None:
        """Add a middleware as the innermost one (or the outermost)."""
        self.middleware = (
            (middleware, *self.middleware) if outermost else (*self.middleware, middleware)
        )
        self._build()

    def __len__(self) -> int:
        return len(self.middleware)

    def __iter__(self) -> Any:
        return iter(self.middleware)

    def has(self, hook: str) -> bool:
        """Whether any middleware implements `hook`."""
        return hook in self.present

    async def on_run_start(self, state: State) -> None:
        for hook in self._on_run_start:
            await hook(state)

    async def on_run_end(self, state: State, result: Result) -> Result:
        """Run the hooks; a hook returning a `Result` replaces it for the hooks outside it."""
        for hook in self._on_run_end:
            replaced = await hook(state, result)
            if replaced is not None:
                result = replaced
        return result

    async def before_model(self, ctx: StepContext[Any]) -> None:
        """Run the hooks until one presets the response (`ctx.response`)."""
        for hook in self._before_model:
            await hook(ctx)
            if ctx.response is not None:
                return

    async def after_model(self, ctx: StepContext[Any]) -> None:
        for hook in self._after_model:
            await hook(ctx)

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        """Run the hooks until one answers the call (`ctx.skip`)."""
        for hook in self._before_tool:
            await hook(ctx)
            if ctx.skip:
                return

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        for hook in self._after_tool:
            await hook(ctx)

    async def on_error(
        self, ctx: StepContext[Any] | ToolContext[Any], err: Exception
    ) -> ErrorAction | None:
        """The first action a hook returns (inner to outer), or None when none decides."""
        for hook in self._on_error:
            action = await hook(ctx, err)
            if action is not None:
                return ErrorAction(action)
        return None
