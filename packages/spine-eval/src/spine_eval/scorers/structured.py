"""Scorers on the typed output: `JSONSchema` (validates it) and `StructuredMatch` (compares
fields with the expected value)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from spine_core import Result

from ..dataset import Case
from ..scoring import Score

__all__ = ["JSONSchema", "StructuredMatch", "schema_errors", "structured_output"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)
_MISSING = object()


def structured_output(result: Result) -> Any:
    """The run's structured output as JSON-ready data.

    `Result.output` when the agent has an `output_type` (pydantic models and dataclasses are
    dumped to dicts), else the answer parsed as JSON (a ```json fence is allowed).

    Raises:
        ValueError: there is no typed output and the answer is not JSON.
    """
    output = result.output
    if output is None:
        text = (result.answer or "").strip()
        fenced = _FENCE.search(text)
        try:
            return json.loads(fenced.group(1) if fenced else text)
        except json.JSONDecodeError:
            raise ValueError("the run has no typed output and the answer is not JSON") from None
    if isinstance(output, BaseModel):
        return output.model_dump(mode="json")
    if dataclasses.is_dataclass(output) and not isinstance(output, type):
        return dataclasses.asdict(output)
    return output


def _validator(schema: dict[str, Any]) -> Any:
    """A `jsonschema` validator for `schema` (its `$schema` dialect, else Draft 2020-12).

    Raises:
        jsonschema.SchemaError: `schema` is not a valid JSON Schema.
    """
    import jsonschema  # type: ignore[import-untyped]  # no stubs shipped

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of `schema` by `value` as "path: message" ("$" is the root), in the
    order the `jsonschema` library reports them (the validator for the schema's `$schema`
    dialect, Draft 2020-12 when it names none; `format` is checked as an assertion).

    Raises:
        jsonschema.SchemaError: `schema` is not a valid JSON Schema.
    """
    found = sorted(
        _validator(schema).iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]
    )
    return [
        "$"
        + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        + f": {e.message}"
        for e in found
    ]


class JSONSchema:
    """The structured output validates against a JSON Schema, checked with the `jsonschema`
    library (every keyword of the schema's dialect; Draft 2020-12 by default).

    Args:
        schema: A JSON Schema, or a Python type (pydantic model, dataclass, TypedDict) whose
            schema (`pydantic.TypeAdapter.json_schema`) is used. Default: the case's
            `expected` when it is a mapping.

    Raises:
        jsonschema.SchemaError: the given schema is not a valid JSON Schema.
    """

    name = "json_schema"

    def __init__(self, schema: dict[str, Any] | type | None = None) -> None:
        if schema is not None and not isinstance(schema, dict):
            schema = TypeAdapter(schema).json_schema()
        if schema is not None:
            _validator(schema)  # an invalid schema fails here, not on every case
        self.schema = schema

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        schema = self.schema if self.schema is not None else case.expected
        if not isinstance(schema, dict):
            raise ValueError(f"json_schema: no schema given and case '{case.id}' has none")
        try:
            value = structured_output(result)
        except ValueError as exc:
            return Score(name=self.name, value=0.0, passed=False, detail=str(exc))
        errors = schema_errors(value, schema)
        reason = "output is valid" if not errors else "; ".join(errors[:3])
        return Score(name=self.name, value=float(not errors), passed=not errors, detail=reason)


class StructuredMatch:
    """Fields of the structured output equal the expected ones.

    Args:
        expected: The expected value (a mapping, compared field by field, nested mappings by
            dotted path); default the case's `expected`.
        fields: Dotted paths to compare (default: every leaf of `expected`).
        tolerance: Absolute tolerance for numbers (default 0: exact).
        threshold: Fraction of fields that must match to pass (default 1.0).

    The value is the fraction of compared fields that match.
    """

    name = "structured_match"

    def __init__(
        self,
        expected: dict[str, Any] | None = None,
        *,
        fields: list[str] | None = None,
        tolerance: float = 0.0,
        threshold: float = 1.0,
    ) -> None:
        self.expected = expected
        self.fields = fields
        self.tolerance = tolerance
        self.threshold = threshold

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        expected = self.expected if self.expected is not None else case.expected
        if not isinstance(expected, dict):
            raise ValueError(f"structured_match: case '{case.id}' needs a mapping 'expected'")
        try:
            actual = structured_output(result)
        except ValueError as exc:
            return Score(name=self.name, value=0.0, passed=False, detail=str(exc))
        paths = self.fields or list(_leaves(expected))
        wrong = []
        for path in paths:
            want, got = _get(expected, path), _get(actual, path)
            if not self._equal(want, got):
                shown = "(missing)" if got is _MISSING else repr(got)
                wrong.append(f"{path}: expected {want!r}, got {shown}")
        value = (len(paths) - len(wrong)) / len(paths) if paths else 1.0
        reason = f"{len(paths) - len(wrong)}/{len(paths)} fields match"
        if wrong:
            reason += "; " + "; ".join(wrong[:3])
        return Score(name=self.name, value=value, passed=value >= self.threshold, detail=reason)

    def _equal(self, want: Any, got: Any) -> bool:
        numbers = (int, float)
        if isinstance(want, numbers) and isinstance(got, numbers) and not isinstance(got, bool):
            return math.isclose(want, got, rel_tol=0.0, abs_tol=self.tolerance)
        return bool(want == got)


def _leaves(data: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(_leaves(value, path + "."))
        else:
            paths.append(path)
    return paths


def _get(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data
