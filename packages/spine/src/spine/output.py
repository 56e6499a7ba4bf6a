"""Typed output from a spec's inline JSON schema: a type the kernel's `output_type` accepts.

The validator covers the JSON Schema keywords structured-output APIs use (type, properties,
required, additionalProperties, items, enum, const, anyOf / oneOf / allOf, minimum /
maximum, minLength / maxLength, minItems / maxItems, local `$ref`), per JSON Schema 2020-12.
"""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = ["schema_errors", "schema_output_type"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, object))


def schema_errors(
    value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, at: str = "$"
) -> list[str]:
    """The ways `value` fails `schema` (empty when it is valid), each as "PATH: problem"."""
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for key in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target[key]
        return schema_errors(value, target, root, at)
    problems: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            return [f"{at}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{at}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{at}: expected one of {schema['enum']!r}")
    for key in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(key)
        if branches:
            passing = sum(not schema_errors(value, b, root, at) for b in branches)
            if key == "allOf" and passing < len(branches):
                problems.append(f"{at}: does not match all of the allOf schemas")
            if key == "anyOf" and passing == 0:
                problems.append(f"{at}: matches none of the anyOf schemas")
            if key == "oneOf" and passing != 1:
                problems.append(f"{at}: matches {passing} of the oneOf schemas (expected 1)")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{at}: missing required property '{name}'")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                problems += schema_errors(item, props[name], root, f"{at}.{name}")
            elif extra is False:
                problems.append(f"{at}: unexpected property '{name}'")
            elif isinstance(extra, dict):
                problems += schema_errors(item, extra, root, f"{at}.{name}")
    elif isinstance(value, list):
        if "items" in schema and isinstance(schema["items"], dict):
            for i, item in enumerate(value):
                problems += schema_errors(item, schema["items"], root, f"{at}[{i}]")
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{at}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{at}: more than {schema['maxItems']} items")
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{at}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{at}: longer than {schema['maxLength']} characters")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{at}: less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{at}: more than the maximum {schema['maximum']}")
    return problems


def schema_output_type(schema: dict[str, Any], name: str = "output") -> type:
    """A type whose values are JSON values valid for `schema`, usable as `Agent(output_type=)`:
    its JSON schema is `schema` itself, and validation failures trigger the kernel's repair
    loop."""

    def check(value: Any) -> Any:
        problems = schema_errors(value, schema)
        if problems:
            raise ValueError("; ".join(problems[:3]))
        return value

    class SchemaOutput:
        @classmethod
        def __get_pydantic_core_schema__(
            cls, source: Any, handler: GetCoreSchemaHandler
        ) -> CoreSchema:
            return core_schema.no_info_after_validator_function(check, core_schema.any_schema())

        @classmethod
        def __get_pydantic_json_schema__(
            cls, core: CoreSchema, handler: GetJsonSchemaHandler
        ) -> JsonSchemaValue:
            return dict(schema)

    SchemaOutput.__name__ = SchemaOutput.__qualname__ = name
    return SchemaOutput
