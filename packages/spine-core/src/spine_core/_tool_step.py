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
from .tools import Interrupt, tool_output_text
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
    decision = run.take_decision(calls[0])
    needs_approval = [run.agent._needs_approval(call) for call in calls]
    if run.agent.parallel_tools and len(calls) > 1 and decision is None and not any(needs_approval):
        return await _parallel(run, calls)
    for index, call in enumerate(calls):
        if run.cancelled():
            return StopReason.CANCELLED
        given = decision if index == 0 else None
        if given is None and needs_approval[index]:
            question = (
                f"Approve the call to '{call.name}' with arguments {json.dumps(call.arguments)}?"
            )
            return _pause(run, call, "approval", question, {})
        outcome = await _execute(run, call, given)
        if outcome.interrupt is not None:
            interrupt = outcome.interrupt
            return _pause(run, call, interrupt.kind, interrupt.question, interrupt.data)
        run.state.messages.append(Message.tool(call, outcome.text, is_error=outcome.is_error))
        await run.save()
    return None


async def _parallel(run: Run, calls: list[ToolCall]) -> StopReason | None:
    outcomes = [_Outcome() for _ in calls]

    async def one(index: int) -> None:
        try:
            outcomes[index] = await _execute(run, calls[index], None)
        except Exception as exc:  # re-raised below, after every call finished
            outcomes[index] = _Outcome(failure=exc)

    async with anyio.create_task_group() as tg:
        for index in range(len(calls)):
            tg.start_soon(one, index)
    for outcome in outcomes:
        if outcome.failure is not None:
            raise outcome.failure
    paused = None
    for call, outcome in zip(calls, outcomes, strict=True):
        if outcome.interrupt is None:
            run.state.messages.append(Message.tool(call, outcome.text, is_error=outcome.is_error))
        elif paused is None:
            paused = (call, outcome.interrupt)
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
    run.state.interrupt = request
    run.tracer.emit(EventType.INTERRUPT, **request.model_dump(mode="json"))
    return StopReason.INTERRUPT


async def _execute(run: Run, call: ToolCall, decision: Decision | None) -> _Outcome:
    agent = run.agent
    tool = agent._tools_by_name.get(call.name)
    ctx = ToolContext(run=run.ctx, call=call, tool=tool, arguments=dict(call.arguments))
    ctx.decision = decision
    run.tracer.emit(EventType.TOOL_CALL, id=call.id, name=call.name, arguments=call.arguments)
    outcome = _Outcome(is_error=True)
    # A tool that forwards decisions (a sub-agent) is invoked and takes `ctx.decision` itself.
    human = None if tool is not None and tool.forwards_decisions else decision
    if human is not None and human.action == "reject":
        outcome.text = "The user rejected this tool call" + (
            f": {human.reason}" if human.reason else "."
        )
    elif human is not None and human.action == "answer":
        outcome = _Outcome(text=human.answer or "")
    elif call.arguments_error is not None:
        outcome.text = f"Invalid arguments for tool '{call.name}': {call.arguments_error}"
    elif tool is None:
        names = ", ".join(sorted(agent._tools_by_name)) or "none"
        outcome.text = f"Unknown tool '{call.name}'. Available tools: {names}."
    else:
        short: str | None = None
        for hook in agent._hooks.before_tool:
            short = await hook(ctx)
            if short is not None:
                break
        if short is not None:  # the hook answered; it may have flagged the answer an error
            outcome = _Outcome(text=short, is_error=ctx.is_error)
        else:
            outcome = await _invoke(run, ctx)
        if outcome.interrupt is not None:
            return outcome
    for after in agent._hooks.after_tool:
        ctx.is_error = outcome.is_error
        replaced = await after(ctx, outcome.text)
        if replaced is not None:
            outcome.text = replaced
    run.tracer.emit(
        EventType.TOOL_RESULT,
        id=call.id,
        name=call.name,
        result=outcome.text,
        is_error=outcome.is_error,
    )
    return outcome


async def _invoke(run: Run, ctx: ToolContext) -> _Outcome:
    assert ctx.tool is not None
    while True:
        try:
            if ctx.timeout_s is None:
                value = await ctx.tool.invoke(ctx.arguments, ctx)
            else:
                with anyio.fail_after(ctx.timeout_s):
                    value = await ctx.tool.invoke(ctx.arguments, ctx)
            return _Outcome(text=tool_output_text(value))
        except Interrupt as exc:
            return _Outcome(interrupt=exc)
        except ToolValidationError as exc:
            return _Outcome(text=str(exc), is_error=True)
        except StopRun:
            raise
        except Exception as exc:
            action: ErrorAction | None = None
            for hook in run.agent._hooks.on_error:
                action = await hook(ctx, exc)
                if action is not None:
                    break
            if action is ErrorAction.FAIL:
                raise
            retry = action in (ErrorAction.RETRY, ErrorAction.FALLBACK)
            if retry and ctx.attempt + 1 < run.guards.max_retries_per_step:
                ctx.attempt += 1
                continue
            if isinstance(exc, TimeoutError) and ctx.timeout_s is not None:
                return _Outcome(
                    text=f"Tool '{ctx.call.name}' timed out after {ctx.timeout_s:g} s",
                    is_error=True,
                )
            return _Outcome(
                text=f"Tool '{ctx.call.name}' failed: {type(exc).__name__}: {exc}", is_error=True
            )
