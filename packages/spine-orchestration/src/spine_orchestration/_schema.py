"""A graph's typed state: its fields, their validators and reducers, and how updates merge."""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin, get_type_hints, is_typeddict

from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import GraphError
from .reducers import Reducer, append, last_write

_MISSING = object()


def _is_reducer(meta: Any) -> bool:
    return isinstance(meta, types.FunctionType | types.BuiltinFunctionType | functools.partial)


def _reducer_name(reducer: Reducer) -> str:
    return getattr(reducer, "__name__", repr(reducer))


class Schema:
    """The state type of a graph (a pydantic model or a TypedDict), introspected once.

    Attributes:
        type: The state type.
        fields: Field names, in declaration order.
        reducers: Field name -> reducer, for fields that have one (others: last-write-wins).
        problems: What is wrong with the declarations (reported by `Graph.compile`).
    """

    __slots__ = ("_adapters", "fields", "is_model", "problems", "reducers", "type")

    def __init__(self, state: type[Any], reducers: Mapping[str, Reducer] | None = None) -> None:
        self.is_model = isinstance(state, type) and issubclass(state, BaseModel)
        if not self.is_model and not is_typeddict(state):
            raise TypeError(
                f"a graph's state must be a pydantic model or a TypedDict, not {state!r}"
            )
        self.type = state
        if self.is_model:  # pydantic resolved the annotations (local classes too)
            annotations = {
                name: Annotated[(info.annotation, *info.metadata)]
                if info.metadata
                else info.annotation
                for name, info in state.model_fields.items()
            }
        else:
            annotations = get_type_hints(state, include_extras=True)
        names = list(annotations)
        self.fields: tuple[str, ...] = tuple(names)
        self.reducers: dict[str, Reducer] = {}
        self.problems: list[str] = []
        self._adapters: dict[str, TypeAdapter[Any]] = {}
        overrides = dict(reducers or {})
        for name in sorted(set(overrides) - set(names)):
            self.problems.append(f"reducers= names '{name}', which {state.__name__} does not have")
        for name in names:
            base, found = _split(annotations[name])
            given = overrides.get(name)
            if given is not None:
                found = [*found, given]
            distinct = list({id(r): r for r in found}.values())
            if len(distinct) > 1:
                listed = " and ".join(_reducer_name(r) for r in distinct)
                self.problems.append(f"reducer conflict on field '{name}': {listed}")
            reducer = distinct[0] if distinct else None
            if reducer is append and not _is_list(base):
                self.problems.append(
                    f"reducer conflict on field '{name}': append needs a list field, not {base!r}"
                )
            if reducer is not None and reducer is not last_write:
                self.reducers[name] = reducer
            self._adapters[name] = TypeAdapter(base)

    def initial(self, input: Any) -> dict[str, Any]:
        """The state values of a new run from its input (a mapping, or a state instance).

        Raises:
            GraphError: an unknown field, or a value that does not validate.
        """
        if self.is_model:
            if isinstance(input, self.type):
                return dict(input.__dict__)
            try:
                model = self.type.model_validate(dict(_mapping(input, "the input")))
            except ValidationError as exc:
                raise GraphError(f"invalid graph input: {_describe(exc)}") from None
            return dict(model.__dict__)
        return self.update("the input", input)

    def update(self, source: str, update: Any) -> dict[str, Any]:
        """`update` (from node `source`) validated field by field.

        Raises:
            GraphError: not a mapping, an unknown field, or a value that does not validate.
        """
        if self.is_model and isinstance(update, self.type):
            update = {name: getattr(update, name) for name in update.model_fields_set}
        checked: dict[str, Any] = {}
        for name, value in _mapping(update, source).items():
            adapter = self._adapters.get(name)
            if adapter is None:
                known = ", ".join(self.fields)
                raise GraphError(f"{source} wrote unknown field '{name}' (fields: {known})")
            try:
                checked[name] = adapter.validate_python(value)
            except ValidationError as exc:
                raise GraphError(f"{source} wrote an invalid '{name}': {_describe(exc)}") from None
        return checked

    def merge(
        self, values: dict[str, Any], writes: list[tuple[str, dict[str, Any]]]
    ) -> dict[str, Any]:
        """New state values: `writes` ((node, update) in node order) applied to `values`.

        Raises:
            GraphError: two writes to one last-write-wins field.
        """
        merged = dict(values)
        writer: dict[str, str] = {}
        for node, update in writes:
            for name, value in update.items():
                reducer = self.reducers.get(name)
                if reducer is not None:
                    current = merged.get(name, _MISSING)
                    merged[name] = reducer(None if current is _MISSING else current, value)
                    continue
                if name in writer:
                    raise GraphError(
                        f"nodes '{writer[name]}' and '{node}' both wrote '{name}' in one step; "
                        f"'{name}' is last-write-wins, so give it a reducer "
                        "(e.g. Annotated[list[...], append]) or write it from one node"
                    )
                writer[name] = node
                merged[name] = value
        return merged

    def view(self, values: dict[str, Any]) -> Any:
        """What a node sees: a model instance (not re-validated) or a dict copy."""
        if self.is_model:
            return self.type.model_construct(**values)
        return dict(values)

    def values_of(self, view: Any) -> dict[str, Any]:
        """The field values of a state object (the inverse of `view`)."""
        return dict(view.__dict__) if self.is_model else dict(view)

    def dump(self, update: dict[str, Any]) -> dict[str, Any]:
        """`update` as JSON-ready data."""
        return {k: self._adapters[k].dump_python(v, mode="json") for k, v in update.items()}

    def load(self, data: dict[str, Any]) -> dict[str, Any]:
        """The inverse of `dump` (values validated again)."""
        return {k: self._adapters[k].validate_python(v) for k, v in data.items()}


def _split(annotation: Any) -> tuple[Any, list[Reducer]]:
    """(the annotation without reducer metadata, the reducers in its metadata)."""
    if get_origin(annotation) is not Annotated:
        return annotation, []
    base, *metadata = get_args(annotation)
    reducers = [m for m in metadata if _is_reducer(m)]
    others = [m for m in metadata if not _is_reducer(m)]
    if others:
        base = Annotated[base, *others]
    return base, reducers


def _is_list(annotation: Any) -> bool:
    target = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    return target is list or get_origin(target) is list


def _mapping(value: Any, source: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise GraphError(
            f"{source} gave {type(value).__name__}, not a mapping of state fields to values"
        )
    return value


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )
