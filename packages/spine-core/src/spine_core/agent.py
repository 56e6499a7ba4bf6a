"""`Agent`: the public face of the kernel."""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Literal, NoReturn

import anyio

from ._hooks import Hooks
from ._output import OutputSpec
from ._run import Run
from .checkpoint import CheckpointStore, InMemoryCheckpointStore
from .context import Decision, ToolContext
from .errors import SpineError
from .guards import Guards
from .messages import Message, Usage
from .providers import Provider
from .registry import resolve_provider
from .result import Result
from .state import SessionStatus, State
from .stop import StopReason
from .tools import Interrupt, Tool, tool
from .tracing import TraceEvent

__all__ = ["Agent"]

Input = str | Message | Sequence[Message]


class Agent:
    """An LLM agent: a model, tools, middleware, guards and a checkpoint store.

    Args:
        model: "scheme:model" (resolved through the provider registry) or a `Provider`.
        tools: `Tool`s, or lists of them.
        guards: Per-run ceilings (default `Guards()`).
        middleware: Hook objects, outermost first.
        checkpoint: Where sessions are stored (default: a new `InMemoryCheckpointStore`).
        provider: An explicit provider instance (overrides `model`).
        system: System prompt, sent first on every call and never stored in the history.
        name: Agent name (in traces, states and as the default `as_tool` name).
        parallel_tools: Run a batch of tool calls concurrently (results still appended in
            call order); a batch with an approval-gated call runs sequentially.
        tenant_id: Recorded on every session; budget middleware keys on it.
        output_type: A type (pydantic model, dataclass, TypedDict, ...) the final answer must
            validate as; `Result.output` holds the value.
        output_retries: Repair requests allowed when the output does not validate.
        settings: Provider settings sent on every call (see `spine_core.providers`).

    Raises:
        PluginNotFoundError: the model's scheme is not installed.
        TypeError: an entry of `tools` is not a `Tool`.
    """

    def __init__(
        self,
        model: str | Provider | None = None,
        *,
        tools: Iterable[Tool | Iterable[Tool]] = (),
        guards: Guards | None = None,
        middleware: Sequence[Any] = (),
        checkpoint: CheckpointStore | None = None,
        provider: Provider | None = None,
        system: str | None = None,
        name: str = "agent",
        parallel_tools: bool = False,
        tenant_id: str | None = None,
        output_type: Any = None,
        output_retries: int = 2,
        settings: dict[str, Any] | None = None,
    ) -> None:
        if provider is None:
            if model is None:
                raise TypeError("Agent needs a model ('scheme:model') or a provider")
            provider = resolve_provider(model) if isinstance(model, str) else model
        self.provider: Provider = provider
        self.tools = tuple(_flatten(tools))
        self._tool_list = list(self.tools)
        self._tools_by_name = {t.name: t for t in self.tools}
        self.guards = guards or Guards()
        self.middleware = tuple(middleware)
        self._hooks = Hooks.build(self.middleware)
        self.checkpoint: CheckpointStore = checkpoint or InMemoryCheckpointStore()
        self.system = system
        self._prefix = [Message.system(system)] if system else []
        self.name = name
        self.parallel_tools = parallel_tools
        self.tenant_id = tenant_id
        self.settings = dict(settings or {})
        self._output = OutputSpec(output_type, output_retries) if output_type is not None else None
        if self._output is not None:
            self.settings.update(self._output.settings())
        self.last_result: Result | None = None

    def _needs_approval(self, call: Any) -> bool:
        found = self._tools_by_name.get(call.name)
        return found is not None and found.approve

    async def _start(self, input: Input | None, session_id: str | None, depth: int = 0) -> State:
        state = await self.checkpoint.get(session_id) if session_id else None
        if state is None:
            if input is None:
                raise SpineError(f"session '{session_id}' not found and no input given")
            state = State(
                session_id=session_id or uuid.uuid4().hex,
                agent=self.name,
                tenant_id=self.tenant_id,
                depth=depth,
            )
        elif input is not None and state.status is SessionStatus.INTERRUPTED:
            raise SpineError(
                f"session '{state.session_id}' is waiting for a human decision; "
                "call resume() with its token first"
            )
        if input is None:
            state.status = SessionStatus.RUNNING
            return state
        for call in state.pending_tool_calls():  # a stopped turn left calls unanswered
            note = f"Not executed: the run stopped ({state.stopped_reason or 'unknown'})."
            state.messages.append(Message.tool(call, note, is_error=True))
        if isinstance(input, str):
            state.messages.append(Message.user(input))
        elif isinstance(input, Message):
            state.messages.append(input)
        else:
            state.messages.extend(input)
        state.step = 0
        state.usage = Usage()
        state.status = SessionStatus.RUNNING
        state.stopped_reason = None
        return state

    async def run(
        self,
        input: Input | None,
        *,
        session_id: str | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Result:
        """Run a turn: add `input` to the session and loop until a stop reason.

        Args:
            input: The user's message(s). None continues the session from its checkpoint
                (e.g. after a crash) without adding input.
            session_id: Continue this session (created when missing); default a new one.
            should_cancel: Polled before each step and tool call; returning True stops the
                run with `StopReason.cancelled` and a resume token.

        A cancel from the caller's side (an enclosing `anyio.move_on_after`, a cancelled task)
        also checkpoints the session as cancelled before the cancellation propagates;
        `agent.last_result` then holds that Result and its resume token.

        Raises:
            CheckpointConflict: another worker committed to the session first.
            SpineError: the session is waiting on an interrupt, or not found with no input.
        """
        state = await self._start(input, session_id)
        run = Run(self, state, should_cancel=should_cancel)
        try:
            return await run.execute()
        finally:  # after an outer cancel too: the run checkpointed itself as cancelled
            self.last_result = run.result

    async def stream(
        self,
        input: Input | None,
        *,
        session_id: str | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> AsyncIterator[TraceEvent]:
        """Run a turn, yielding `TraceEvent`s live (token deltas included); the `Result` is
        on `agent.last_result` when the iteration ends. Closing it early (e.g. leaving an
        `async with contextlib.aclosing(...)` block) cancels the run: the session is
        checkpointed as cancelled and `agent.last_result.resume_token` continues it."""
        state = await self._start(input, session_id)
        send, receive = anyio.create_memory_object_stream[TraceEvent](math.inf)
        failure: list[BaseException] = []

        run = Run(self, state, sink=send, should_cancel=should_cancel)

        async def produce() -> None:
            async with send:
                try:
                    await run.execute()
                except Exception as exc:
                    failure.append(exc)
                finally:  # also after an early close: the run checkpointed as cancelled
                    self.last_result = run.result

        async with anyio.create_task_group() as tg, receive:
            tg.start_soon(produce)
            try:
                async for event in receive:
                    yield event
            except GeneratorExit:  # the consumer closed the stream early: cancel the run
                tg.cancel_scope.cancel()
                return
        if failure:
            raise failure[0]

    async def resume(
        self,
        token: str,
        decision: Literal["approve", "reject"] = "approve",
        *,
        reason: str | None = None,
        answer: str | None = None,
    ) -> Result:
        """Continue a paused or cancelled run, in this or any process sharing the store.

        Args:
            token: `Result.resume_token`.
            decision: For an approval pause: "approve" runs the tool, "reject" returns
                `reason` to the model as the tool's error.
            reason: Why the call was rejected (shown to the model).
            answer: For an `Interrupt` raised by a tool: the human's answer, used as the
                tool's result.

        Raises:
            SpineError: unknown session, or a stale token (the session is no longer waiting
                on that interrupt).
        """
        session_id, _, interrupt_id = token.rpartition(":")
        state = await self.checkpoint.get(session_id)
        if state is None:
            raise SpineError(f"no session '{session_id}' in the checkpoint store")
        choice = None
        if interrupt_id:
            if state.interrupt is None or state.interrupt.id != interrupt_id:
                raise SpineError(
                    f"resume token '{token}' is stale: that pause was already resolved"
                )
            action = "answer" if answer is not None else decision
            choice = Decision(action=action, reason=reason, answer=answer)
        elif state.status is not SessionStatus.CANCELLED:  # a cancel token, already used
            raise SpineError(
                f"resume token '{token}' is stale: the session is {state.status.value}, "
                "not cancelled"
            )
        state.status = SessionStatus.RUNNING
        self.last_result = await Run(self, state, decision=choice).execute()
        return self.last_result

    def run_sync(self, input: Input | None, **kwargs: Any) -> Result:
        """`run` for synchronous code.

        Raises:
            RuntimeError: called inside a running event loop (await `run` there instead).
        """
        _no_running_loop("run_sync", "run")
        return anyio.run(functools.partial(self.run, input, **kwargs))

    def resume_sync(
        self, token: str, decision: Literal["approve", "reject"] = "approve", **kwargs: Any
    ) -> Result:
        """`resume` for synchronous code.

        Raises:
            RuntimeError: called inside a running event loop (await `resume` there instead).
        """
        _no_running_loop("resume_sync", "resume")
        return anyio.run(functools.partial(self.resume, token, decision, **kwargs))

    def as_tool(
        self, *, name: str | None = None, description: str | None = None, max_depth: int = 8
    ) -> Tool:
        """This agent as a tool of another agent.

        Each call runs in its own child session (`<parent session>/<call id>`) at the parent's
        depth + 1, recorded in the child's `State.depth`; past `max_depth` the child stops with
        `StopReason.max_depth`, which reaches the parent as a tool error. The child's usage is
        added to the parent's. Re-running a call that already completed returns its answer.

        A pause in the child (an approval or a tool's `Interrupt`) pauses the parent too: the
        parent's `InterruptRequest` has the child's kind and question, and `data` with the
        paused agent's `agent` name, `session_id`, paused `tool_call` and the pause's own data
        (through several levels of delegation, the innermost agent's). Resuming the parent
        hands the decision (approve, reject or answer) down to that agent, which continues.
        """
        agent = self
        guards = dataclasses.replace(self.guards, max_depth=min(max_depth, self.guards.max_depth))

        async def delegate(input: str, ctx: ToolContext) -> str:
            session = f"{ctx.session_id}/{ctx.call.id}"
            existing = await agent.checkpoint.get(session)
            if existing is not None and existing.status is SessionStatus.COMPLETED:
                return existing.messages[-1].text
            if existing is not None and existing.status is SessionStatus.INTERRUPTED:
                if ctx.decision is None or existing.interrupt is None:
                    _pass_up(agent.name, existing)  # asked again before anyone decided
                existing.status = SessionStatus.RUNNING
                run = Run(agent, existing, guards=guards, decision=ctx.decision)
            else:
                start = None if existing is not None else input
                state = await agent._start(start, session, depth=ctx.depth + 1)
                run = Run(agent, state, guards=guards)
            result = await run.execute()
            ctx.state.usage.add(result.usage)
            if result.stopped_reason is StopReason.INTERRUPT:
                _pass_up(agent.name, result.state)
            if not result.ok:
                detail = f": {result.message}" if result.message else ""
                raise SpineError(
                    f"sub-agent '{agent.name}' stopped with {result.stopped_reason.value}{detail}"
                )
            return result.answer

        delegate.__doc__ = """Delegate a task.

        Args:
            input: The task, in plain language, with everything the agent needs to know.
        """
        delegation = tool(
            name=name or self.name,
            description=description or f"Ask the '{self.name}' agent to do a task and report back.",
        )(delegate)
        delegation.forwards_decisions = True
        return delegation

    async def aclose(self) -> None:
        """Close the provider's client (and anything else the agent owns that can close)."""
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _pass_up(name: str, child: State) -> NoReturn:
    """Raise the paused child's interrupt as the parent's own."""
    pause = child.interrupt
    if pause is None:
        raise SpineError(f"sub-agent '{name}' is interrupted but has no pending question")
    data = {
        "agent": name,
        "session_id": child.session_id,
        "tool_call": pause.tool_call.model_dump(mode="json"),
        **pause.data,
    }
    raise Interrupt(pause.question, data=data, kind=pause.kind)


def _flatten(tools: Iterable[Tool | Iterable[Tool]]) -> Iterable[Tool]:
    for item in tools:
        if isinstance(item, Tool):
            yield item
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes):
            yield from _flatten(item)
        else:
            raise TypeError(f"not a Tool: {item!r} (decorate the function with @tool)")


def _no_running_loop(name: str, async_name: str) -> None:
    if _in_event_loop():
        raise RuntimeError(
            f"Agent.{name}() was called inside a running event loop; "
            f"use `await agent.{async_name}(...)` instead"
        )


def _in_event_loop() -> bool:
    """True inside a running asyncio or trio loop (asyncio never imported means none runs)."""
    asyncio = sys.modules.get("asyncio")
    probes = ([asyncio.get_running_loop] if asyncio is not None else []) + [anyio.get_current_task]
    for probe in probes:
        try:
            probe()
            return True
        except RuntimeError:
            pass
    return False
