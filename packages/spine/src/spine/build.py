"""From a validated `AgentSpec` to a running `Agent`: imports, registry lookups, defaults.

Every failure is re-raised as a `SpecError` that points at the spec key responsible.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from spine_core import Agent, CheckpointStore, Guards, PluginNotFoundError, Tool, available
from spine_core import resolve as resolve_plugin
from spine_core.registry import CHECKPOINTS, MIDDLEWARE, resolve_provider

from .errors import SpecError
from .output import schema_output_type
from .spec import AgentSpec

__all__ = ["DEFAULT_STATE_DB", "build_agent", "default_checkpoint"]

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
            provider = resolve_provider(model or spec.model)
        tools = [_load_tools(spec, i, ref.python) for i, ref in enumerate(spec.tools)]
        middleware = []
        for i, ref in enumerate(spec.middleware):
            with _at(spec, ("middleware", i, ref.name)):
                middleware.append(resolve_plugin(MIDDLEWARE, ref.name, **ref.params))
        output_type = _output_type(spec) if spec.output is not None else None
    store = checkpoint if checkpoint is not None else _checkpoint(spec, base)
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


@contextmanager
def _at(spec: AgentSpec, path: tuple[str | int, ...], label: str | None = None) -> Iterator[None]:
    """Turn any failure inside the block into a `SpecError` at `path` (or at `label`, an
    option that overrode the spec)."""
    try:
        yield
    except SpecError:
        raise
    except PluginNotFoundError as exc:
        raise _error(spec, path, str(exc), label) from None
    except Exception as exc:
        raise _error(spec, path, f"{type(exc).__name__}: {exc}", label) from None


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


def _output_type(spec: AgentSpec) -> Any:
    value = spec.output
    if isinstance(value, dict):
        return schema_output_type(value, name=f"{spec.name}_output")
    target = str(value)
    model = _attribute(spec, ("output",), target)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise spec.error(("output",), f"'{target}' is not a pydantic model class")
    return model


def _checkpoint(spec: AgentSpec, base: Path) -> CheckpointStore:
    if spec.checkpoint is None:
        name, params = default_checkpoint()
        where: tuple[str | int, ...] = ("checkpoint",)
    else:
        name, params = spec.checkpoint.name, dict(spec.checkpoint.params)
        where = ("checkpoint", name)
        if isinstance(params.get("path"), str) and params["path"] != ":memory:":
            params["path"] = str(base / params["path"])
    if isinstance(params.get("path"), str) and params["path"] != ":memory:":
        Path(params["path"]).parent.mkdir(parents=True, exist_ok=True)
    with _at(spec, where):
        store = resolve_plugin(CHECKPOINTS, name, **params)
    if not isinstance(store, CheckpointStore):
        raise spec.error(where, f"'{name}' did not build a checkpoint store")
    return store


def _system(spec: AgentSpec, base: Path) -> str | None:
    if spec.system_file is None:
        return spec.system
    file = base / spec.system_file
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        problem = "file not found" if isinstance(exc, FileNotFoundError) else str(exc)
        raise spec.error(("system_file",), f"cannot read '{spec.system_file}': {problem}") from None
