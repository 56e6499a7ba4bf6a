"""The activities a worker runs for Spine workflows: model calls, tool calls, and loading and
saving sessions in the agent's checkpoint store.

Errors are mapped to Temporal's retry rules here: a `ProviderError` travels as an
`ApplicationError` of type `ProviderError.<kind>`, non-retryable for auth, bad_request,
context_length, content_filter and unknown, with the provider's `retry_after_s` as the next
delay. A tool's transient error (`ConnectionError`, `TimeoutError`, a retryable
`ProviderError`) is retried; any other tool error is returned as the tool's error result, as
in a local run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from spine_core import (
    Agent,
    CheckpointConflict,
    ChunkType,
    Decision,
    Interrupt,
    ModelResponse,
    ProviderError,
    ProviderErrorKind,
    State,
    StepContext,
    ToolContext,
    ToolValidationError,
    provider_model,
    provider_name,
    tool_output_text,
)

from ._payloads import ModelRequest, SaveRequest, ToolOutcome, ToolRequest
from .agent import provider_error_type

__all__ = ["ACTIVITY_NAMES", "LoadRequest", "SpineActivities"]

ACTIVITY_NAMES = ("spine.model", "spine.tool", "spine.load", "spine.save")
"""The activity types, stable across releases (they are recorded in workflow histories)."""


class LoadRequest(BaseModel):
    """The input of the `spine.load` activity."""

    agent: str
    session_id: str


class SpineActivities:
    """The activity implementations of one worker, bound to the agents it serves.

    Args:
        agents: The agents by name (`Agent.label`).
        deps: The dependencies object tools get as `ctx.deps`.
    """

    def __init__(self, agents: Mapping[str, Agent], *, deps: Any = None) -> None:
        self.agents = dict(agents)
        self.deps = deps

    def all(self) -> list[Any]:
        """The activity callables, to pass as `Worker(activities=...)`."""
        return [self.model, self.tool, self.load, self.save]

    def _agent(self, name: str) -> Agent:
        found = self.agents.get(name)
        if found is None:
            raise ApplicationError(
                f"this worker does not serve agent '{name}' "
                f"(it serves: {', '.join(sorted(self.agents)) or 'none'})",
                type="UnknownAgent",
                non_retryable=True,
            )
        return found

    @activity.defn(name="spine.model")
    async def model(self, request: ModelRequest) -> ModelResponse:
        """One provider call.

        Raises:
            ApplicationError: of type `ProviderError.<kind>`, with the error's fields as its
                first detail.
        """
        provider = self._agent(request.agent).provider
        try:
            async with _heartbeating():
                if hasattr(provider, "complete"):
                    response: ModelResponse = await provider.complete(
                        request.messages, request.tools, **request.settings
                    )
                else:
                    response = await _streamed(provider, request)
        except ProviderError as exc:
            raise provider_failure(exc) from None
        except (asyncio.CancelledError, ApplicationError):
            raise
        except Exception as exc:  # the kernel's rule: any other failure is kind unknown
            error = ProviderError(
                f"{type(exc).__name__}: {exc}",
                kind=ProviderErrorKind.UNKNOWN,
                provider=provider_name(provider),
                model=provider_model(provider),
            )
            raise provider_failure(error) from None
        return response

    @activity.defn(name="spine.tool")
    async def tool(self, request: ToolRequest) -> ToolOutcome:
        """One tool call, with the call's `ToolContext` (session, tenant, depth, `deps`).

        Raises:
            ApplicationError: a transient error, for Temporal to retry.
        """
        agent = self._agent(request.agent)
        found = agent.tools.get(request.call.name)
        if found is None:
            names = ", ".join(sorted(agent.tools)) or "none"
            return ToolOutcome(
                kind="error",
                error_type="LookupError",
                text=f"this worker's agent has no tool '{request.call.name}' (tools: {names})",
            )
        state = State(
            session_id=request.session_id,
            agent=agent.label,
            tenant_id=request.tenant_id,
            depth=request.depth,
            step=request.step,
        )
        step: StepContext[Any] = StepContext(state, [], [], agent.provider)
        step.agent = agent.label
        step.deps = self.deps
        ctx: ToolContext[Any] = ToolContext(state, found, request.call, run=step)
        ctx.args = dict(request.args)
        if request.decision is not None:
            ctx.decision = Decision(**request.decision)
        try:
            async with _heartbeating():
                value = await found.call(ctx.args, ctx)
        except Interrupt as exc:
            return ToolOutcome(
                kind="interrupt", question=exc.question, data=exc.data, interrupt_kind=exc.kind
            )
        except ToolValidationError as exc:
            return ToolOutcome(kind="invalid", text=exc.detail)
        except (asyncio.CancelledError, ApplicationError):
            raise
        except Exception as exc:
            if _transient(exc):
                raise ApplicationError(
                    str(exc) or type(exc).__name__,
                    type=type(exc).__name__,
                    next_retry_delay=_retry_delay(exc),
                ) from None
            return ToolOutcome(kind="error", text=str(exc), error_type=type(exc).__name__)
        outcome = ToolOutcome(kind="result", text=tool_output_text(value))
        usage = state.usage  # a sub-agent adds its usage to the calling session
        if usage.input_tokens or usage.output_tokens or usage.cost_usd:
            outcome.data = {"usage": usage.model_dump(mode="json")}
        return outcome

    @activity.defn(name="spine.load")
    async def load(self, request: LoadRequest) -> State | None:
        """The stored session, or None when there is none."""
        return await self._agent(request.agent).checkpoint.get(request.session_id)

    @activity.defn(name="spine.save")
    async def save(self, request: SaveRequest) -> int:
        """Write the session with compare-and-set on `expected_revision`; returns the new
        revision. A retry of a write that already landed returns that write's revision.

        Raises:
            ApplicationError: of type `CheckpointConflict` (not retried), when another
                writer changed the session.
        """
        store = self._agent(request.agent).checkpoint
        state = request.state
        state.revision = request.expected_revision
        try:
            await store.put(state)
        except CheckpointConflict as exc:
            stored = await store.get(state.session_id)
            if (
                stored is not None
                and stored.revision == request.expected_revision + 1
                and len(stored.messages) == len(state.messages)
                and stored.status == state.status
            ):
                return stored.revision  # this write landed on an attempt that was lost
            raise ApplicationError(
                str(exc), type="CheckpointConflict", non_retryable=True
            ) from None
        return state.revision


def provider_failure(error: ProviderError) -> ApplicationError:
    """`error` as the `ApplicationError` Temporal's retry policy acts on."""
    delay = error.retry_after_s
    return ApplicationError(
        str(error),
        error.to_dict(),
        type=provider_error_type(error.kind),
        non_retryable=not error.retryable,
        next_retry_delay=timedelta(seconds=delay) if delay else None,
    )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ProviderError):
        return exc.retryable
    return isinstance(exc, ConnectionError | TimeoutError)


def _retry_delay(exc: BaseException) -> timedelta | None:
    if isinstance(exc, ProviderError) and exc.retry_after_s:
        return timedelta(seconds=exc.retry_after_s)
    return None


async def _streamed(provider: Any, request: ModelRequest) -> ModelResponse:
    """The final response of a provider that only streams."""
    async for chunk in provider.stream(request.messages, request.tools, **request.settings):
        if chunk.type is ChunkType.RESPONSE and chunk.response is not None:
            response: ModelResponse = chunk.response
            return response
    raise ProviderError(
        "the stream ended without a final response",
        kind=ProviderErrorKind.CONNECTION,
        provider=provider_name(provider),
        model=provider_model(provider),
    )


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat every third of the activity's heartbeat timeout while the body runs, so a
    lost worker is noticed after that timeout and a long call is not."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    interval = max(timeout.total_seconds() / 3, 0.05)

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
