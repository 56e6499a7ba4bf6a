"""Workflow-side stand-ins: a provider and tools whose calls are activities.

The workflow runs a copy of the agent whose provider is an `ActivityProvider` and whose tools
are `activity_tool`s: the loop stays deterministic in the workflow, and every model and tool
call becomes an activity the worker executes with the real provider and tool.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import CancelledError as ActivityCancelledError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    Interrupt,
    Message,
    ModelResponse,
    ProviderError,
    ProviderErrorKind,
    Tool,
    ToolContext,
    ToolValidationError,
    Usage,
    provider_model,
    provider_name,
)

from ._payloads import ModelRequest, ToolOutcome, ToolRequest

if TYPE_CHECKING:
    from .agent import TemporalAgent

__all__ = ["ActivityProvider", "RemoteToolError", "activity_tool", "workflow_agent"]


def workflow_agent(spec: TemporalAgent, on_model_call: Callable[[], None]) -> Agent:
    """A per-run copy of `spec.agent` for the workflow: activity-backed provider and tools, a
    private in-memory checkpoint store (the workflow's own history is the durable record),
    and no wall-clock timeout (the workflow applies `Guards.timeout_s` on workflow time)."""
    source = spec.agent
    clone = copy.copy(source)
    clone.provider = ActivityProvider(spec, source.provider, on_model_call)
    clone.tools = {name: activity_tool(spec, t) for name, t in source.tools.items()}
    clone.checkpoint = InMemoryCheckpointStore(max_sessions=None)
    clone.guards = source.guards.model_copy(update={"timeout_s": None})
    return clone


class ActivityProvider:
    """A `Provider` whose `complete` runs the real provider's call as a `spine.model`
    activity. Carries the real provider's `name` and `model` for traces."""

    def __init__(self, spec: TemporalAgent, real: Any, on_call: Callable[[], None]) -> None:
        self.spec = spec
        self.name = provider_name(real)
        self.model = provider_model(real)
        self._on_call = on_call

    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """The model's response.

        Raises:
            ProviderError: the call failed for good (after the retry policy's attempts, or at
                once for a non-retryable kind).
        """
        options = self.spec.activities
        self._on_call()
        request = ModelRequest(
            agent=self.spec.name, messages=list(messages), tools=tools or [], settings=settings
        )
        try:
            response: ModelResponse = await workflow.execute_activity(
                "spine.model",
                request,
                result_type=ModelResponse,
                start_to_close_timeout=timedelta(seconds=options.model_timeout_s),
                heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_s),
                retry_policy=options.model_retry(),
                summary=f"{self.name}:{self.model}",
            )
        except ActivityError as exc:
            _propagate_cancel(exc)
            raise self._provider_error(exc) from None
        return response

    def _provider_error(self, exc: ActivityError) -> ProviderError:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.details:
            detail = cause.details[0]
            if isinstance(detail, dict) and "kind" in detail:
                error = ProviderError(
                    str(detail.get("message") or cause.message),
                    kind=detail["kind"],
                    status=detail.get("status"),
                    retryable=detail.get("retryable"),
                    retry_after_s=detail.get("retry_after_s"),
                    provider=detail.get("provider") or self.name,
                    model=detail.get("model") or self.model,
                )
                error.__cause__ = exc
                return error
        kind = ProviderErrorKind.TIMEOUT if isinstance(cause, ActivityTimeoutError) else None
        error = ProviderError(
            f"model activity failed: {cause or exc}",
            kind=kind or ProviderErrorKind.UNKNOWN,
            provider=self.name,
            model=self.model,
        )
        error.__cause__ = exc
        return error


def _propagate_cancel(exc: ActivityError) -> None:
    """An activity that ended cancelled was cancelled by this workflow (a timeout, a cancel
    of the run): keep cancelling, rather than report the call as failed."""
    if isinstance(exc.cause, ActivityCancelledError):
        raise asyncio.CancelledError() from exc


class RemoteToolError(Exception):
    """A tool raised on the worker; the subclass carries the original exception's class
    name, so the model reads the same "Tool 'x' failed: ValueError: ..." as in a local
    run."""


_REMOTE_ERRORS: dict[str, type[RemoteToolError]] = {}


def remote_error(type_name: str | None, message: str) -> RemoteToolError:
    """A `RemoteToolError` whose class is named `type_name`."""
    name = type_name if type_name and type_name.isidentifier() else "RemoteToolError"
    cls = _REMOTE_ERRORS.get(name)
    if cls is None:
        cls = _REMOTE_ERRORS[name] = type(name, (RemoteToolError,), {})
    return cls(message)


def activity_tool(spec: TemporalAgent, real: Tool) -> Tool:
    """A `Tool` with `real`'s name, schema and approval flag whose call is a `spine.tool`
    activity (arguments are validated on the worker, by the real tool)."""

    async def call(**arguments: Any) -> Any:
        ctx: ToolContext[Any] = arguments.pop("_spine_ctx")
        options = spec.activities
        decision = ctx.decision if real.forwards_decisions else None
        request = ToolRequest(
            agent=spec.name,
            session_id=ctx.session_id,
            tenant_id=ctx.tenant_id,
            depth=ctx.depth,
            step=ctx.state.step,
            call=ctx.call,
            args=arguments,
            decision=dataclasses.asdict(decision) if decision is not None else None,
        )
        try:
            outcome: ToolOutcome = await workflow.execute_activity(
                "spine.tool",
                request,
                result_type=ToolOutcome,
                start_to_close_timeout=timedelta(seconds=options.tool_timeout_s),
                heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_s),
                retry_policy=options.tool_retry(),
                summary=real.name,
            )
        except ActivityError as exc:
            _propagate_cancel(exc)
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                raise remote_error(cause.type, cause.message) from None
            raise remote_error(type(cause).__name__, str(cause or exc)) from None
        if outcome.kind == "interrupt":
            raise Interrupt(outcome.question, data=outcome.data, kind=outcome.interrupt_kind)
        if outcome.kind == "invalid":
            raise ToolValidationError(real.name, outcome.text)
        if outcome.kind == "error":
            raise remote_error(outcome.error_type, outcome.text)
        usage = outcome.data.get("usage")
        if usage:
            ctx.state.usage.add(Usage.model_validate(usage))
        return outcome.text

    return Tool(
        real.name,
        real.description,
        real.parameters,
        call,
        real.approve,
        context_param="_spine_ctx",
        forwards_decisions=real.forwards_decisions,
    )
