"""The durable boundary: each model call and each tool call of a run is one DBOS step.

The kernel's loop runs unchanged inside the workflow. Only the two places where it reaches
the outside world are wrapped: the provider (`_StepProvider.complete`) and each tool
(`_StepTool.call`). A step's outcome is recorded in the DBOS system database as JSON-ready
data, so a replay after a crash feeds the loop the recorded responses and tool results and
the loop takes the same path again without calling the model or the tool.

Step names are stable: `spine.model` for every model call and `spine.tool:<tool name>` for
every tool call; DBOS checks them on replay, so a code change that reorders the loop fails
loudly (`DBOSUnexpectedStepError`) instead of feeding a step another step's output.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dbos import DBOS

from spine_core import (
    Interrupt,
    Message,
    Middleware,
    ModelResponse,
    ProviderError,
    StepContext,
    Tool,
    ToolContext,
    ToolValidationError,
)
from spine_core.provider import ChunkType, provider_model, provider_name
from spine_core.tools import tool_output_text

__all__ = ["MODEL_STEP", "TOOL_STEP_PREFIX", "StepMiddleware", "StepProvider", "StepTool"]

MODEL_STEP = "spine.model"
"""The DBOS step name of every model call."""

TOOL_STEP_PREFIX = "spine.tool:"
"""The DBOS step name of a tool call is this prefix plus the tool's name."""


class StepProvider:
    """A provider whose every `complete` call is one DBOS step (name `spine.model`).

    The wrapped provider's response is recorded as JSON (`ModelResponse.model_dump`); its
    `ProviderError`s are recorded too and raised again on replay with the same kind, status
    and retry hints, so retry and fallback middleware decide the same way. A streaming-only
    provider is consumed to its final response inside the step (no token events).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = provider_name(inner)
        self.model = provider_model(inner)

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        inner = self.inner

        async def call() -> dict[str, Any]:
            try:
                response = await _complete(inner, messages, tools, settings)
            except ProviderError as exc:
                return {"provider_error": exc.to_dict()}
            except Exception as exc:
                return {"error": f"{type(exc).__name__}: {exc}"}
            return {"response": response.model_dump(mode="json")}

        outcome = await DBOS.run_step_async({"name": MODEL_STEP}, call)
        if "response" in outcome:
            return ModelResponse.model_validate(outcome["response"])
        if "provider_error" in outcome:
            detail = dict(outcome["provider_error"])
            detail.pop("type", None)
            raise ProviderError(detail.pop("message"), **detail)
        raise ProviderError(outcome["error"], provider=self.name, model=self.model)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


async def _complete(
    provider: Any,
    messages: list[Message],
    tools: list[dict[str, Any]] | None,
    settings: dict[str, Any],
) -> ModelResponse:
    if hasattr(provider, "complete"):
        response: ModelResponse = await provider.complete(messages, tools, **settings)
        return response
    final: ModelResponse | None = None
    async for chunk in provider.stream(messages, tools, **settings):
        if chunk.type is ChunkType.RESPONSE:
            final = chunk.response
    if final is None:
        raise ProviderError(
            "the stream ended without a final response",
            kind="connection",
            provider=provider_name(provider),
            model=provider_model(provider),
        )
    return final


@dataclasses.dataclass(eq=False)
class StepTool(Tool):
    """A tool whose every call is one DBOS step (name `spine.tool:<name>`).

    The call (argument validation included) runs inside the step; its result is recorded as
    the text the conversation gets (`tool_output_text`). A tool's `Interrupt`, a
    `ToolValidationError` and any other failure are recorded and raised again on replay (a
    failure as an exception with the original class name and message), so a completed
    call, failed or not, never runs twice.
    """

    inner: Tool | None = dataclasses.field(default=None, repr=False, kw_only=True)

    @classmethod
    def wrap(cls, tool: Tool) -> StepTool:
        """The step-wrapped version of `tool` (same name, schema, approval flag)."""
        if isinstance(tool, StepTool):
            return tool
        return cls(
            tool.name,
            tool.description,
            tool.parameters,
            tool.func,
            tool.approve,
            context_param=tool.context_param,  # the kernel passes a context only when set
            forwards_decisions=tool.forwards_decisions,
            inner=tool,
        )

    async def call(self, args: dict[str, Any], ctx: ToolContext[Any] | None = None) -> Any:
        inner = self.inner
        assert inner is not None

        async def call() -> dict[str, Any]:
            try:
                value = await inner.call(args, ctx)
            except Interrupt as exc:
                return {"interrupt": {"question": exc.question, "data": exc.data, "kind": exc.kind}}
            except ToolValidationError as exc:
                return {"invalid": {"tool": exc.tool, "detail": exc.detail}}
            except Exception as exc:
                return {"failure": {"type": type(exc).__name__, "message": str(exc)}}
            return {"result": tool_output_text(value)}

        outcome = await DBOS.run_step_async({"name": TOOL_STEP_PREFIX + self.name}, call)
        if "result" in outcome:
            return outcome["result"]
        if "interrupt" in outcome:
            pause = outcome["interrupt"]
            raise Interrupt(pause["question"], data=pause["data"], kind=pause["kind"])
        if "invalid" in outcome:
            invalid = outcome["invalid"]
            raise ToolValidationError(invalid["tool"], invalid["detail"])
        failure = outcome["failure"]
        raise _failure_class(failure["type"])(failure["message"])


class ToolFailure(Exception):
    """Base of the exceptions a replayed tool failure is raised as (the subclass carries the
    original exception's class name, so the tool error text the model sees is the same)."""


_FAILURES: dict[str, type[ToolFailure]] = {}


def _failure_class(name: str) -> type[ToolFailure]:
    found = _FAILURES.get(name)
    if found is None:
        found = _FAILURES[name] = type(name, (ToolFailure,), {"__module__": __name__})
    return found


class StepMiddleware(Middleware):
    """Innermost middleware of a durable run: a provider a middleware switched to for one step
    (e.g. a fallback chosen in `before_model`) is wrapped as a step too."""

    async def before_model(self, ctx: StepContext[Any]) -> None:
        if not isinstance(ctx.provider, StepProvider):
            ctx.provider = StepProvider(ctx.provider)
