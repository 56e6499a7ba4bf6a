"""A JSON Schema validator for the keywords structured outputs use (no extra dependency).

Supported (JSON Schema 2020-12 semantics): type (incl. lists of types), enum, const,
properties, required, additionalProperties (bool or schema), items (schema), prefixItems,
minItems, maxItems, uniqueItems, minLength, maxLength, pattern, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, multipleOf, anyOf, oneOf, allOf, not, local `$ref`
(`#/$defs/...`, `#/definitions/...`). Other keywords (format, ...) are ignored, as the
specification allows for annotations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = _TYPES.get(kind)
    return expected is not None and isinstance(value, expected)


def validate(value: Any, schema: dict[str, Any] | bool) -> list[str]:
    """Every violation of `schema` by `value`, as "path: problem" strings ([] when valid)."""
    errors: list[str] = []
    _check(value, schema, schema if isinstance(schema, dict) else {}, "$", errors)
    return errors


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    target: Any = root
    for key in ref.lstrip("#").strip("/").split("/"):
        if key:
            target = target[key.replace("~1", "/").replace("~0", "~")]
    return target


def _check(value: Any, schema: Any, root: dict[str, Any], path: str, errors: list[str]) -> None:
    if schema is True or schema == {}:
        return
    if schema is False:
        errors.append(f"{path}: no value is allowed here")
        return
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, path, errors)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            errors.append(f"{path}: expected {' or '.join(kinds)}, got {type(value).__name__}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    _combinators(value, schema, root, path, errors)
    if isinstance(value, dict):
        _object(value, schema, root, path, errors)
    elif isinstance(value, list):
        _array(value, schema, root, path, errors)
    elif isinstance(value, str):
        _string(value, schema, path, errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _number(value, schema, path, errors)


def _combinators(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, errors: list[str]
) -> None:
    for sub in schema.get("allOf", []):
        _check(value, sub, root, path, errors)
    if "anyOf" in schema and not any(not validate_in(value, s, root) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        hits = sum(1 for s in schema["oneOf"] if not validate_in(value, s, root))
        if hits != 1:
            errors.append(f"{path}: matches {hits} of oneOf (exactly 1 required)")
    if "not" in schema and not validate_in(value, schema["not"], root):
        errors.append(f"{path}: must not match the 'not' schema")


def validate_in(value: Any, schema: Any, root: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    _check(value, schema, root, "$", errors)
    return errors


def _object(
    value: dict[str, Any],
    schema: dict[str, Any],
    root: dict[str, Any],
    path: str,
    errors: list[str],
) -> None:
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            errors.append(f"{path}: missing required property '{name}'")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in props:
            _check(item, props[name], root, f"{path}.{name}", errors)
        elif extra is False:
            errors.append(f"{path}: unexpected property '{name}'")
        elif isinstance(extra, dict):
            _check(item, extra, root, f"{path}.{name}", errors)


def _array(
    value: list[Any], schema: dict[str, Any], root: dict[str, Any], path: str, errors: list[str]
) -> None:
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items")
        if sub is not None:
            _check(item, sub, root, f"{path}[{i}]", errors)
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        errors.append(f"{path}: items are not unique")


def _string(value: str, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: does not match /{schema['pattern']}/")


def _number(value: float, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    checks: tuple[tuple[str, Callable[[float], bool], str], ...] = (
        ("minimum", lambda b: value < b, "below"),
        ("maximum", lambda b: value > b, "above"),
        ("exclusiveMinimum", lambda b: value <= b, "not above"),
        ("exclusiveMaximum", lambda b: value >= b, "not below"),
    )
    for key, fails, word in checks:
        if key in schema and fails(schema[key]):
            errors.append(f"{path}: {value} is {word} {key} {schema[key]}")
    step = schema.get("multipleOf")
    if step and abs(value / step - round(value / step)) > 1e-9:
        errors.append(f"{path}: {value} is not a multiple of {step}")
