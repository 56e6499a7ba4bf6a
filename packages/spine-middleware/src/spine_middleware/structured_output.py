"""`StructuredOutput`: validate the final answer against a type, repairing it if needed."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from spine_core import (
    EventType,
    Message,
    Middleware,
    ModelResponse,
    OutputValidationError,
    Result,
    StepContext,
)

from ._util import import_object

__all__ = ["StructuredOutput"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class StructuredOutput(Middleware):
    """Make the final answer a valid JSON value of `model`; `Result.output` holds the value.

    The middleware form of `Agent(output_type=...)`, for agents configured from YAML. Before
    each call it asks the provider for native structured output (the `output_schema`
    setting). When a final answer does not validate, the validation errors and the schema are
    sent back to the same model as a repair request, up to `max_repairs` times within the
    step; the repair calls' usage is added to the step's. If no attempt validates, the run
    fails loudly with `OutputValidationError` (`StopReason.error`). A repair reply that calls
    tools is handed back to the loop, and validation resumes at the next final answer.

    List it last (innermost), so outer middleware such as `CostTracking` see the repaired
    response and its summed usage.

    Args:
        model: The type (pydantic model, dataclass, TypedDict, ...) or its import path
            ("package.module:Model").
        max_repairs: Repair requests per final answer.
        native: Send the `output_schema` setting to the provider.

    Raises:
        ImportError / AttributeError: `model` is a path that does not import.
        ValueError: `max_repairs` < 0.
    """

    def __init__(self, *, model: str | Any, max_repairs: int = 2, native: bool = True) -> None:
        if max_repairs < 0:
            raise ValueError("max_repairs must be >= 0")
        self.output_type: Any = import_object(model) if isinstance(model, str) else model
        self.adapter: TypeAdapter[Any] = TypeAdapter(self.output_type)
        self.schema = self.adapter.json_schema()
        self.name = str(getattr(self.output_type, "__name__", "output"))
        self.max_repairs = max_repairs
        self.native = native

    def parse(self, text: str) -> Any:
        """The validated value of `text` (JSON, optionally in a ``` fence).

        Raises:
            ValidationError: `text` is not a valid value.
        """
        match = _FENCE.match(text)
        return self.adapter.validate_json(match.group(1) if match else text)

    def repair_prompt(self, error: ValidationError) -> str:
        """The message asking the model to fix its answer."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        return (
            f"Your final answer is not a valid {self.name} ({problems}). Reply again with only "
            f"a JSON value matching this schema:\n{json.dumps(self.schema)}"
        )

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        if self.native:
            ctx.settings.setdefault("output_schema", {"name": self.name, "schema": self.schema})
        return None

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        if response.message.tool_calls:
            return None
        try:
            ctx.scratch["structured_output.value"] = self.parse(response.message.text)
            return None
        except ValidationError as exc:
            error = exc
        messages = [*ctx.messages, response.message]
        usage = response.usage.model_copy()
        for repair in range(1, self.max_repairs + 1):
            messages.append(Message.user(self.repair_prompt(error)))
            ctx.tracer.emit(
                EventType.MODEL_CALL,
                provider=ctx.provider.name,
                model=ctx.provider.model,
                attempt=ctx.attempt,
                repair=repair,
            )
            repaired = await ctx.provider.complete(messages, ctx.tools, **ctx.settings)
            usage.add(repaired.usage)
            if repaired.message.tool_calls:
                return repaired.model_copy(update={"usage": usage})
            try:
                ctx.scratch["structured_output.value"] = self.parse(repaired.message.text)
                return repaired.model_copy(update={"usage": usage})
            except ValidationError as exc:
                error = exc
                messages.append(repaired.message)
        first = error.errors(include_url=False)[0]["msg"]
        raise OutputValidationError(
            f"the final answer did not match {self.name} after {self.max_repairs} "
            f"repair attempts: {first}"
        )

    async def on_run_end(self, ctx: StepContext, result: Result) -> Result | None:
        if result.ok and "structured_output.value" in ctx.scratch:
            return result.model_copy(update={"output": ctx.scratch["structured_output.value"]})
        return None
