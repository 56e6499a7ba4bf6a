"""One invocation of the agent loop over a session's state.

Each step: resolve pending tool calls, check cancellation and guards, call the model, bank
usage, checkpoint; a response without tool calls ends the run (after typed-output validation,
which may ask the model to repair its answer, and unless a middleware set `force_continue`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import ValidationError

from ._channel import EventChannel
from ._model_step import call_model
from ._tool_step import run_tool_calls
from ._trusted import assign, trusted
from .context import Decision, StepContext
from .errors import CheckpointConflict, OutputValidationError, ProviderError
from .guards import Guards
from .messages import Message, Role, ToolCall
from .middleware import StopRun
from .provider import Provider, provider_model, provider_name
from .result import Result
from .state import RunStatus, State
from .stop import StopReason
from .tools import Tool
from .tracing import EventType, TraceEvent, Tracer

if TYPE_CHECKING:
    from .agent import Agent

_STATUS = {
    StopReason.FINAL: RunStatus.DONE,
    StopReason.INTERRUPT: RunStatus.INTERRUPTED,
    StopReason.CANCELLED: RunStatus.CANCELLED,
    StopReason.ERROR: RunStatus.ERROR,
}
# Reasons whose Result carries the last assistant text as its answer (the reference's rule).
_PARTIAL_ANSWER = frozenset(
    {
        StopReason.MAX_STEPS,
        StopReason.MAX_COST,
        StopReason.MAX_TOKENS,
        StopReason.TIMEOUT,
        StopReason.MAX_DEPTH,
        StopReason.CANCELLED,
    }
)

# Seconds a cancelled run may spend checkpointing itself as cancelled (shielded).
_FINISH_ON_CANCEL_S = 5.0


class Run:
    """The loop's working set for one `run` / `resume` / `stream` call.

    Per-run options (`deps`, `settings`, `provider`, `system`) live here, never on the shared
    `Agent`, so concurrent runs of one agent never see each other's.
    """

    def __init__(
        self,
        agent: Agent,
        state: State,
        *,
        guards: Guards | None = None,
        sink: EventChannel[TraceEvent] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        deps: Any = None,
        settings: dict[str, Any] | None = None,
        provider: Provider | None = None,
        system: str | None = None,
    ) -> None:
        self.agent = agent
        self.state = state
        self.guards = guards or agent.guards
        self.tracer = Tracer(sink)
        self.tracer.step = state.step
        self.streaming = sink is not None
        self.should_cancel = should_cancel
        self.settings = {**agent.settings, **settings} if settings else agent.settings
        self.system = system
        self.output_spec = agent.output_spec
        self.started = time.monotonic()
        timeout = self.guards.timeout_s
        self.deadline = None if timeout is None else self.started + timeout
        self.provider = provider or agent.provider
        ctx: StepContext[Any] = StepContext(
            state, state.messages, [], self.provider, tracer=self.tracer
        )
        ctx.agent = agent.label
        ctx.deadline = self.deadline
        ctx.deps = deps
        self.ctx = ctx
        self.output: Any = None
        self.repairs = 0
        self.result: Result | None = None
        self.tool_list = list(agent.tools.values())  # shared by steps without model hooks
        self._schemas: tuple[tuple[Tool, ...], list[dict[str, Any]]] = ((), [])
        self._schemas_of: list[Tool] | None = None
        self._described: tuple[Any, str, str, bool] = (None, "", "", False)

    def cancelled(self) -> bool:
        return self.should_cancel is not None and self.should_cancel()

    def take_decision(self, call: ToolCall) -> Decision | None:
        """The human decision for `call`, if the pending interrupt is about it (claimed by
        `Agent.resume`); clears the pause."""
        pending = self.state.pending
        if pending is None or pending.tool_call.id != call.id:
            return None
        self.state.pending = None
        return Decision(**pending.decision) if pending.decision else None

    def model_messages(self) -> list[Message]:
        """What the model is sent: the history itself, with this run's `system` override in
        place of the stored system prompt (or the agent's prompt before a history stored
        without one, as sessions from before version 3 are)."""
        messages = self.state.messages
        stored = bool(messages) and messages[0].role is Role.SYSTEM
        if self.system is not None:
            return [Message.system(self.system), *(messages[1:] if stored else messages)]
        if not stored and self.agent.system:
            return [Message.system(self.agent.system), *messages]
        return messages

    def describe(self, provider: Any) -> tuple[str, str, bool]:
        """The provider's name and model, and whether this run streams from it (cached per
        provider: a fallback may switch providers between calls)."""
        cached = self._described
        if cached[0] is not provider:
            streams = hasattr(provider, "stream") and (
                self.streaming or not hasattr(provider, "complete")
            )
            cached = self._described = (
                provider,
                provider_name(provider),
                provider_model(provider),
                streams,
            )
        return cached[1], cached[2], cached[3]

    def tool_schemas(self, tools: list[Tool]) -> list[dict[str, Any]]:
        """`Tool.schema` of each tool, rebuilt only when the tool list changes."""
        if tools is self._schemas_of:  # the run's shared list: unchanged
            return self._schemas[1]
        key = tuple(tools)
        cached, schemas = self._schemas
        if key != cached:  # Tool compares by identity: a cheap C-level check
            schemas = [t.schema for t in tools]
            self._schemas = (key, schemas)
        self._schemas_of = tools if tools is self.tool_list else None
        return schemas

    async def save(self) -> None:
        """Checkpoint the state. Stores make `put` atomic, so a run cancelled mid-write keeps
        the previous revision intact. A streamed run then yields to the event loop, so its
        reader sees the events so far (and may stop the run) even when neither the provider
        nor the store ever waits (offline providers, in-process stores)."""
        await self.agent.checkpoint.put(self.state)
        if self.streaming:
            await anyio.lowlevel.checkpoint()

    async def execute(self) -> Result:
        error: Exception | None = None
        message = ""
        try:
            await self.agent.chain.on_run_start(self.state)
            if self.deadline is None:
                reason = await self._loop()
            else:
                reason = StopReason.TIMEOUT
                with anyio.move_on_after(self.deadline - time.monotonic()) as scope:
                    reason = await self._loop()
                if scope.cancelled_caught:
                    self.tracer.emit(EventType.GUARD_TRIP, reason=reason.value)
        except StopRun as stop:
            reason, message = stop.reason, stop.message
            self.tracer.emit(EventType.GUARD_TRIP, reason=reason.value, message=message)
        except CheckpointConflict as conflict:
            await self._end_on_conflict(conflict)
            raise
        except anyio.get_cancelled_exc_class():
            await self._record_outside_cancel()
            raise
        except Exception as exc:
            reason, error, message = StopReason.ERROR, exc, str(exc)
        self.result = await self._finish(reason, error, message)
        return self.result

    async def _end_on_conflict(self, conflict: CheckpointConflict) -> None:
        """Another worker committed first: nothing is saved (the store has its progress), but
        `on_run_end` hooks still see the run end (e.g. to close a span) before the conflict
        propagates to the caller."""
        detail = {"type": "CheckpointConflict", "message": str(conflict)}
        self.result = Result(
            stopped_reason=StopReason.ERROR,
            state=self.state,
            trace=self.tracer.events,
            usage=self.state.run_usage,
            error=str(conflict),
            error_detail=detail,
        )
        await self.agent.chain.on_run_end(self.state, self.result)

    async def _record_outside_cancel(self) -> None:
        """The caller's scope cancelled the run (a closed stream, an outer timeout): checkpoint
        it as cancelled, with a resume token on `self.result`, before the cancel propagates."""
        # A CheckpointConflict here means a write in flight at the cancel landed: keep it.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(_FINISH_ON_CANCEL_S),
            contextlib.suppress(CheckpointConflict),
        ):
            self.result = await self._finish(StopReason.CANCELLED, None, "")

    async def _loop(self) -> StopReason:
        state, tracer, should_cancel = self.state, self.tracer, self.should_cancel
        last = state.messages[-1] if state.messages else None
        if (  # resumed after the final answer was checkpointed: the run is already done
            last is not None
            and last.role is Role.ASSISTANT
            and not last.tool_calls
            and (self.output_spec is None or self._accept_output(last))
        ):
            return StopReason.FINAL
        pending = state.pending_tool_calls()
        while True:
            if pending:
                paused = await run_tool_calls(self, pending)
                if paused is not None:
                    return paused
            if should_cancel is not None and should_cancel():
                return StopReason.CANCELLED
            tripped = self.guards.check(state, time.monotonic() - self.started)
            if tripped is not None:
                tracer.emit(EventType.GUARD_TRIP, reason=tripped.value)
                return tripped
            # Hot path: a plain int field, so skip pydantic's per-assignment bookkeeping.
            step = state.__dict__["step"] = state.step + 1
            tracer.step = step
            tracer.emit(EventType.STEP_START)
            response = await call_model(self)
            pending = []
            if response is None:
                continue
            state.usage.add(response.usage)
            pending = response.message.tool_calls
            for tool_call in pending:
                for value in tool_call.arguments.values():
                    if type(value) is dict or type(value) is list:  # only nesting is walked
                        _bound_arguments(tool_call)
                        break
            state.messages.append(response.message)
            if pending:
                if self._request_needs_checkpoint(pending):
                    await self.save()  # the calls are on record before any side effect
                continue
            if self.ctx.force_continue:
                await self.save()
                continue
            if self.output_spec is None or self._accept_output(response.message):
                return StopReason.FINAL  # `_finish` checkpoints the answer
            await self.save()  # the answer and the repair request

    def _request_needs_checkpoint(self, calls: list[ToolCall]) -> bool:
        """Whether the model's request must be checkpointed before its calls run: yes unless
        every call is read-only (`Tool.read_only`) or never reaches a tool (an unknown tool,
        invalid arguments); their results' checkpoint then records the request too."""
        tools = self.agent.tools
        for call in calls:
            found = tools.get(call.name)
            if found is not None and not found.read_only and call.arguments_error is None:
                return True
        return False

    def _accept_output(self, message: Message) -> bool:
        """Validate the typed output; False after appending a repair request."""
        spec = self.output_spec
        assert spec is not None
        try:
            self.output = spec.parse(message.text)
            return True
        except ValidationError as exc:
            if self.repairs >= spec.max_repairs:
                raise OutputValidationError(
                    f"the final answer did not match {spec.name} after {self.repairs} "
                    f"repair attempts: {exc.errors(include_url=False)[0]['msg']}"
                ) from exc
            self.repairs += 1
            self.state.messages.append(Message.user(spec.repair_prompt(exc)))
            return False

    async def _finish(self, reason: StopReason, error: Exception | None, message: str) -> Result:
        state = self.state
        assign(state, {"stopped_reason": reason, "status": _STATUS.get(reason, RunStatus.DONE)})
        error_detail = None
        if error is not None:
            error_detail = (
                error.to_dict()
                if isinstance(error, ProviderError)
                else {"type": type(error).__name__, "message": str(error)}
            )
            self.tracer.emit(EventType.ERROR, error=error_detail)
        answer: str | None = None
        if reason is StopReason.FINAL:
            last = state.messages[-1] if state.messages else None
            answer = last.text if last is not None and last.role is Role.ASSISTANT else ""
            self.tracer.emit(EventType.FINAL, answer=answer)
        elif reason in _PARTIAL_ANSWER:
            answer = message or _last_text(state.messages)  # a StopRun's message comes first
        elif reason is not StopReason.ERROR and reason is not StopReason.INTERRUPT:
            answer = message or None  # a StopRun's explanation (guardrail, loop, ...)
        try:
            await self.save()
        except CheckpointConflict as conflict:
            await self._end_on_conflict(conflict)
            raise
        except Exception as exc:  # the store refused the state: report it, keep the Result
            if error is None:
                reason, error = StopReason.ERROR, exc
                state.stopped_reason, state.status = reason, RunStatus.ERROR
                error_detail = {"type": type(exc).__name__, "message": f"checkpoint failed: {exc}"}
                message, answer = error_detail["message"], None
                self.tracer.emit(EventType.ERROR, error=error_detail)
        token = None
        if reason is StopReason.INTERRUPT and state.pending is not None:
            token = f"{state.session_id}:{state.pending.id}"
        elif reason is StopReason.CANCELLED:
            token = f"{state.session_id}:"
        values = {  # every field, in declaration order, each of its exact type: no validation
            "answer": answer,
            "stopped_reason": reason,
            "state": state,
            "trace": self.tracer.events,
            "usage": state.run_usage,
            "resume_token": token,
            "interrupt": state.pending if reason is StopReason.INTERRUPT else None,
            "error": (message or reason.value) if reason is StopReason.ERROR else None,
            "output": self.output,
            "error_detail": error_detail,
        }
        result = trusted(Result, values, set(values))
        return await self.agent.chain.on_run_end(state, result)


# Deepest nesting of tool-call arguments accepted; deeper input becomes a tool error (JSON
# encoders, pydantic and the stores refuse or overflow far beyond this).
MAX_ARGUMENT_DEPTH = 64


def _bound_arguments(call: ToolCall) -> None:
    """Turn arguments nested deeper than `MAX_ARGUMENT_DEPTH` into an arguments error."""
    stack: list[tuple[Any, int]] = [
        (v, 2) for v in call.arguments.values() if type(v) is dict or type(v) is list
    ]
    while stack:  # only containers are walked: flat arguments cost one pass over the values
        value, depth = stack.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            call.arguments = {}
            call.arguments_error = f"arguments are nested deeper than {MAX_ARGUMENT_DEPTH} levels"
            return
        items = value.values() if type(value) is dict else value
        stack.extend((v, depth + 1) for v in items if type(v) is dict or type(v) is list)


def _last_text(messages: list[Message]) -> str | None:
    for message in reversed(messages):
        if message.role is Role.ASSISTANT and message.text:
            return message.text
    return None
