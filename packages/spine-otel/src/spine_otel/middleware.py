"""`OTelMiddleware`: Spine's hook points as OpenTelemetry GenAI spans and metrics.

Spans (names and attributes from `spine_otel.semconv`, which cites the spec version):

- `invoke_agent {agent}` (INTERNAL), one per `run` / `resume` / `stream` of an agent, from
  `on_run_start` to `on_run_end`;
- `chat {model}` (CLIENT), one per model call of a step, child of the agent span;
- `execute_tool {tool}` (INTERNAL), one per tool call, child of the agent span. While the tool
  runs its span is the current OpenTelemetry context, so a sub-agent (`Agent.as_tool`), or any
  instrumented client the tool uses, nests under it;
- `invoke_workflow {name}` (INTERNAL), one per `run` / `resume` of a spine-orchestration
  pattern or graph, once the middleware is registered as a workflow observer
  (`spine_orchestration.add_observer(otel)`); its members' agent spans nest under it.

Retries and fallbacks of a model call are span events (`spine.retry`, `spine.fallback`) on its
one `chat` span, not separate spans. A resumed (or continued) session starts a new trace whose
agent (or workflow) span links to the previous run's span (`spine.previous_run` link
attribute).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from spine_core import (
    EventType,
    Middleware,
    ModelResponse,
    StepContext,
    StopReason,
    ToolContext,
    TraceEvent,
    provider_model,
    provider_name,
    tool_output_text,
)

from . import _content, semconv
from ._content import Redactor

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from spine_core import Result, State

__all__ = ["OTelMiddleware"]

_SCOPE = "spine-otel"
try:
    _VERSION = metadata.version("spine-otel")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "0.0.0"

# state.scratch key holding the last run's agent span ({"trace_id", "span_id"} as hex): the
# next run of the session links to it.
_PREVIOUS = "spine.otel.span"

# Provider settings recorded as gen_ai.request.* (never the whole settings: they may hold keys).
_REQUEST_SETTINGS = {
    "max_tokens": semconv.REQUEST_MAX_TOKENS,
    "max_output_tokens": semconv.REQUEST_MAX_TOKENS,
    "temperature": semconv.REQUEST_TEMPERATURE,
    "top_p": semconv.REQUEST_TOP_P,
    "top_k": semconv.REQUEST_TOP_K,
    "seed": semconv.REQUEST_SEED,
    "frequency_penalty": semconv.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.REQUEST_PRESENCE_PENALTY,
}


class WorkflowRunLike(Protocol):
    """The shape of `spine_orchestration.WorkflowRun` that `OTelMiddleware.workflow` reads."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> State: ...
    @property
    def stopped_reason(self) -> StopReason | None: ...
    @property
    def error(self) -> str | None: ...


@dataclass(slots=True)
class _Chat:
    span: Span
    started: float  # time.perf_counter() seconds
    first_event: int  # index into the run's trace events when the call began
    attributes: dict[str, Any]  # metric attributes: operation, provider, request model
    provider: Any  # the provider the call began with


@dataclass(slots=True)
class _RunScope:
    """One run's spans; lives in the run's OpenTelemetry context (and `ctx.extra`)."""

    state: State
    span: Span
    parent: Context  # a context holding `span`: the parent of the run's chat and tool spans
    token: object = None
    chat: _Chat | None = None
    tools: dict[str, tuple[Span, object]] = field(default_factory=dict)


class OTelMiddleware(Middleware):
    """Bridges Spine's hook points to OpenTelemetry spans and metrics (GenAI conventions).

    One instance is safe to share across concurrent runs: each run's spans live in that run's
    OpenTelemetry context (a contextvar, so per task) and its `ctx.extra`, never on this
    object. Put it first in `middleware=[...]` so its spans cover the other middleware.

    Metrics (histograms with the conventions' explicit buckets):
    `gen_ai.client.operation.duration` (seconds, per model call; `error.type` on failures) and
    `gen_ai.client.token.usage` (tokens, per model call, `gen_ai.token.type` input / output);
    Spine's counters `spine.tool.calls` (by `gen_ai.tool.name`, `error.type`) and
    `spine.agent.runs` (by `gen_ai.agent.name`, `spine.stop_reason`; guard trips show as their
    stop reasons).

    Args:
        tracer: The tracer to use; default one from `tracer_provider`, else the global
            provider.
        tracer_provider: Where to get the tracer when `tracer` is not given.
        meter: The meter to use; default one from `meter_provider`, else the global provider.
        meter_provider: Where to get the meter when `meter` is not given.
        capture_content: Record message content (off by default): `gen_ai.input.messages`,
            `gen_ai.output.messages`, `gen_ai.system_instructions`, `gen_ai.tool.definitions`
            on `chat` spans and `gen_ai.tool.call.arguments` / `.result` on `execute_tool`
            spans, as JSON strings. Known secret shapes (API keys, bearer tokens) are always
            replaced by `[REDACTED]`.
        redact: Called on every captured text (message text, tool arguments as JSON, tool
            results) after the built-in secret scrub; returns the text to record.
    """

    def __init__(
        self,
        tracer: Tracer | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
        meter: Meter | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
        redact: Redactor | None = None,
    ) -> None:
        if tracer is None:
            tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(
                _SCOPE, _VERSION, schema_url=None
            )
        if meter is None:
            meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE, _VERSION)
        self._tracer: Tracer = tracer
        self.capture_content = capture_content
        self.redact = redact
        self._key = otel_context.create_key("spine-otel-run")  # unique per instance
        self._duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=semconv.DURATION_BUCKETS_S,
        )
        self._tokens = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=semconv.TOKEN_BUCKETS,
        )
        self._tool_calls = meter.create_counter(
            semconv.METRIC_SPINE_TOOL_CALLS, unit="{call}", description="Tool calls answered."
        )
        self._runs = meter.create_counter(
            semconv.METRIC_SPINE_RUNS, unit="{run}", description="Agent runs, by stop reason."
        )

    # -- run scope ----------------------------------------------------------------------------

    async def on_run_start(self, state: State) -> None:
        links = _previous_run_link(state.scratch.get(_PREVIOUS))
        span = self._tracer.start_span(
            f"{semconv.OP_INVOKE_AGENT} {state.agent}" if state.agent else semconv.OP_INVOKE_AGENT,
            kind=SpanKind.INTERNAL,
            attributes={
                semconv.OPERATION_NAME: semconv.OP_INVOKE_AGENT,
                semconv.AGENT_NAME: state.agent,
                semconv.CONVERSATION_ID: state.session_id,
                semconv.SPINE_DEPTH: state.depth,
            },
            links=links,
        )
        parent = trace.set_span_in_context(span)
        scope = _RunScope(state, span, parent)
        context = otel_context.set_value(self._key, scope, parent)
        scope.token = otel_context.attach(context)
        _remember(state, span)

    async def on_run_end(self, state: State, result: Result) -> None:
        scope = otel_context.get_value(self._key)
        if not isinstance(scope, _RunScope) or scope.state is not state:
            return
        if scope.chat is not None:  # the model call failed for good (or a hook stopped it)
            self._end_chat(scope, None, result.trace)
        for call_id in list(scope.tools):  # a tool paused the run (Interrupt) or stopped it
            span, _ = scope.tools.pop(call_id)
            span.set_attribute(semconv.SPINE_STOP_REASON, result.stopped_reason.value)
            span.end()
        span = scope.span
        usage = result.usage
        span.set_attributes(  # one call: the SDK takes its lock once
            {
                semconv.SPINE_STOP_REASON: result.stopped_reason.value,
                semconv.SPINE_STEPS: state.step,
                semconv.USAGE_INPUT_TOKENS: usage.input_tokens,
                semconv.USAGE_OUTPUT_TOKENS: usage.output_tokens,
                semconv.SPINE_COST_USD: usage.cost_usd,
            }
        )
        if result.stopped_reason is StopReason.ERROR:
            detail = result.error_detail or {}
            span.set_attribute(semconv.ERROR_TYPE, _error_type(detail))
            span.set_status(Status(StatusCode.ERROR, result.error or "run failed"))
        span.end()
        otel_context.detach(scope.token)  # type: ignore[arg-type]
        self._runs.add(
            1,
            {
                semconv.AGENT_NAME: state.agent,
                semconv.SPINE_STOP_REASON: result.stopped_reason.value,
            },
        )

    # -- model calls --------------------------------------------------------------------------

    async def before_model(self, ctx: StepContext[Any]) -> None:
        scope = self._scope(ctx)
        if scope is None:
            return
        if scope.chat is not None:  # the previous step's call failed and was skipped
            self._end_chat(scope, None, ctx.tracer.events)
        scope.chat = self._start_chat(scope, ctx)

    async def after_model(self, ctx: StepContext[Any]) -> None:
        scope = self._scope(ctx)
        if scope is None:
            return
        if scope.chat is None:  # an outer middleware answered before our before_model ran
            scope.chat = self._start_chat(scope, ctx)
        self._end_chat(scope, ctx, ctx.tracer.events)

    def _start_chat(self, scope: _RunScope, ctx: StepContext[Any]) -> _Chat:
        provider, model = _provider_name(ctx.provider), provider_model(ctx.provider)
        attributes: dict[str, Any] = {
            semconv.OPERATION_NAME: semconv.OP_CHAT,
            semconv.PROVIDER_NAME: provider,
            semconv.REQUEST_MODEL: model,
        }
        span_attributes = {**attributes, semconv.CONVERSATION_ID: ctx.session_id}
        span_attributes.update(_request_attributes(ctx.settings))
        if self.capture_content:
            messages, system = _content.input_messages(ctx.messages, self.redact)
            span_attributes[semconv.INPUT_MESSAGES] = messages
            if system is not None:
                span_attributes[semconv.SYSTEM_INSTRUCTIONS] = system
            if ctx.tools:
                span_attributes[semconv.TOOL_DEFINITIONS] = _content.tool_definitions(
                    t.schema for t in ctx.tools
                )
        span = self._tracer.start_span(
            f"{semconv.OP_CHAT} {model}",
            context=scope.parent,
            kind=SpanKind.CLIENT,
            attributes=span_attributes,
        )
        return _Chat(span, time.perf_counter(), len(ctx.tracer.events), attributes, ctx.provider)

    def _end_chat(
        self, scope: _RunScope, ctx: StepContext[Any] | None, events: Sequence[TraceEvent]
    ) -> None:
        """End the open chat span: with `ctx.response` on success (`ctx` given), else as
        failed with the last error the trace recorded since the call began."""
        chat = scope.chat
        assert chat is not None
        scope.chat = None
        span, attributes = chat.span, dict(chat.attributes)
        failure = _add_retry_events(span, events[chat.first_event :])
        response = ctx.response if ctx is not None else None
        if response is not None and ctx is not None:
            if ctx.provider is not chat.provider:  # a fallback answered
                attributes[semconv.PROVIDER_NAME] = _provider_name(ctx.provider)
            attributes[semconv.RESPONSE_MODEL] = response.model or provider_model(ctx.provider)
            self._set_response(span, response, attributes, ctx.attempt)
        elif failure is not None:
            attributes[semconv.ERROR_TYPE] = _error_type(failure)
            span.set_attribute(semconv.ERROR_TYPE, attributes[semconv.ERROR_TYPE])
            span.set_status(Status(StatusCode.ERROR, str(failure.get("message", ""))))
        self._duration.record(time.perf_counter() - chat.started, attributes)
        span.end()

    def _set_response(
        self, span: Span, response: ModelResponse, attributes: dict[str, Any], attempt: int
    ) -> None:
        usage = response.usage
        if span.is_recording():  # sampled out or no SDK: skip building the attributes
            self._set_response_attributes(span, response, attributes, attempt)
        self._tokens.record(usage.input_tokens, {**attributes, semconv.TOKEN_TYPE: "input"})
        self._tokens.record(usage.output_tokens, {**attributes, semconv.TOKEN_TYPE: "output"})

    def _set_response_attributes(
        self, span: Span, response: ModelResponse, attributes: dict[str, Any], attempt: int
    ) -> None:
        usage = response.usage
        finish = response.finish_reason.value
        recorded: dict[str, Any] = {  # one call: the SDK takes its lock once
            semconv.PROVIDER_NAME: attributes[semconv.PROVIDER_NAME],
            semconv.RESPONSE_MODEL: attributes[semconv.RESPONSE_MODEL],
            semconv.RESPONSE_FINISH_REASONS: (semconv.FINISH_REASONS.get(finish, finish),),
            semconv.USAGE_INPUT_TOKENS: usage.input_tokens,
            semconv.USAGE_OUTPUT_TOKENS: usage.output_tokens,
            semconv.USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_tokens,
            semconv.USAGE_CACHE_CREATION_INPUT_TOKENS: usage.cache_write_tokens,
            semconv.SPINE_ATTEMPTS: attempt,
        }
        if usage.reasoning_tokens:
            recorded[semconv.USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        if usage.cost_usd:
            recorded[semconv.SPINE_COST_USD] = usage.cost_usd
        if response.cached:
            recorded[semconv.SPINE_CACHED] = True
        span.set_attributes(recorded)
        if self.capture_content:
            span.set_attribute(
                semconv.OUTPUT_MESSAGES,
                _content.output_messages(response.message, finish, self.redact),
            )

    # -- tool calls ---------------------------------------------------------------------------

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        scope = self._scope(ctx)
        if scope is None:
            return
        span = self._start_tool(scope, ctx)
        # The tool's span becomes current while it runs: a sub-agent nests under it.
        token = otel_context.attach(trace.set_span_in_context(span))
        scope.tools[ctx.call.id] = (span, token)

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        scope = self._scope(ctx)
        if scope is None:
            return
        entry = scope.tools.pop(ctx.call.id, None)
        # No before_tool: an unknown tool, invalid arguments, a rejected approval, or an outer
        # middleware answered the call. It still gets its (short) span.
        span, token = entry if entry is not None else (self._start_tool(scope, ctx), None)
        error_type = None
        if ctx.error is not None:
            error_type = type(ctx.error).__name__
            span.record_exception(ctx.error)
        elif ctx.is_error:
            error_type = "tool_error"
        if error_type is not None:
            span.set_attribute(semconv.ERROR_TYPE, error_type)
            span.set_status(Status(StatusCode.ERROR, _content.scrub(str(ctx.result), None)))
        if ctx.attempt:
            span.set_attribute(semconv.SPINE_ATTEMPTS, ctx.attempt)
        if self.capture_content:
            result = _content.scrub(tool_output_text(ctx.result), self.redact)
            span.set_attribute(semconv.TOOL_CALL_RESULT, result)
        span.end()
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        counted = {semconv.TOOL_NAME: ctx.call.name}
        if error_type is not None:
            counted[semconv.ERROR_TYPE] = error_type
        self._tool_calls.add(1, counted)

    def _start_tool(self, scope: _RunScope, ctx: ToolContext[Any]) -> Span:
        attributes: dict[str, Any] = {
            semconv.OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
            semconv.TOOL_NAME: ctx.call.name,
            semconv.TOOL_CALL_ID: ctx.call.id,
            semconv.TOOL_TYPE: "function",
        }
        if ctx.tool is not None and ctx.tool.description:
            attributes[semconv.TOOL_DESCRIPTION] = ctx.tool.description
        if self.capture_content:
            arguments = json.dumps(ctx.args, default=str)
            attributes[semconv.TOOL_CALL_ARGUMENTS] = _content.scrub(arguments, self.redact)
        return self._tracer.start_span(
            f"{semconv.OP_EXECUTE_TOOL} {ctx.call.name}",
            context=scope.parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )

    # -- workflows ----------------------------------------------------------------------------

    @contextmanager
    def workflow(self, run: WorkflowRunLike) -> Iterator[Span]:
        """An `invoke_workflow {name}` span (INTERNAL) around one pattern or graph invocation,
        current while it runs, so its members' `invoke_agent` spans (and sub-graphs'
        `invoke_workflow` spans) nest under it.

        This makes the middleware a spine-orchestration workflow observer: register it once
        with `spine_orchestration.add_observer(otel)`. `run` is a
        `spine_orchestration.WorkflowRun` (anything with `kind`, `name`, `state`,
        `stopped_reason` and `error`). A resumed run starts a new trace linked to the paused
        one, like an agent's.
        """
        state = run.state
        span = self._tracer.start_span(
            f"{semconv.OP_INVOKE_WORKFLOW} {run.name}",
            kind=SpanKind.INTERNAL,
            attributes={
                semconv.OPERATION_NAME: semconv.OP_INVOKE_WORKFLOW,
                semconv.WORKFLOW_NAME: run.name,
                semconv.CONVERSATION_ID: state.session_id,
                semconv.SPINE_WORKFLOW_KIND: run.kind,
            },
            links=_previous_run_link(state.scratch.get(_PREVIOUS)),
        )
        _remember(state, span)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        except Exception as exc:  # a lost claim race, a broken store
            span.record_exception(exc)
            span.set_attribute(semconv.ERROR_TYPE, type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, _content.scrub(str(exc), None)))
            raise
        except BaseException:  # cancelled (the run checkpointed itself as cancelled)
            span.set_attribute(semconv.SPINE_STOP_REASON, StopReason.CANCELLED.value)
            raise
        else:
            reason = run.stopped_reason
            if reason is not None:
                span.set_attribute(semconv.SPINE_STOP_REASON, reason.value)
            span.set_attribute(semconv.USAGE_INPUT_TOKENS, state.usage.input_tokens)
            span.set_attribute(semconv.USAGE_OUTPUT_TOKENS, state.usage.output_tokens)
            span.set_attribute(semconv.SPINE_COST_USD, state.usage.cost_usd)
            if reason is StopReason.ERROR:
                span.set_attribute(semconv.ERROR_TYPE, "workflow_error")
                message = _content.scrub(run.error or "workflow failed", None)
                span.set_status(Status(StatusCode.ERROR, message))
        finally:
            span.end()
            otel_context.detach(token)

    # -- helpers ------------------------------------------------------------------------------

    def _scope(self, ctx: StepContext[Any] | ToolContext[Any]) -> _RunScope | None:
        """This run's scope: cached in `ctx.extra`, found first in the run's context."""
        scope = ctx.extra.get(self._key)
        if scope is None:
            scope = otel_context.get_value(self._key)
            if not isinstance(scope, _RunScope) or scope.state is not ctx.state:
                return None
            ctx.extra[self._key] = scope
        return scope if isinstance(scope, _RunScope) else None


def _provider_name(provider: Any) -> str:
    name = provider_name(provider)
    return semconv.PROVIDER_NAMES.get(name, name)


def _request_attributes(settings: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not settings:
        return out
    for key, attribute in _REQUEST_SETTINGS.items():
        value = settings.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[attribute] = value
    stop = settings.get("stop", settings.get("stop_sequences"))
    if isinstance(stop, str):
        out[semconv.REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list | tuple) and all(isinstance(s, str) for s in stop):
        out[semconv.REQUEST_STOP_SEQUENCES] = list(stop)
    return out


def _error_type(detail: Mapping[str, Any]) -> str:
    """`error.type`: the ProviderError kind (e.g. "rate_limit"), else the exception class."""
    return str(detail.get("kind") or detail.get("type") or "_OTHER")


def _add_retry_events(span: Span, events: Sequence[TraceEvent]) -> dict[str, Any] | None:
    """Add a `spine.retry` / `spine.fallback` event per retried failure among a model call's
    trace events; returns the last failure's error dict (None when the call never failed)."""
    failure: dict[str, Any] | None = None
    for index, event in enumerate(events):
        if event.type is not EventType.ERROR:
            continue
        error = event.data.get("error") or {}
        failure = error
        action = event.data.get("action")
        if action not in ("retry", "fallback"):
            continue
        attributes: dict[str, Any] = {
            semconv.ERROR_TYPE: _error_type(error),
            semconv.SPINE_ACTION: action,
            "exception.message": _content.scrub(str(error.get("message", "")), None),
        }
        following = next((e for e in events[index + 1 :] if e.type is EventType.MODEL_CALL), None)
        if following is not None:  # where the next attempt went (another model on a fallback)
            attributes[semconv.SPINE_ATTEMPTS] = int(following.data.get("attempt", 0))
            provider = str(following.data.get("provider", ""))
            attributes[semconv.PROVIDER_NAME] = semconv.PROVIDER_NAMES.get(provider, provider)
            attributes[semconv.REQUEST_MODEL] = str(following.data.get("model", ""))
        name = semconv.EVENT_FALLBACK if action == "fallback" else semconv.EVENT_RETRY
        span.add_event(name, attributes, timestamp=int(event.ts * 1e9))
    return failure


def _remember(state: State, span: Span) -> None:
    """Keep `span`'s ids in the session (checkpointed): the next run of it links to it."""
    own = span.get_span_context()
    if own.is_valid:
        state.scratch[_PREVIOUS] = {
            "trace_id": trace.format_trace_id(own.trace_id),
            "span_id": trace.format_span_id(own.span_id),
        }


def _previous_run_link(value: Any) -> list[Link]:
    """A link to the session's previous run's agent span, from `state.scratch`."""
    if not isinstance(value, dict):
        return []
    try:
        context = SpanContext(
            trace_id=int(value["trace_id"], 16),
            span_id=int(value["span_id"], 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    except (KeyError, TypeError, ValueError):
        return []
    return [Link(context, {semconv.SPINE_LINK_PREVIOUS_RUN: True})] if context.is_valid else []
