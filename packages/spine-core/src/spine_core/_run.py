"""One invocation of the agent loop over a session's state.

Each step: resolve pending tool calls, check cancellation and guards, call the model, bank
usage, checkpoint; a response without tool calls ends the turn (after typed-output
validation, which may ask the model to repair its answer).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import ValidationError

from ._model_step import call_model
from ._tool_step import run_tool_calls
from .context import Decision, StepContext
from .errors import CheckpointConflict, OutputValidationError, ProviderError
from .guards import Guards
from .messages import Message, Role, ToolCall
from .middleware import StopRun
from .result import Result
from .state import SessionStatus, State
from .stop import StopReason
from .tracing import EventType, TraceEvent, Tracer

if TYPE_CHECKING:
    from .agent import Agent

_STATUS = {
    StopReason.FINAL: SessionStatus.COMPLETED,
    StopReason.INTERRUPT: SessionStatus.INTERRUPTED,
    StopReason.CANCELLED: SessionStatus.CANCELLED,
    StopReason.ERROR: SessionStatus.FAILED,
}


# Seconds a cancelled run may spend checkpointing itself as cancelled (shielded).
_FINISH_ON_CANCEL_S = 5.0


class Run:
    """The loop's working set for one `run` / `resume` / `stream` call."""

    def __init__(
        self,
        agent: Agent,
        state: State,
        *,
        guards: Guards | None = None,
        sink: MemoryObjectSendStream[TraceEvent] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        decision: Decision | None = None,
    ) -> None:
        self.agent = agent
        self.state = state
        self.guards = guards or agent.guards
        self.tracer = Tracer(sink)
        self.tracer.step = state.step
        self.streaming = sink is not None
        self.should_cancel = should_cancel
        self.decision = decision
        self.started = time.monotonic()
        timeout = self.guards.timeout_s
        self.deadline = None if timeout is None else self.started + timeout
        self.ctx = StepContext(
            agent=agent.name,
            state=state,
            tracer=self.tracer,
            provider=agent.provider,
            messages=[],
            tools=[],
            settings={},
            deadline=self.deadline,
        )
        self.output: Any = None
        self.repairs = 0
        self.result: Result | None = None

    def cancelled(self) -> bool:
        return self.should_cancel is not None and self.should_cancel()

    def take_decision(self, call: ToolCall) -> Decision | None:
        """The human decision for `call`, if the pending interrupt is about it."""
        pending = self.state.interrupt
        if pending is None or pending.tool_call.id != call.id:
            return None
        self.state.interrupt = None
        decision, self.decision = self.decision, None
        return decision

    async def save(self) -> None:
        """Checkpoint the state. Stores make `put` atomic, so a run cancelled mid-write keeps
        the previous revision intact."""
        await self.agent.checkpoint.put(self.state)

    async def execute(self) -> Result:
        error: Exception | None = None
        message = ""
        try:
            for hook in self.agent._hooks.on_run_start:
                await hook(self.ctx)
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
        except CheckpointConflict:
            raise
        except anyio.get_cancelled_exc_class():
            await self._record_outside_cancel()
            raise
        except Exception as exc:
            reason, error, message = StopReason.ERROR, exc, str(exc)
        self.result = await self._finish(reason, error, message)
        return self.result

    async def _record_outside_cancel(self) -> None:
        """The caller's scope cancelled the run (a closed stream, an outer timeout): checkpoint
        it as cancelled, with a resume token on `self.result`, before the cancel propagates."""
        # A CheckpointConflict here means a write in flight at the cancel landed: keep it.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(_FINISH_ON_CANCEL_S),
            contextlib.suppress(CheckpointConflict),
        ):
            self.result = await self._finish(
                StopReason.CANCELLED, None, "the caller cancelled the run"
            )

    async def _loop(self) -> StopReason:
        state, agent, tracer = self.state, self.agent, self.tracer
        last = state.messages[-1] if state.messages else None
        if (  # resumed after the final answer was checkpointed: the turn is already done
            last is not None
            and last.role is Role.ASSISTANT
            and not last.tool_calls
            and (agent._output is None or self._accept_output(last))
        ):
            return StopReason.FINAL
        pending = state.pending_tool_calls()
        while True:
            if pending:
                paused = await run_tool_calls(self, pending)
                if paused is not None:
                    return paused
            if self.cancelled():
                return StopReason.CANCELLED
            tripped = self.guards.check(
                steps=state.step,
                usage=state.usage,
                elapsed_s=time.monotonic() - self.started,
                depth=state.depth,
            )
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
            state.messages.append(response.message)
            pending = response.message.tool_calls
            if (
                not pending
                and agent._output is not None
                and not self._accept_output(response.message)
            ):
                await self.save()
                continue
            await self.save()
            if not pending:
                return StopReason.FINAL

    def _accept_output(self, message: Message) -> bool:
        """Validate the typed output; False after appending a repair request."""
        spec = self.agent._output
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
        state.stopped_reason = reason
        state.status = _STATUS.get(reason, SessionStatus.STOPPED)
        error_data = None
        if error is not None:
            error_data = (
                error.to_dict()
                if isinstance(error, ProviderError)
                else {"type": type(error).__name__, "message": str(error)}
            )
            self.tracer.emit(EventType.ERROR, error=error_data)
        answer = ""
        if reason is StopReason.FINAL:
            last = state.messages[-1] if state.messages else None
            answer = last.text if last is not None and last.role is Role.ASSISTANT else ""
            self.tracer.emit(EventType.FINAL, answer=answer)
        await self.save()
        token = None
        if reason is StopReason.INTERRUPT and state.interrupt is not None:
            token = f"{state.session_id}:{state.interrupt.id}"
        elif reason is StopReason.CANCELLED:
            token = f"{state.session_id}:"
        result = Result(
            answer=answer,
            output=self.output,
            stopped_reason=reason,
            state=state,
            trace=self.tracer.events,
            usage=state.usage.model_copy(),
            resume_token=token,
            interrupt=state.interrupt if reason is StopReason.INTERRUPT else None,
            error=error_data,
            message=message,
        )
        for hook in self.agent._hooks.on_run_end:
            replaced = await hook(self.ctx, result)
            if replaced is not None:
                result = replaced
        return result
