"""One model call of a step: before_model hooks, the provider call with bounded retries
(driven by on_error hooks), streaming deltas, after_model hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ProviderError, ProviderErrorKind
from .messages import ModelResponse
from .middleware import ErrorAction, StopRun
from .providers import ChunkType
from .tracing import EventType

if TYPE_CHECKING:
    from ._run import Run


async def call_model(run: Run) -> ModelResponse | None:
    """The step's response after middleware, or None when `on_error` said skip.

    Raises:
        ProviderError: the call failed and no middleware recovered it.
    """
    agent, ctx = run.agent, run.ctx
    hooks = agent._hooks
    ctx.messages = [*agent._prefix, *run.state.messages]
    # Hooks may edit tools and settings in place: give them copies; without hooks, share.
    ctx.tools = list(agent.tools) if hooks.before_model else agent._tool_list
    ctx.settings = dict(agent.settings) if hooks.before_model else agent.settings
    ctx.provider = agent.provider
    ctx.attempt = 0
    response: ModelResponse | None = None
    for hook in hooks.before_model:
        response = await hook(ctx)
        if response is not None:
            break
    if response is None:
        response = await _call_with_retries(run)
        if response is None:
            return None
    for after in hooks.after_model:
        replaced = await after(ctx, response)
        if replaced is not None:
            response = replaced
    message = response.message
    run.tracer.emit(
        EventType.MODEL_RESPONSE,
        content=message.content,
        tool_calls=[c.name for c in message.tool_calls],
        finish_reason=response.finish_reason.value,
        usage=response.usage,
        cached=response.cached,
    )
    return response


async def _call_with_retries(run: Run) -> ModelResponse | None:
    ctx, hooks, tracer = run.ctx, run.agent._hooks, run.tracer
    while True:
        provider = ctx.provider
        tracer.emit(
            EventType.MODEL_CALL, provider=provider.name, model=provider.model, attempt=ctx.attempt
        )
        try:
            if run.streaming and hasattr(provider, "stream"):
                return await _stream(run)
            return await provider.complete(ctx.messages, ctx.tools, **ctx.settings)
        except StopRun:
            raise
        except ProviderError as exc:
            error = exc
        except Exception as exc:
            error = ProviderError(
                f"{type(exc).__name__}: {exc}",
                kind=ProviderErrorKind.UNKNOWN,
                provider=provider.name,
                model=provider.model,
            )
            error.__cause__ = exc
        action: ErrorAction | None = None
        for hook in hooks.on_error:
            action = await hook(ctx, error)
            if action is not None:
                break
        tracer.emit(EventType.ERROR, error=error.to_dict(), action=action and action.value)
        if action in (ErrorAction.RETRY, ErrorAction.FALLBACK):
            if ctx.attempt + 1 < run.guards.max_retries_per_step:
                ctx.attempt += 1
                continue
        elif action is ErrorAction.SKIP:
            return None
        raise error


async def _stream(run: Run) -> ModelResponse:
    ctx, tracer = run.ctx, run.tracer
    response: ModelResponse | None = None
    async for chunk in ctx.provider.stream(ctx.messages, ctx.tools, **ctx.settings):  # type: ignore[attr-defined]
        if chunk.type is ChunkType.TEXT:
            tracer.emit(EventType.TOKEN, text=chunk.text)
        elif chunk.type is ChunkType.THINKING:
            tracer.emit(EventType.THINKING, text=chunk.text)
        elif chunk.type is ChunkType.RESPONSE:
            response = chunk.response
    if response is None:
        raise ProviderError(
            "the stream ended without a final response",
            kind=ProviderErrorKind.CONNECTION,
            provider=ctx.provider.name,
            model=ctx.provider.model,
        )
    return response
