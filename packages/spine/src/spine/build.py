"""From a validated `AgentSpec` to a running `Agent`: imports, registry lookups, defaults.

Every failure is re-raised as a `SpecError` that points at the spec key responsible.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from spine_core import (
    Agent,
    CheckpointStore,
    Guards,
    PluginNotFoundError,
    Tool,
    available,
    lookup,
    provider_model,
    provider_name,
)
from spine_core.registry import CHECKPOINTS, MIDDLEWARE, PROVIDERS, resolve_provider

from .diagnose import explain
from .errors import SpecError
from .output import schema_output_type
from .spec import AgentSpec, MCPServerRef, ModelSpec
from .stores import StoreInfo, describe

__all__ = ["DEFAULT_STATE_DB", "build_agent", "build_checkpoint", "default_checkpoint"]

DEFAULT_STATE_DB = Path(".spine") / "state.db"
"""Where sessions live when a spec names no checkpoint (relative to the working directory)."""


def default_checkpoint() -> tuple[str, dict[str, Any]]:
    """The checkpoint used when a spec names none: SQLite at `.spine/state.db` when
    spine-backends provides `sqlite`, else the in-memory store."""
    if any(info.name == "sqlite" for info in available(CHECKPOINTS)):
        return "sqlite", {"path": str(DEFAULT_STATE_DB)}
    return "memory", {}


def build_agent(
    spec: AgentSpec,
    *,
    model: str | None = None,
    max_steps: int | None = None,
    checkpoint: CheckpointStore | None = None,
) -> Agent:
    """Build the agent `spec` describes.

    Args:
        spec: A spec from `load_spec`.
        model: Overrides `spec.model`.
        max_steps: Overrides `spec.guards.max_steps`.
        checkpoint: A store to use instead of the spec's.

    Raises:
        SpecError: a provider, tool, middleware, checkpoint or output type cannot be built.
    """
    base = spec.base_dir
    with _spec_dir_importable(base):
        with _at(spec, ("model",), label="--model" if model else None):
            provider = _provider(model) if model else _spec_provider(spec, spec.model)
        tools = [
            _load_tools(spec, i, ref.python)
            if ref.python is not None
            else _mcp_tools(spec, i, ref.mcp)
            for i, ref in enumerate(spec.tools)
        ]
        middleware = [
            _plugin(spec, MIDDLEWARE, ref.name, ref.params, ("middleware", i, ref.name))
            for i, ref in enumerate(spec.middleware)
        ]
        output_type = _output_type(spec) if spec.output is not None else None
    _quiet_if_priced(provider, middleware)
    store = checkpoint if checkpoint is not None else build_checkpoint(spec)[0]
    guards = spec.guards.model_dump()
    if max_steps is not None:
        guards["max_steps"] = max_steps
    return Agent(
        provider=provider,
        tools=tools,
        guards=Guards(**guards),
        middleware=middleware,
        checkpoint=store,
        system=_system(spec, base),
        name=spec.name,
        parallel_tools=spec.parallel_tools,
        tenant_id=spec.tenant_id,
        output_type=output_type,
        output_retries=spec.output_retries,
        settings=spec.settings,
    )


# Model-name prefixes and the provider scheme that serves them, for `-m gpt-4o`.
_MODEL_FAMILIES = (
    (("gpt-", "o1", "o3", "o4", "chatgpt-", "davinci", "text-embedding-"), "openai"),
    (("claude",), "anthropic"),
    (("gemini",), "google"),
    (("llama", "mistral", "mixtral", "qwen", "phi", "gemma", "deepseek"), "ollama"),
)


def _spec_provider(spec: AgentSpec, model: str | ModelSpec) -> Any:
    """The provider of the spec's `model`: a "scheme:model" string, or a mapping whose
    `base_url`, `timeout_s`, `prices` and `settings` (the provider's `**defaults`) go to the
    provider's constructor and whose `api_key_env` names the variable holding its key."""
    if isinstance(model, str):
        return _provider(model)
    params: dict[str, Any] = dict(model.settings)
    if model.base_url is not None:
        params["base_url"] = model.base_url
    if model.timeout_s is not None:
        params["timeout_s"] = model.timeout_s
    if model.prices:
        params["prices"] = {
            name: price.model_dump(exclude_none=True) for name, price in model.prices.items()
        }
    if model.api_key_env is not None:
        key = os.environ.get(model.api_key_env)
        if not key:
            raise spec.error(
                ("model", "api_key_env"),
                f"the environment variable {model.api_key_env} is not set",
            )
        params["api_key"] = key
    return _provider(model.name, **params)


def _quiet_if_priced(provider: Any, middleware: list[Any]) -> None:
    """Turn off the provider's unpriced-model warning when a middleware of the spec (the
    `cost_tracking` middleware's `price_for`) prices its model: the cost is then counted."""
    price_for = [getattr(m, "price_for", None) for m in middleware]
    scheme, name = provider_name(provider), provider_model(provider)
    priced = any(callable(f) and f(scheme, name) is not None for f in price_for)
    if priced and hasattr(provider, "warn_unpriced"):
        provider.warn_unpriced = False


def _provider(model: str, **params: Any) -> Any:
    """`resolve_provider(model, **params)`, with a hint when `model` lacks its `scheme:`."""
    try:
        return resolve_provider(model, **params)
    except PluginNotFoundError as exc:
        scheme, colon, _ = model.partition(":")
        hint = ""
        if not colon:
            family = next(
                (s for prefixes, s in _MODEL_FAMILIES if model.lower().startswith(prefixes)), None
            )
            if family is not None:
                hint = f" Models are named SCHEME:MODEL: did you mean '{family}:{model}'?"
        if not hint:
            names = [info.name for info in available(PROVIDERS)]
            close = difflib.get_close_matches(scheme, names, n=1)
            if close:
                hint = f" Did you mean '{close[0]}'?"
        raise PluginNotFoundError(f"{exc}{hint}") from None


def _plugin(
    spec: AgentSpec, group: str, name: str, params: dict[str, Any], path: tuple[str | int, ...]
) -> Any:
    """Build the plugin `name` of `group` with `params`, checking the parameter names against
    its factory first (a misspelling gets a "did you mean")."""
    with _at(spec, path):
        factory = lookup(group, name)
    _check_params(spec, factory, name, params, path)
    with _at(spec, path):
        return factory(**params)


def _check_params(
    spec: AgentSpec, factory: Any, name: str, params: dict[str, Any], path: tuple[str | int, ...]
) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable: let the call report
        return
    accepted = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and not p.name.startswith("_")
    ]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in params:
        if key in accepted or takes_any:
            continue
        close = difflib.get_close_matches(key, accepted, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        known = (
            f" ('{name}' takes: {', '.join(accepted)})" if accepted else f" ('{name}' takes none)"
        )
        raise spec.error((*path, key), f"unknown parameter '{key}' for '{name}'{hint}{known}")
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name not in params
    ]
    if missing:
        raise spec.error(path, f"'{name}' needs the parameter(s): {', '.join(missing)}")


@contextmanager
def _at(spec: AgentSpec, path: tuple[str | int, ...], label: str | None = None) -> Iterator[None]:
    """Turn any failure inside the block into a `SpecError` at `path` (or at `label`, an
    option that overrode the spec)."""
    try:
        yield
    except SpecError:
        raise
    except PluginNotFoundError as exc:
        raise _error(spec, path, explain(exc), label) from None
    except Exception as exc:
        problem = explain(exc)
        if not isinstance(exc, ImportError) and not problem.startswith(type(exc).__name__):
            problem = f"{type(exc).__name__}: {problem}"
        raise _error(spec, path, problem, label) from None


def _error(
    spec: AgentSpec, path: tuple[str | int, ...], problem: str, label: str | None
) -> SpecError:
    if label is not None:
        return SpecError(label, problem)
    return spec.error(path, problem)


@contextmanager
def _spec_dir_importable(base: Path) -> Iterator[None]:
    entry = str(base)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _import(spec: AgentSpec, path: tuple[str | int, ...], module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise spec.error(
                path, f"cannot import '{module_name}': no module named '{exc.name}'"
            ) from None
        raise spec.error(path, f"importing '{module_name}' failed: {exc}") from None
    except Exception as exc:
        raise spec.error(
            path, f"importing '{module_name}' failed: {type(exc).__name__}: {exc}"
        ) from None


def _attribute(spec: AgentSpec, path: tuple[str | int, ...], target: str) -> Any:
    module_name, _, attr = target.partition(":")
    value: Any = _import(spec, path, module_name)
    for part in attr.split("."):
        if not hasattr(value, part):
            raise spec.error(path, f"'{module_name}' has no attribute '{attr}'")
        value = getattr(value, part)
    return value


def _load_tools(spec: AgentSpec, index: int, target: str) -> list[Tool]:
    path = ("tools", index, "python")
    if ":" not in target:
        module = _import(spec, path, target)
        found = [v for v in vars(module).values() if isinstance(v, Tool)]
        if not found:
            raise spec.error(path, f"module '{target}' defines no @tool functions")
        return found
    value = _attribute(spec, path, target)
    items = list(value) if isinstance(value, list | tuple) else [value]
    for item in items:
        if not isinstance(item, Tool):
            what = "function" if callable(item) else type(item).__name__
            raise spec.error(
                path,
                f"'{target}' is a {what}, not a Tool (decorate it with @tool from spine_core)",
            )
    return items


def _mcp_tools(spec: AgentSpec, index: int, ref: MCPServerRef | None) -> list[Tool]:
    """The tools of the MCP server of `tools[index].mcp` (connects now; needs spine-mcp)."""
    assert ref is not None
    path = ("tools", index, "mcp")
    try:
        from spine_mcp.spec import spec_tools
    except ImportError:
        raise spec.error(
            path, "MCP servers need spine-mcp: pip install spine-agents[mcp]"
        ) from None
    options = ref.model_dump(exclude_none=True)
    with _at(spec, path):
        return spec_tools(**options, base_dir=spec.base_dir)


def _output_type(spec: AgentSpec) -> Any:
    value = spec.output
    if isinstance(value, dict):
        return schema_output_type(value, name=f"{spec.name}_output")
    target = str(value)
    model = _attribute(spec, ("output",), target)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise spec.error(("output",), f"'{target}' is not a pydantic model class")
    return model


def build_checkpoint(spec: AgentSpec) -> tuple[CheckpointStore, StoreInfo]:
    """The checkpoint store `spec` names (SQLite at `.spine/state.db` when it names none)
    and where it lives. Building connects to nothing; a relative `path` resolves against the
    spec's folder, and a SQLite file's folder is created.

    Raises:
        SpecError: unknown store, bad parameters, or a folder that cannot be created.
    """
    if spec.checkpoint is None:
        name, params = default_checkpoint()
        where: tuple[str | int, ...] = ("checkpoint",)
    else:
        name, params = spec.checkpoint.name, dict(spec.checkpoint.params)
        where = ("checkpoint", name)
        if isinstance(params.get("path"), str) and params["path"] != ":memory:":
            params["path"] = str(spec.base_dir / params["path"])
    info = describe(name, params)
    if isinstance(params.get("path"), str) and params["path"] != ":memory:":
        folder = Path(params["path"]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create the folder {folder} of the {info}: {exc.strerror or exc}"
            raise spec.error(where, problem) from None
    store = _plugin(spec, CHECKPOINTS, name, params, where)
    if not isinstance(store, CheckpointStore):
        raise spec.error(where, f"'{name}' did not build a checkpoint store")
    return store, info


def _system(spec: AgentSpec, base: Path) -> str | None:
    if spec.system_file is None:
        return spec.system
    file = base / spec.system_file
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        problem = "file not found" if isinstance(exc, FileNotFoundError) else str(exc)
        raise spec.error(("system_file",), f"cannot read '{spec.system_file}': {problem}") from None
