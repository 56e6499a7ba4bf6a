"""One model call of a step: before_model hooks, the provider call with bounded retries
(driven by on_error hooks), streaming deltas, after_model hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ProviderError, ProviderErrorKind, SpineError
from .messages import ModelResponse
from .middleware import ErrorAction, StopRun
from .provider import ChunkType, provider_model, provider_name
from .tracing import EventType

if TYPE_CHECKING:
    from ._run import Run


async def call_model(run: Run) -> ModelResponse | None:
    """The step's response after middleware, or None when `on_error` said skip.

    Raises:
        ProviderError: the call failed and no middleware recovered it.
    """
    ctx, chain = run.ctx, run.agent.chain
    hooks = chain.present
    hooked = "before_model" in hooks
    ctx.messages = run.model_messages()
    # Hooks may edit tools and settings in place: give them copies; without hooks, share.
    if hooked or "after_model" in hooks:
        ctx.tools = list(run.agent.tools.values())
        ctx.settings = dict(run.settings)
    else:
        ctx.tools = run.tool_list
        ctx.settings = run.settings
    ctx.provider = run.provider  # a fallback lasts one step
    ctx.response = None
    ctx.force_continue = False
    ctx.attempt = 0
    if hooked:
        await chain.before_model(ctx)
    if ctx.response is None:
        name, model, streams = run.describe(ctx.provider)
        if streams:
            response = await _call_with_retries(run)
        else:  # the first attempt inline (one coroutine less); a failure goes to the retries
            run.tracer.emit(EventType.MODEL_CALL, provider=name, model=model, attempt=ctx.attempt)
            schemas = run.tool_schemas(ctx.tools)
            try:
                response = await ctx.provider.complete(ctx.messages, schemas, **ctx.settings)
            except Exception as exc:
                response = await _call_with_retries(run, exc)
        if response is None:
            return None
        ctx.response = response
    if "after_model" in hooks:
        await chain.after_model(ctx)
    if ctx.response is None:
        raise SpineError("an after_model hook removed the response (set ctx.response instead)")
    response = ctx.response
    message = response.message
    calls = message.tool_calls
    run.tracer.emit(
        EventType.MODEL_RESPONSE,
        content=message.content,
        tool_calls=[c.name for c in calls] if calls else [],
        finish_reason=str(response.finish_reason),  # StrEnum: its plain value
        usage=response.usage,
        cached=response.cached,
    )
    return response


async def _call_with_retries(run: Run, failed: Exception | None = None) -> ModelResponse | None:
    """The provider call, retried as `on_error` hooks decide; `failed` is the exception of a
    first attempt already made (its MODEL_CALL event emitted)."""
    ctx, chain, tracer = run.ctx, run.agent.chain, run.tracer
    while True:
        provider = ctx.provider
        name, model, streams = run.describe(provider)
        try:
            if failed is not None:
                raise failed
            tracer.emit(EventType.MODEL_CALL, provider=name, model=model, attempt=ctx.attempt)
            schemas = run.tool_schemas(ctx.tools)
            if streams:
                return await _stream(run, provider, schemas)
            response: ModelResponse = await provider.complete(ctx.messages, schemas, **ctx.settings)
            return response
        except StopRun:
            raise
        except ProviderError as exc:
            error = exc
        except Exception as exc:
            error = ProviderError(
                f"{type(exc).__name__}: {exc}",
                kind=ProviderErrorKind.UNKNOWN,
                provider=name,
                model=model,
            )
            error.__cause__ = exc
        failed = None
        action = await chain.on_error(ctx, error)
        tracer.emit(EventType.ERROR, error=error.to_dict(), action=action and action.value)
        if action in (ErrorAction.RETRY, ErrorAction.FALLBACK):
            if ctx.attempt + 1 < run.guards.max_retries_per_step:
                ctx.attempt += 1
                continue
        elif action is ErrorAction.SKIP:
            return None
        raise error


async def _stream(run: Run, provider: Any, schemas: list[dict[str, Any]]) -> ModelResponse:
    ctx, tracer = run.ctx, run.tracer
    response: ModelResponse | None = None
    text, token = ChunkType.TEXT, tracer.token  # looked up once: a stream has many deltas
    async for chunk in provider.stream(ctx.messages, schemas, **ctx.settings):
        kind = chunk.type
        if kind is text:
            if chunk.delta:
                token(chunk.delta)
        elif kind is ChunkType.RESPONSE:
            response = chunk.response
            if chunk.delta:
                tracer.token(chunk.delta)
        elif kind is ChunkType.THINKING:
            tracer.emit(EventType.THINKING, text=chunk.delta)
        elif kind is ChunkType.TOOL_CALL:
            tracer.emit(
                EventType.TOOL_CALL_DELTA,
                index=chunk.index,
                id=chunk.tool_call_id,
                name=chunk.tool_name,
                arguments_delta=chunk.arguments_delta,
            )
    if response is None:
        raise ProviderError(
            "the stream ended without a final response",
            kind=ProviderErrorKind.CONNECTION,
            provider=provider_name(provider),
            model=provider_model(provider),
        )
    return response
