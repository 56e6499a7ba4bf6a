"""Executing a model's tool calls: approvals, interrupts, hooks, errors as tool results, and
parallel batches whose results are appended in call order."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .context import Decision, ToolContext
from .errors import ToolValidationError
from .messages import Message, ToolCall
from .middleware import ErrorAction, StopRun
from .state import InterruptRequest
from .stop import StopReason
from .tools import Interrupt, Tool, tool_output_text
from .tracing import EventType

if TYPE_CHECKING:
    from ._run import Run


@dataclass(slots=True)
class _Outcome:
    text: str = ""
    is_error: bool = False
    interrupt: Interrupt | None = None
    failure: Exception | None = None


async def run_tool_calls(run: Run, calls: list[ToolCall]) -> StopReason | None:
    """Answer `calls` (the pending calls of the last assistant message), checkpointing as
    results land. Returns interrupt / cancelled when the batch pauses, else None."""
    waiting = run.state.pending
    if waiting is not None and waiting.decision is None and waiting.tool_call.id == calls[0].id:
        return StopReason.INTERRUPT  # continued without a decision: the pause (and token) stay
    decision = run.take_decision(calls[0]) if waiting is not None else None
    agent = run.agent
    if (
        agent.parallel_tools
        and len(calls) > 1
        and decision is None
        and not any(agent.needs_approval(call) for call in calls)
    ):
        return await _parallel(run, calls)
    messages = run.state.messages
    for index, call in enumerate(calls):
        if run.should_cancel is not None and run.should_cancel():
            return StopReason.CANCELLED
        given = decision if index == 0 else None
        if given is None and agent.needs_approval(call):
            question = (
                f"Approve the call to '{call.name}' with arguments {json.dumps(call.arguments)}?"
            )
            data = {"tool": call.name, "arguments": call.arguments}
            return _pause(run, call, "approval", question, data)
        outcome = await _execute(run, call, given)
        if outcome.interrupt is not None:
            interrupt = outcome.interrupt
            return _pause(run, call, interrupt.kind, interrupt.question, interrupt.data)
        messages.append(Message.tool(outcome.text, call.id, call.name, is_error=outcome.is_error))
        await run.save()
    return None


def _result_message(call: ToolCall, outcome: _Outcome) -> Message:
    return Message.tool(outcome.text, call.id, call.name, is_error=outcome.is_error)


# state.scratch key of a parallel batch's results that are checkpointed but not yet appended
# (the history gets them in call order once the whole batch is done).
_BATCH = "spine.batch_results"


async def _parallel(run: Run, calls: list[ToolCall]) -> StopReason | None:
    state = run.state
    done: dict[str, dict[str, Any]] = state.scratch.setdefault(_BATCH, {})
    outcomes = [
        _Outcome(text=done[c.id]["text"], is_error=done[c.id]["is_error"]) if c.id in done else None
        for c in calls
    ]
    lock = anyio.Lock()

    async def one(index: int) -> None:
        call = calls[index]
        try:
            outcome = await _execute(run, call, None)
        except Exception as exc:  # re-raised below, after every call finished
            outcome = _Outcome(failure=exc)
        outcomes[index] = outcome
        if outcome.failure is None and outcome.interrupt is None:
            async with lock:  # checkpoint each finished call: a crash does not re-run it
                done[call.id] = {"text": outcome.text, "is_error": outcome.is_error}
                await run.save()

    async with anyio.create_task_group() as tg:
        for index, outcome in enumerate(outcomes):
            if outcome is None:
                tg.start_soon(one, index)
    finished = [o for o in outcomes if o is not None]
    for outcome in finished:
        if outcome.failure is not None:
            raise outcome.failure
    paused = None
    for call, outcome in zip(calls, finished, strict=True):
        if outcome.interrupt is None:
            state.messages.append(_result_message(call, outcome))
        elif paused is None:
            paused = (call, outcome.interrupt)
    state.scratch.pop(_BATCH, None)
    await run.save()
    if paused is not None:
        call, interrupt = paused
        return _pause(run, call, interrupt.kind, interrupt.question, interrupt.data)
    return None


def _pause(
    run: Run,
    call: ToolCall,
    kind: Literal["approval", "input"],
    question: str,
    data: dict[str, Any],
) -> StopReason:
    request = InterruptRequest(
        id=uuid.uuid4().hex[:16], kind=kind, tool_call=call, question=question, data=data
    )
    run.state.pending = request
    run.tracer.emit(EventType.INTERRUPT, **request.model_dump(mode="json", exclude={"decision"}))
    return StopReason.INTERRUPT


async def _execute(run: Run, call: ToolCall, decision: Decision | None) -> _Outcome:
    agent = run.agent
    tool = agent.tools.get(call.name)
    run.tracer.emit(EventType.TOOL_CALL, id=call.id, name=call.name, arguments=call.arguments)
    hooks = agent.chain.present
    if (  # nothing can see a ToolContext: call the tool directly
        tool is not None
        and decision is None
        and call.arguments_error is None
        and tool.context_param is None
        and "before_tool" not in hooks
        and "after_tool" not in hooks
        and "on_error" not in hooks
    ):  # awaited here, not in a coroutine of its own: this is every plain step's path
        try:
            if type(tool) is Tool and tool._is_async:  # without `Tool.call`'s coroutine too
                result = await tool.func(**tool.validate(call.arguments))
            else:
                result = await tool.call(call.arguments)
        except StopRun:
            raise
        except Exception as exc:
            outcome = _plain_failure(call, exc)
        else:
            outcome = _Outcome(text=tool_output_text(result))
    else:
        outcome = await _call_hooked(run, tool, call, decision)
    if outcome.interrupt is None:
        run.tracer.emit(
            EventType.TOOL_RESULT,
            id=call.id,
            name=call.name,
            result=outcome.text,
            is_error=outcome.is_error,
        )
    return outcome


def _plain_failure(call: ToolCall, exc: Exception) -> _Outcome:
    """What a call no middleware observes turns an exception into: a pause for an
    `Interrupt`, else the error text the model is shown."""
    if isinstance(exc, Interrupt):
        return _Outcome(interrupt=exc)
    if isinstance(exc, ToolValidationError):
        return _Outcome(text=str(exc), is_error=True)
    return _Outcome(text=f"Tool '{call.name}' failed: {type(exc).__name__}: {exc}", is_error=True)


async def _call_hooked(
    run: Run, tool: Tool | None, call: ToolCall, decision: Decision | None
) -> _Outcome:
    agent = run.agent
    ctx: ToolContext[Any] = ToolContext(run.state, tool, call, run=run.ctx)
    ctx.decision = decision
    # A tool that forwards decisions (a sub-agent) is invoked and takes `ctx.decision` itself.
    human = None if tool is not None and tool.forwards_decisions else decision
    if human is not None and human.action == "reject":
        ctx.result = "The user rejected this tool call" + (
            f": {human.reason}" if human.reason else "."
        )
        ctx.is_error = True
    elif human is not None and human.action == "answer":
        ctx.result = human.answer or ""
    elif call.arguments_error is not None:
        ctx.result = f"Invalid arguments for tool '{call.name}': {call.arguments_error}"
        ctx.is_error = True
    elif tool is None:
        names = ", ".join(sorted(agent.tools)) or "none"
        ctx.result = f"Unknown tool '{call.name}'. Available tools: {names}."
        ctx.is_error = True
    else:
        if "before_tool" in agent.chain.present:
            await agent.chain.before_tool(ctx)
        if not ctx.skip:
            interrupt = await _invoke(run, ctx)
            if interrupt is not None:
                return _Outcome(interrupt=interrupt)
    if "after_tool" in agent.chain.present:
        await agent.chain.after_tool(ctx)
    return _Outcome(
        text=tool_output_text(ctx.result), is_error=ctx.is_error or ctx.error is not None
    )


async def _invoke(run: Run, ctx: ToolContext[Any]) -> Interrupt | None:
    """Call the tool, setting `ctx.result` (and `ctx.error` with its text as the result on a
    failure); returns the tool's `Interrupt` when it asks a human."""
    assert ctx.tool is not None
    while True:
        try:
            if ctx.timeout_s is None:
                ctx.result = await ctx.tool.call(ctx.args, ctx)
            else:
                with anyio.fail_after(ctx.timeout_s):
                    ctx.result = await ctx.tool.call(ctx.args, ctx)
            return None
        except Interrupt as exc:
            return exc
        except ToolValidationError as exc:
            ctx.error, ctx.result = exc, str(exc)
            return None
        except StopRun:
            raise
        except Exception as exc:
            action = await run.agent.chain.on_error(ctx, exc)
            if action is ErrorAction.FAIL:
                raise
            retry = action in (ErrorAction.RETRY, ErrorAction.FALLBACK)
            if retry and ctx.attempt + 1 < run.guards.max_retries_per_step:
                ctx.attempt += 1
                continue
            ctx.error = exc
            if isinstance(exc, TimeoutError) and ctx.timeout_s is not None:
                ctx.result = f"Tool '{ctx.call.name}' timed out after {ctx.timeout_s:g} s"
            else:
                ctx.result = f"Tool '{ctx.call.name}' failed: {type(exc).__name__}: {exc}"
            return None
