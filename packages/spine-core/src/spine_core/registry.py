"""Plugin registries, backed by Python entry points and loaded lazily by name.

Lookup order: an explicit `register_*` call in this process, then the entry point of that name
in the group, imported only when first asked for. Groups: `spine.providers`,
`spine.middleware`, `spine.checkpoints`, `spine.memory`, `spine.embedders`, `spine.scorers`.
A factory takes keyword parameters (providers also get the model name, positionally) and
returns the object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .errors import PluginNotFoundError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from .provider import Provider

__all__ = [
    "GROUPS",
    "PluginInfo",
    "available",
    "lookup",
    "register",
    "register_checkpoint",
    "register_embedder",
    "register_memory",
    "register_middleware",
    "register_provider",
    "register_scorer",
    "resolve",
    "resolve_provider",
]

PROVIDERS = "spine.providers"
MIDDLEWARE = "spine.middleware"
CHECKPOINTS = "spine.checkpoints"
MEMORY = "spine.memory"
EMBEDDERS = "spine.embedders"
SCORERS = "spine.scorers"
GROUPS = (PROVIDERS, MIDDLEWARE, CHECKPOINTS, MEMORY, EMBEDDERS, SCORERS)

_KIND = {
    PROVIDERS: "provider",
    MIDDLEWARE: "middleware",
    CHECKPOINTS: "checkpoint store",
    MEMORY: "memory",
    EMBEDDERS: "embedder",
    SCORERS: "scorer",
}

_OPENAI_COMPATIBLE = ("openai", "openai-responses", "ollama", "openrouter", "vllm", "lmstudio")
_MIDDLEWARE_NAMES = [
    "retry",
    "model_fallback",
    "circuit_breaker",
    "rate_limit",
    "tool_timeout",
    "idempotency",
    "cost_tracking",
    "tenant_budget",
    "cache",
    "compaction",
    "tool_output_truncation",
    "pii_redaction",
    "prompt_injection_screen",
    "content_policy",
    "sandbox",
    "loop_guard",
    "structured_output",
    "memory_recall",
    "recorder",
    "replayer",
]

FIRST_PARTY_EXTRAS: dict[str, dict[str, str]] = {
    PROVIDERS: {
        "anthropic": "spine-agents[anthropic]",
        "google": "spine-agents[google]",
        "gemini": "spine-agents[google]",
        **{name: "spine-agents[openai]" for name in _OPENAI_COMPATIBLE},
    },
    CHECKPOINTS: {
        "sqlite": "spine-backends",
        "redis": "spine-agents[redis]",
        "postgres": "spine-agents[postgres]",
    },
    MEMORY: {
        "in_memory": "spine-backends",
        "buffer": "spine-backends",
        "pgvector": "spine-agents[pgvector]",
    },
    EMBEDDERS: {"hash": "spine-backends", "openai": "spine-backends[openai]"},
    MIDDLEWARE: {name: "spine-middleware" for name in _MIDDLEWARE_NAMES},
    SCORERS: {
        name: "spine-agents[eval]"
        for name in [
            "exact_match",
            "contains",
            "regex",
            "json_schema",
            "structured_match",
            "tool_called",
            "tool_trajectory",
            "cost_budget",
            "latency_budget",
            "llm_judge",
        ]
    },
}
"""First-party plugin names and the pip requirement that installs each (for error messages)."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A discoverable plugin: its group, name, `module:attr` target and distribution."""

    group: str
    name: str
    value: str
    distribution: str


_explicit: dict[str, dict[str, Callable[..., Any]]] = {group: {} for group in GROUPS}
_loaded: dict[tuple[str, str], Callable[..., Any]] = {}


def register(group: str, name: str, factory: Callable[..., Any]) -> None:
    """Register `factory` under `name` in `group` for this process (wins over entry points)."""
    _explicit.setdefault(group, {})[name] = factory


def register_provider(scheme: str, factory: Callable[..., Provider]) -> None:
    """Register a provider factory under a `scheme` (e.g. "anthropic"): `resolve_provider(
    "scheme:model")` then calls `factory(model, **params)`."""
    register(PROVIDERS, scheme, factory)


def register_middleware(name: str, factory: Callable[..., Any]) -> None:
    """Register a middleware factory (called with keyword parameters) under `name`."""
    register(MIDDLEWARE, name, factory)


def register_checkpoint(name: str, factory: Callable[..., Any]) -> None:
    """Register a checkpoint-store factory (called with keyword parameters) under `name`."""
    register(CHECKPOINTS, name, factory)


def register_memory(name: str, factory: Callable[..., Any]) -> None:
    """Register a `Memory` factory (called with keyword parameters) under `name`."""
    register(MEMORY, name, factory)


def register_embedder(name: str, factory: Callable[..., Any]) -> None:
    register(EMBEDDERS, name, factory)


def register_scorer(name: str, factory: Callable[..., Any]) -> None:
    register(SCORERS, name, factory)


def _entry_points(group: str, name: str | None = None) -> list[EntryPoint]:
    from importlib.metadata import entry_points  # scanning installed metadata: only on lookup

    found = entry_points(group=group) if name is None else entry_points(group=group, name=name)
    return list(found)


def available(group: str) -> list[PluginInfo]:
    """Every plugin of `group`: explicit registrations and installed entry points, by name."""
    seen: dict[str, PluginInfo] = {}
    for ep in _entry_points(group):
        dist = ep.dist.name if ep.dist is not None else "?"
        seen.setdefault(ep.name, PluginInfo(group, ep.name, ep.value, dist))
    for name, factory in _explicit.get(group, {}).items():
        target = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', '?')}"
        seen[name] = PluginInfo(group, name, target, "(registered in process)")
    return sorted(seen.values(), key=lambda info: info.name)


def lookup(group: str, name: str) -> Callable[..., Any]:
    """The factory registered as `name` in `group`.

    Raises:
        PluginNotFoundError: nothing has that name; the message lists the installed names and,
            for a first-party name, the pip requirement that provides it.
    """
    factory = _explicit.get(group, {}).get(name) or _loaded.get((group, name))
    if factory is not None:
        return factory
    found = _entry_points(group, name)
    if found:
        factory = cast(Callable[..., Any], found[0].load())
        _loaded[(group, name)] = factory
        return factory
    kind = _KIND.get(group, group)
    names = ", ".join(info.name for info in available(group)) or "none"
    extra = FIRST_PARTY_EXTRAS.get(group, {}).get(name)
    hint = f' Install it with: pip install "{extra}".' if extra else ""
    raise PluginNotFoundError(f"unknown {kind} '{name}'. Installed: {names}.{hint}")


def resolve(group: str, name: str, **params: Any) -> Any:
    """Build the plugin `name` of `group` with keyword `params`."""
    return lookup(group, name)(**params)


def resolve_provider(spec: str, **params: Any) -> Provider:
    """Build a provider from "scheme:model" (or a bare "scheme" for its default model).

    Raises:
        PluginNotFoundError: the scheme is not installed (names the extra to install).
    """
    scheme, _, model = spec.partition(":")
    factory = lookup(PROVIDERS, scheme.strip())
    provider = factory(model, **params) if model else factory(**params)
    return cast("Provider", provider)
