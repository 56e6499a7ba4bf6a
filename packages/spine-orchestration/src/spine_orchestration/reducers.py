"""Reducers: how the updates that nodes write to one state field are combined.

Declare one per field with `typing.Annotated` (``notes: Annotated[list[str], append]``) or
`Graph(..., reducers={"notes": append})`. A field without one is last-write-wins: a later
step overwrites it, and two nodes of the same step writing it is an error (the result would
depend on which finished first). Any function `(current, update) -> new` is a reducer
(`operator.add` too); it is applied in node order within a step, so the merge never depends
on timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Reducer", "append", "last_write"]

Reducer = Callable[[Any, Any], Any]


def append(current: list[Any] | None, update: list[Any]) -> list[Any]:
    """Append the update's items (a list) to the field's list (a new list; the old one is
    left as it was)."""
    return [*(current or ()), *update]


def last_write(current: Any, update: Any) -> Any:
    """Last-write-wins (the default): the update replaces the value."""
    del current
    return update
