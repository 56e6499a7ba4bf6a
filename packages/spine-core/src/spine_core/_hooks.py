"""The middleware chain, resolved once per agent into per-hook lists in onion order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .middleware import Middleware

_HOOKS = (
    "on_run_start",
    "before_model",
    "after_model",
    "before_tool",
    "after_tool",
    "on_error",
    "on_run_end",
)
_INNER_FIRST = {"after_model", "after_tool", "on_error", "on_run_end"}


@dataclass(slots=True, frozen=True)
class Hooks:
    """Bound hook methods per hook name; defaults inherited from `Middleware` are left out."""

    on_run_start: tuple[Any, ...]
    before_model: tuple[Any, ...]
    after_model: tuple[Any, ...]
    before_tool: tuple[Any, ...]
    after_tool: tuple[Any, ...]
    on_error: tuple[Any, ...]
    on_run_end: tuple[Any, ...]

    @classmethod
    def build(cls, middleware: Sequence[Any]) -> Hooks:
        lists: dict[str, tuple[Any, ...]] = {}
        for hook in _HOOKS:
            found = []
            for mw in middleware:
                method = getattr(mw, hook, None)
                if method is None or getattr(type(mw), hook, None) is getattr(Middleware, hook):
                    continue
                found.append(method)
            lists[hook] = tuple(reversed(found)) if hook in _INNER_FIRST else tuple(found)
        return cls(**lists)
