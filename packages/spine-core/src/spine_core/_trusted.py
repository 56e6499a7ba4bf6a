"""Building pydantic model instances from values the kernel already knows are valid.

Validation happens once, where data enters (a provider's JSON, a store's decode, tool
arguments). Objects the loop builds from values of the exact field types skip it: `trusted`
fills the instance's slots directly, which costs a fraction of a validation. Callers check the
exact types first and fall back to the validating constructor for anything else.
"""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["assign", "fill", "keyword_signature", "trusted"]

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_slots = BaseModel.__dict__
_set_dict = _slots["__dict__"].__set__
_set_fields_set = _slots["__pydantic_fields_set__"].__set__
_set_extra = _slots["__pydantic_extra__"].__set__
_set_private = _slots["__pydantic_private__"].__set__


def trusted(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """An instance of `cls` holding `values` (every field, in declaration order) unvalidated.

    `fields_set` names the fields the caller gave explicitly (what `model_dump(exclude_unset=
    True)` keeps). Only for models without private attributes or extra fields.
    """
    obj = _new(cls)
    _set_dict(obj, values)
    _set_fields_set(obj, fields_set)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def fill(obj: BaseModel, values: dict[str, Any], fields_set: set[str]) -> None:
    """Fill a freshly allocated `obj` (inside its `__init__`) as `trusted` does."""
    _set_dict(obj, values)
    _set_fields_set(obj, fields_set)
    _set_extra(obj, None)
    _set_private(obj, None)


def assign(obj: BaseModel, values: dict[str, Any]) -> None:
    """Set fields of `obj` to values of their exact field types, as plain attribute
    assignment on a model without `validate_assignment` does, in one step."""
    obj.__dict__.update(values)
    obj.__pydantic_fields_set__.update(values)


def keyword_signature(cls: type[BaseModel]) -> inspect.Signature:
    """`cls(field=..., ...)` as `inspect.signature` should show it: one keyword parameter per
    field, with its annotation and default, for a model whose fast `__init__` takes the
    fields as parameters defaulting to a "not given" marker."""
    params = []
    for name, info in cls.model_fields.items():
        default = (
            inspect.Parameter.empty
            if info.is_required()
            else info.get_default(call_default_factory=True)
        )
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=info.annotation
            )
        )
    return inspect.Signature(params, return_annotation=None)
