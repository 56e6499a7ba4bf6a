"""`StructuredOutput`: validate the final answer against a type, repairing it if needed."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from spine_core import (
    Message,
    Middleware,
    OutputValidationError,
    Result,
    State,
    StepContext,
)

from ._util import import_object

__all__ = ["StructuredOutput"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


class StructuredOutput(Middleware):
    """Validate the final answer against a schema, repairing on failure.

    The middleware form of `Agent(output_type=...)` (usable from YAML specs). Before each
    call it asks the provider for native structured output (the `output_schema` setting,
    unless `native=False`). A final answer (a response without tool calls) is parsed as JSON
    - also inside a ``` fence or surrounded by prose - and validated. On an invalid answer
    the validation errors and the schema are fed back to the model as a new user turn (added
    to the stored history), capped at `max_repairs` per run, via `ctx.force_continue`: each
    repair is a real step, so it passes through every middleware and counts against the
    guards. On success the parsed value is stashed in `state.scratch[key]` (as JSON-ready
    data) and `Result.output` holds the typed value. When repairs are exhausted the run fails
    loudly: `OutputValidationError`, `StopReason.error`.

    Per-run data (the repair count, the pending error) lives in `ctx.extra`; the stash is
    cleared at the start of each run, so `Result.output` never shows an earlier run's value.

    Args:
        schema: The type (pydantic model, dataclass, TypedDict, ...) or its import path
            ("package.module:Model").
        max_repairs: Repair requests per run (>= 0).
        key: The `state.scratch` key of the parsed value.
        model: Alias of `schema` (Spine's earlier name).
        native: Send the `output_schema` setting to the provider.

    Raises:
        ImportError / AttributeError: `schema` is a path that does not import.
        ValueError: no schema, or `max_repairs` < 0.
    """

    def __init__(
        self,
        schema: Any = None,
        *,
        max_repairs: int = 2,
        key: str = "structured_output",
        model: Any = None,
        native: bool = True,
    ) -> None:
        target = schema if schema is not None else model
        if target is None:
            raise ValueError("StructuredOutput needs a schema")
        if max_repairs < 0:
            raise ValueError("max_repairs must be >= 0")
        self.schema: Any = import_object(target) if isinstance(target, str) else target
        self.adapter: TypeAdapter[Any] = TypeAdapter(self.schema)
        self.json_schema: dict[str, Any] = self.adapter.json_schema()
        self.name = str(getattr(self.schema, "__name__", "output"))
        self.max_repairs = max_repairs
        self.key = key
        self.native = native
        self._slot = f"structured_output.{id(self)}"  # per-run: repairs, pending error

    def parse(self, text: str) -> Any:
        """The validated value of `text`: JSON, optionally in a ``` fence or with prose
        around one JSON object or array.

        Raises:
            ValidationError: `text` is not a valid value.
        """
        try:
            return self.adapter.validate_json(text)
        except ValidationError as exc:
            error = exc
        for candidate in _candidates(text):
            try:
                return self.adapter.validate_json(candidate)
            except ValidationError:
                continue
        raise error

    def repair_prompt(self, error: ValidationError) -> str:
        """The message asking the model to fix its answer."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        return (
            f"Your previous reply was not valid for the required schema '{self.name}' "
            f"({problems}). Reply with ONLY the corrected JSON value matching this schema:\n"
            f"{json.dumps(self.json_schema)}"
        )

    def _run(self, ctx: StepContext[Any]) -> dict[str, Any]:
        memory: dict[str, Any] = ctx.extra.setdefault(self._slot, {"repairs": 0, "pending": None})
        return memory

    async def on_run_start(self, state: State) -> None:
        state.scratch.pop(self.key, None)

    async def before_model(self, ctx: StepContext[Any]) -> None:
        if self.native:
            ctx.settings.setdefault(
                "output_schema", {"name": self.name, "schema": self.json_schema}
            )
        memory = self._run(ctx)
        pending = memory["pending"]
        if pending is None:
            return
        memory["pending"] = None
        request = Message.user(pending)
        ctx.state.add_message(request)
        if ctx.messages is not ctx.state.messages:  # an outer middleware rewrote the request
            ctx.messages.append(request)

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if ctx.response is None or ctx.response.message.tool_calls:
            return  # only police final answers, not tool-using turns
        memory = self._run(ctx)
        try:
            value = self.parse(ctx.response.message.text)
        except ValidationError as exc:
            repairs = memory["repairs"]
            if repairs >= self.max_repairs:
                first = exc.errors(include_url=False)[0]["msg"]
                raise OutputValidationError(
                    f"the final answer did not match {self.name} after {repairs} "
                    f"repair attempts: {first}"
                ) from exc
            memory["repairs"] = repairs + 1
            memory["pending"] = self.repair_prompt(exc)
            ctx.force_continue = True
            return
        ctx.state.scratch[self.key] = self.adapter.dump_python(value, mode="json")

    async def on_run_end(self, state: State, result: Result) -> Result | None:
        if not result.ok or self.key not in state.scratch:
            return None
        value = self.adapter.validate_json(json.dumps(state.scratch[self.key]))
        return result.model_copy(update={"output": value})


def _candidates(text: str) -> list[str]:
    """Substrings of `text` that may hold the JSON value: fenced blocks, then the span from
    the first opening bracket to the last matching closing one."""
    found = [m.group(1) for m in _FENCE.finditer(text)]
    for opening, closing in (("{", "}"), ("[", "]")):
        start, end = text.find(opening), text.rfind(closing)
        if 0 <= start < end:
            found.append(text[start : end + 1])
    return found
