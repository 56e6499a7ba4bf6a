"""Typed output: the schema sent to the provider and validation of the final answer."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class OutputSpec:
    """How an agent's `output_type` is requested and checked."""

    __slots__ = ("adapter", "max_repairs", "name", "schema")

    def __init__(self, output_type: Any, max_repairs: int) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(output_type)
        self.schema = self.adapter.json_schema()
        self.name = str(getattr(output_type, "__name__", "output"))
        self.max_repairs = max_repairs

    def settings(self) -> dict[str, Any]:
        return {"output_schema": {"name": self.name, "schema": self.schema}}

    def parse(self, text: str) -> Any:
        """Validate the answer text (JSON, optionally in a ``` fence).

        Raises:
            ValidationError: the text is not a valid value of the output type.
        """
        match = _FENCE.match(text)
        return self.adapter.validate_json(match.group(1) if match else text)

    def repair_prompt(self, error: ValidationError) -> str:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        return (
            "Your final answer does not match the required output schema "
            f"({problems}). Reply again with only a JSON value matching this schema:\n"
            + json.dumps(self.schema)
        )
