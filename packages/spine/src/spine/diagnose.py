"""Exceptions as one line a user can act on: what went wrong and where (the store and its URL
or file, the session, the extra to install).

`explain` never raises; an exception it does not know becomes `Type: message`, and
`SPINE_DEBUG=1` makes the CLI print the traceback as well.
"""

from __future__ import annotations

import json
import re
import sqlite3
from functools import cache
from typing import TYPE_CHECKING

from pydantic import ValidationError

from spine_core import SpineError

from .errors import SpecError, format_path

if TYPE_CHECKING:
    from .stores import StoreInfo

__all__ = ["explain", "one_line", "umbrella_extras"]

UMBRELLA = "spine-agents"
"""The umbrella distribution: its extras pull in the first-party SDK-backed packages."""

_STATIC_EXTRAS = frozenset(
    {"anthropic", "openai", "google", "redis", "postgres", "pgvector", "eval", "orchestration"}
)
_PIP_HINT = re.compile(
    r"""pip install (["']?)spine(?:-agents|-providers|-backends)?\[([\w,-]+)\]\1"""
)


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


@cache
def _umbrella_extras() -> frozenset[str]:
    from importlib.metadata import PackageNotFoundError, metadata

    for dist in (UMBRELLA, "spine"):
        try:
            extras = metadata(dist).get_all("Provides-Extra") or []
        except PackageNotFoundError:
            continue
        return frozenset(extras) - {"all"}
    return _STATIC_EXTRAS


def umbrella_extras(text: str) -> str:
    """Point pip hints at the umbrella: `pip install "spine-providers[anthropic]"` becomes
    `pip install "spine-agents[anthropic]"` when the umbrella has that extra."""

    def swap(match: re.Match[str]) -> str:
        extras = match.group(2).split(",")
        if not all(e in _umbrella_extras() for e in extras):
            return match.group(0)
        return f'pip install "{UMBRELLA}[{match.group(2)}]"'

    return _PIP_HINT.sub(swap, text)


def _module(exc: BaseException) -> str:
    return type(exc).__module__.partition(".")[0]


def explain(
    exc: BaseException, *, store: StoreInfo | None = None, session: str | None = None
) -> str:
    """One line describing `exc`, naming `store` and `session` when they are involved."""
    return one_line(umbrella_extras(_explain(exc, store, session)))


def _explain(exc: BaseException, store: StoreInfo | None, session: str | None) -> str:
    if isinstance(exc, SpecError):
        return str(exc)
    where = str(store) if store is not None else "checkpoint store"
    about = f"session '{session}' in the {where}" if session else f"the {where}"
    found = _store_problem(exc, store, where)
    if found is not None:
        return found
    if isinstance(exc, ValidationError):
        return f"{about} is corrupt: {_first_validation_error(exc)}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{about} is corrupt: a stored row is not valid JSON ({exc.msg})"
    if isinstance(exc, ValueError) and "newer than this Spine" in str(exc):
        return f"{about} was written by a newer Spine: {exc}; upgrade {UMBRELLA} to read it"
    if isinstance(exc, SpineError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, ImportError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _store_problem(exc: BaseException, store: StoreInfo | None, where: str) -> str | None:
    """The store could not be reached, opened or written (None when `exc` is something
    else)."""
    kind = store.kind if store is not None else ""
    module = _module(exc)
    if module == "redis" and "Error" in type(exc).__name__:
        return f"cannot reach the {where}: {exc}"
    if module == "asyncpg":
        return f"the {where} refused the connection: {type(exc).__name__}: {exc}"
    if isinstance(exc, sqlite3.DatabaseError):
        text = str(exc)
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return (
                f"the {where} is corrupt ({text}): move the file aside or point the spec's "
                "checkpoint at another path"
            )
        if "unable to open" in text:
            return f"cannot open the {where}: {text} (does its folder exist and is it writable?)"
        if "readonly" in text:
            return f"cannot write to the {where}: {text}"
        return f"the {where} failed: {text}"
    if isinstance(exc, OSError) and kind in ("redis", "postgres"):
        reason = exc.strerror or str(exc)
        return f"cannot reach the {where}: {reason}"
    if isinstance(exc, OSError) and kind == "sqlite":
        target = f" ({exc.filename})" if exc.filename else ""
        return f"cannot open the {where}: {exc.strerror or exc}{target}"
    if isinstance(exc, TimeoutError) and kind in ("redis", "postgres"):
        return f"cannot reach the {where}: the connection timed out"
    return None


def _first_validation_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    at = format_path(tuple(p for p in first["loc"] if isinstance(p, str | int)))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{at}: {first['msg']}{more}" if at else f"{first['msg']}{more}"
