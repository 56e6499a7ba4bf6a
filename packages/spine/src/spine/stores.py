"""Checkpoint stores as the CLI meets them: where each one lives (for error messages), opening
the store a spec or a `--store URL` names, and closing it.

A store's label names its kind and location with any password hidden, e.g. `sqlite store
.spine/state.db`, `redis store redis://127.0.0.1:6379/0`, `postgres store
postgresql://app:***@db:5432/app`.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from spine_core import CheckpointStore, lookup, resolve
from spine_core.registry import CHECKPOINTS

from .errors import SpecError

__all__ = ["StoreInfo", "close_store", "describe", "open_url", "show_path"]

_LOCATION_PARAMS = ("path", "url", "dsn", "uri", "host")


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """Which checkpoint store a command uses.

    Attributes:
        kind: The registered name (`sqlite`, `redis`, `postgres`, `memory`, ...).
        location: Its file or URL (password hidden), "" when unknown.
    """

    kind: str
    location: str = ""

    def __str__(self) -> str:
        if self.kind == "memory":
            return "memory store (this process only)"
        return f"{self.kind} store {self.location}" if self.location else f"{self.kind} store"


def show_path(path: str | Path) -> str:
    """`path` relative to the working directory when it lies under it, else absolute."""
    if str(path) == ":memory:":
        return ":memory:"
    full = Path(path).resolve()
    try:
        return str(full.relative_to(Path.cwd()))
    except ValueError:
        return str(full)


def hide_password(url: str) -> str:
    """`url` with the password of its user info replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def describe(name: str, params: dict[str, Any]) -> StoreInfo:
    """The `StoreInfo` of the store `name` built with `params` (defaults of the factory's
    signature fill in what `params` leaves out)."""
    values = dict(_defaults(name))
    values.update(params)
    for key in _LOCATION_PARAMS:
        value = values.get(key)
        if isinstance(value, str | os.PathLike) and str(value):
            text = str(value)
            where = show_path(text) if key == "path" else hide_password(text)
            return StoreInfo(name, where)
    return StoreInfo(name)


def _defaults(name: str) -> dict[str, Any]:
    try:
        signature = inspect.signature(lookup(CHECKPOINTS, name))
    except (LookupError, TypeError, ValueError):
        return {}
    return {
        p.name: p.default
        for p in signature.parameters.values()
        if p.default is not inspect.Parameter.empty
    }


def open_url(url: str) -> tuple[CheckpointStore, StoreInfo]:
    """The store a `--store` value names: `redis://`, `rediss://` or `unix://` (Redis),
    `postgres://` or `postgresql://` (PostgreSQL), `sqlite:///PATH` or a file path (SQLite).

    Raises:
        SpecError: an unknown scheme, or the store cannot be built (e.g. its extra is not
            installed).
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        name, params = "redis", {"url": url}
    elif scheme in ("postgres", "postgresql"):
        name, params = "postgres", {"dsn": url}
    elif scheme in ("sqlite", ""):
        path = url.removeprefix("sqlite://") if scheme else url
        name, params = "sqlite", {"path": path}
    else:
        raise SpecError(
            "--store",
            f"unknown store URL scheme '{scheme}://' (use redis://, postgresql://, "
            "sqlite:///PATH or a file path)",
        )
    info = describe(name, params)
    if name == "sqlite" and not Path(params["path"]).is_file():
        raise SpecError("--store", f"no SQLite database at {info.location}")
    try:
        store = resolve(CHECKPOINTS, name, **params)
    except Exception as exc:
        from .diagnose import explain

        raise SpecError("--store", explain(exc)) from None
    return store, info


async def close_store(store: Any) -> None:
    """Close the store's connections when it has an `aclose()`."""
    close = getattr(store, "aclose", None)
    if close is not None:
        await close()
