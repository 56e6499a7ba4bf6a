"""`Agent`: the public face of the kernel."""

from __future__ import annotations

import dataclasses
import functools
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn

import anyio

from ._channel import EventChannel
from ._output import OutputSpec
from ._run import Run
from ._trusted import assign
from .chain import MiddlewareChain
from .checkpoint import CheckpointStore, InMemoryCheckpointStore
from .context import Decision, ToolContext
from .errors import CheckpointConflict, ResumeError, SpineError
from .guards import Guards
from .messages import Message, Role, ToolCall, Usage
from .provider import Provider
from .registry import resolve_provider
from .result import Result
from .state import InterruptRequest, RunStatus, State
from .stop import StopReason
from .stream import RunStream
from .tools import Interrupt, Tool, tool, tool_output_text, valid_unicode
from .tracing import TraceEvent

__all__ = ["Agent"]

Input = str | Message | Sequence[Message]


class Agent:
    """A configured agent: a provider, tools, guards, a middleware onion and a checkpoint store.

    Args:
        model: "scheme:model" (resolved through the provider registry) or a `Provider`.
        tools: `Tool`s, or lists of them.
        guards: Per-run ceilings (default `Guards()`).
        middleware: Hook objects, outermost first (see `Middleware`).
        checkpoint: Where sessions are stored (default: a new `InMemoryCheckpointStore`).
        provider: An explicit provider instance (overrides `model`).
        system: System prompt, stored as the first message of each new session.
        name: Agent name (in traces and states, and the default `as_tool` name).
        parallel_tools: Run a batch of tool calls concurrently (results still appended in
            call order); a batch with an approval-gated call runs sequentially.
        tenant_id: Recorded on every session; budget middleware keys on it.
        output_type: A type (pydantic model, dataclass, TypedDict, ...) the final answer must
            validate as; `Result.output` holds the value.
        output_retries: Repair requests allowed when the output does not validate.
        settings: Provider settings sent on every call (see `spine_core.provider`).

    Attributes:
        tools: The tools by name; read it, or add and remove tools by name.
        chain: The `MiddlewareChain`.
        last_result: The `Result` of the latest run, resume or stream of this agent that
            ended in the calling task (a context variable: concurrent tasks sharing the agent
            each see their own). A stream's own result is also on its iterator's `result`.

    Raises:
        PluginNotFoundError: the model's scheme is not installed.
        TypeError: an entry of `tools` is not a `Tool`.
        ValueError: two tools share a name.
    """

    def __init__(
        self,
        model: str | Provider | None = None,
        *,
        tools: Iterable[Tool | Iterable[Tool]] | None = None,
        guards: Guards | None = None,
        middleware: Sequence[Any] | None = None,
        checkpoint: CheckpointStore | None = None,
        provider: Provider | None = None,
        system: str | None = None,
        name: str | None = None,
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
        self.tools: dict[str, Tool] = {}
        for item in _flatten(tools or ()):
            if item.name in self.tools:
                raise ValueError(f"two tools are named '{item.name}'; tool names must be unique")
            self.tools[item.name] = item
        self.guards = guards or Guards()
        self.chain = MiddlewareChain(middleware)
        self.checkpoint: CheckpointStore = checkpoint or InMemoryCheckpointStore()
        self.system = system
        self.name = name
        self.parallel_tools = parallel_tools
        self.tenant_id = tenant_id
        self.settings = dict(settings or {})
        self.output_spec = (
            OutputSpec(output_type, output_retries) if output_type is not None else None
        )
        if self.output_spec is not None:
            self.settings.update(self.output_spec.settings())
        self._last_result: ContextVar[Result | None] = ContextVar(
            f"spine_last_result_{id(self)}", default=None
        )

    @property
    def last_result(self) -> Result | None:
        return self._last_result.get()

    @last_result.setter
    def last_result(self, result: Result | None) -> None:
        self._last_result.set(result)

    @property
    def label(self) -> str:
        """The name used in states and traces: `name`, or "agent"."""
        return self.name or "agent"

    def needs_approval(self, call: ToolCall) -> bool:
        """Whether `call` names a tool gated behind human approval."""
        found = self.tools.get(call.name)
        return found is not None and found.approve

    async def _start(
        self,
        input: Input | None,
        session_id: str | None,
        *,
        depth: int = 0,
        message_history: Sequence[Message] | None = None,
    ) -> State:
        state = await self.checkpoint.get(session_id) if session_id else None
        if state is None:
            if input is None:
                raise SpineError(f"session '{session_id}' not found and no input given")
            state = State.new(session_id or uuid.uuid4().hex, self.label, self.tenant_id, depth)
            history = list(message_history or ())
            if self.system and not (history and history[0].role is Role.SYSTEM):
                state.messages.append(Message.system(self.system))
            state.messages.extend(history)
        elif input is not None and state.status is RunStatus.INTERRUPTED:
            raise SpineError(
                f"session '{state.session_id}' is waiting for a human decision; "
                "call resume() with its token first"
            )
        if input is None:
            state.status = RunStatus.RUNNING
            return state
        for call in state.pending_tool_calls():  # a stopped run left calls unanswered
            note = f"Not executed: the run stopped ({state.stopped_reason or 'unknown'})."
            state.messages.append(Message.tool(note, call.id, call.name, is_error=True))
        if isinstance(input, str):
            state.messages.append(Message.user(input if input.isascii() else valid_unicode(input)))
        elif isinstance(input, Message):
            state.messages.append(input)
        else:
            state.messages.extend(input)
        assign(  # trusted values, in one step rather than four validated assignments
            state,
            {
                "step": 0,
                "usage_at_run_start": state.usage.snapshot(),
                "status": RunStatus.RUNNING,
                "stopped_reason": None,
            },
        )
        return state

    def _run(self, state: State, options: _RunOptions, **kwargs: Any) -> Run:
        model = options.model
        provider = resolve_provider(model) if isinstance(model, str) else model
        return Run(
            self,
            state,
            deps=options.deps,
            settings=options.settings,
            provider=provider,
            system=options.system,
            **kwargs,
        )

    async def run(
        self,
        input: Input | None,
        *,
        session_id: str | None = None,
        should_cancel: Callable[[], bool] | None = None,
        deps: Any = None,
        settings: dict[str, Any] | None = None,
        model: str | Provider | None = None,
        system: str | None = None,
        message_history: Sequence[Message] | None = None,
    ) -> Result:
        """Run: add `input` to the session and loop until a stop reason.

        Args:
            input: The user's message (a string, a `Message` or a list of them). None continues
                the session from its checkpoint (e.g. after a crash) without adding input.
            session_id: Continue this session (created when missing); default a new one.
            should_cancel: Polled before each step and tool call; returning True stops the
                run with `StopReason.cancelled` and a resume token.
            deps: Any application object (a database handle, the user); tools get it as
                `ctx.deps` through a `ToolContext` parameter, middleware through `ctx.deps`.
            settings: Provider settings for this run only, over the agent's.
            model: A model ("scheme:model" or a `Provider`) for this run only.
            system: A system prompt for this run only (replaces the stored one on the calls of
                this run; the history is not changed).
            message_history: Messages that seed a new session (ignored when the session
                exists); the agent's system prompt goes first unless they start with one.

        A cancel from the caller's side (an enclosing `anyio.move_on_after`, a cancelled task)
        also checkpoints the session as cancelled before the cancellation propagates;
        `agent.last_result` then holds that Result and its resume token.

        Raises:
            CheckpointConflict: another worker committed to the session first.
            SpineError: the session is waiting on an interrupt, or not found with no input.
        """
        options = _RunOptions(deps, settings, model, system)
        state = await self._start(input, session_id, message_history=message_history)
        run = self._run(state, options, should_cancel=should_cancel)
        try:
            return await run.execute()
        finally:  # after an outer cancel too: the run checkpointed itself as cancelled
            self.last_result = run.result

    def stream(
        self,
        input: Input | None,
        *,
        session_id: str | None = None,
        should_cancel: Callable[[], bool] | None = None,
        deps: Any = None,
        settings: dict[str, Any] | None = None,
        model: str | Provider | None = None,
        system: str | None = None,
        message_history: Sequence[Message] | None = None,
    ) -> RunStream:
        """Run, yielding `TraceEvent`s live: token deltas (`token`), tool-call argument
        fragments (`tool_call_delta`), tool calls and results, and the rest of the trace.

        Use it as `async for event in agent.stream(...)`. When the iteration ends, the `Result`
        is on the iterator's `result` (this run's own) and on `agent.last_result`. Closing it
        early (leaving an `async with contextlib.aclosing(...)` block) cancels the run: the
        session is checkpointed as cancelled, with a resume token on the result. The
        arguments are those of `run`.
        """
        options = _RunOptions(deps, settings, model, system)

        async def begin(sink: EventChannel[TraceEvent]) -> Run:
            state = await self._start(input, session_id, message_history=message_history)
            return self._run(state, options, sink=sink, should_cancel=should_cancel)

        def finish(result: Result | None) -> None:
            self.last_result = result

        return RunStream(begin, finish)

    async def resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
        deps: Any = None,
    ) -> Result:
        """Continue a paused (human-in-the-loop) or cancelled run with a human decision, in
        this or any process sharing the checkpoint store.

        Args:
            token: The session id, or `Result.resume_token` (`"<session>:<interrupt id>"`,
                checked: a token of a pause already resolved raises `ResumeError`).
            decision: For an approval pause: `True`, "approve", "approved" or "yes" runs the
                tool (through the tool middleware, like any call); any other value rejects
                the call, and the model is shown the value (or `reason`). For a tool's own
                `Interrupt`, the decision is the tool's result.
            answer: For a tool's own `Interrupt`: the tool's result (takes precedence over
                `decision`). Not allowed on an approval pause.
            reason: Why the call was rejected (shown to the model).
            deps: The dependencies object for the continued run (see `run`).

        The decision is committed with a compare-and-set write before anything runs, so of
        several workers resuming one pause, exactly one acts on it.

        Raises:
            ResumeError: unknown session, nothing to resume, a stale token, `answer=` on an
                approval pause, or another worker resumed the pause first.
        """
        state, interrupt_id = await self._resolve_token(token)
        pending = state.pending
        if state.status is RunStatus.INTERRUPTED and pending is not None:
            if interrupt_id is not None and interrupt_id != pending.id:
                raise ResumeError(f"resume token '{token}' is stale: that pause was resolved")
            pending.decision = dataclasses.asdict(_decide(pending, decision, answer, reason))
        elif state.status is not RunStatus.CANCELLED or interrupt_id:
            stale = f"resume token '{token}' is stale: " if interrupt_id is not None else ""
            raise ResumeError(
                f"{stale}session '{state.session_id}' has nothing to resume: "
                f"it is {state.status.value}"
            )
        state.status = RunStatus.RUNNING
        try:
            await self.checkpoint.put(state)  # the claim: one resumer wins the revision
        except CheckpointConflict as exc:
            raise ResumeError(
                f"session '{state.session_id}' was resumed by another worker first"
            ) from exc
        run = self._run(state, _RunOptions(deps, None, None, None))
        try:
            return await run.execute()
        finally:
            self.last_result = run.result

    async def _resolve_token(self, token: str) -> tuple[State, str | None]:
        state = await self.checkpoint.get(token)
        if state is not None:
            return state, None
        session_id, colon, interrupt_id = token.rpartition(":")
        state = await self.checkpoint.get(session_id) if colon and session_id else None
        if state is None:
            raise ResumeError(f"no resumable run for token '{token}': no session by that id")
        return state, interrupt_id

    def run_sync(
        self, input: Input | None, *, session_id: str | None = None, **kwargs: Any
    ) -> Result:
        """`run` for synchronous code (same arguments). Each call runs on a new event loop
        and closes the clients it opened (provider, store) before returning; they reopen on
        the next call.

        Raises:
            RuntimeError: called inside a running event loop (await `run` there instead).
        """
        _no_running_loop("run_sync", "run")
        call = functools.partial(self.run, input, session_id=session_id, **kwargs)
        result = anyio.run(self._sync_call, call)
        self.last_result = result
        return result

    def resume_sync(self, token: str, decision: Any = "approve", **kwargs: Any) -> Result:
        """`resume` for synchronous code (same arguments).

        Raises:
            RuntimeError: called inside a running event loop (await `resume` there instead).
        """
        _no_running_loop("resume_sync", "resume")
        call = functools.partial(self.resume, token, decision, **kwargs)
        result = anyio.run(self._sync_call, call)
        self.last_result = result
        return result

    def as_tool(
        self, *, name: str | None = None, description: str | None = None, max_depth: int = 8
    ) -> Tool:
        """Expose this agent as a tool another agent can call (a sub-agent).

        Each call runs in its own child session (`<parent session>/<n>.<call id>`, n the
        position of the calling message in the parent's history, so a provider reusing call
        ids across turns never gets an old answer) at the parent's
        depth + 1, recorded in the child's `State.depth`; past `max_depth` the child stops with
        `StopReason.max_depth`, which reaches the parent as a tool error, so an A->B->A cycle
        is bounded. The child's usage is added to the parent's, and it gets the parent run's
        `deps`. Re-running a call that already completed returns its answer.

        A pause in the child (an approval or a tool's `Interrupt`) pauses the parent too: the
        parent's `InterruptRequest` has the child's kind and question, and `data` with the
        paused agent's `agent` name, `session_id`, paused `tool_call` and the pause's own data
        (through several levels of delegation, the innermost agent's). Resuming the parent
        hands the decision (approve, reject or answer) down to that agent, which continues.
        """
        agent = self
        label = name or self.name or "subagent"
        ceiling = (
            max_depth if self.guards.max_depth is None else min(max_depth, self.guards.max_depth)
        )
        guards = self.guards.model_copy(update={"max_depth": ceiling})

        async def delegate(input: str, ctx: ToolContext[Any]) -> str:
            session = _delegation_key(ctx)
            existing = await agent.checkpoint.get(session)
            before = existing.usage.model_copy() if existing is not None else Usage()
            if existing is not None and existing.status is RunStatus.DONE and existing.messages:
                return existing.messages[-1].text
            if existing is not None and existing.status is RunStatus.INTERRUPTED:
                if ctx.decision is None or existing.pending is None:
                    _pass_up(agent.label, existing)  # asked again before anyone decided
                existing.pending.decision = dataclasses.asdict(ctx.decision)
                existing.status = RunStatus.RUNNING
                state = existing
            else:
                start = None if existing is not None else input
                state = await agent._start(start, session, depth=ctx.depth + 1)
            result = await Run(agent, state, guards=guards, deps=ctx.deps).execute()
            ctx.state.usage.add(_since(result.state.usage, before))  # a resume adds the new part
            if result.stopped_reason is StopReason.INTERRUPT:
                _pass_up(agent.label, result.state)
            if not result.ok:
                detail = result.error or result.answer
                raise SpineError(
                    f"sub-agent '{agent.label}' stopped with {result.stopped_reason.value}"
                    + (f": {detail}" if detail else "")
                )
            return result.answer or ""

        delegate.__doc__ = """Delegate a task.

        Args:
            input: The task, in plain language, with everything the agent needs to know.
        """
        delegation = tool(
            name=label,
            description=description or f"Delegate a task to the '{label}' agent.",
        )(delegate)
        delegation.forwards_decisions = True
        return delegation

    async def aclose(self) -> None:
        """Close the clients the agent's provider, checkpoint store and tools' sub-agents made
        (each closes only what it created; all reopen on their next use)."""
        for owner in (self.provider, self.checkpoint):
            close = getattr(owner, "aclose", None)
            if close is not None:
                await close()

    async def _sync_call(self, call: Callable[[], Awaitable[Result]]) -> Result:
        """One `run_sync` / `resume_sync` call: its event loop ends with the call, so the
        loop-bound clients it opened (HTTP pools, Redis, asyncpg) are closed on that loop."""
        try:
            return await call()
        finally:
            with anyio.CancelScope(shield=True):
                await self.aclose()

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclasses.dataclass(slots=True, frozen=True)
class _RunOptions:
    deps: Any
    settings: dict[str, Any] | None
    model: str | Provider | None
    system: str | None


_APPROVALS = frozenset({"approve", "approved", "yes"})


def _decide(pending: InterruptRequest, decision: Any, answer: Any, reason: str | None) -> Decision:
    """The `Decision` that `resume`'s arguments make for this pause."""
    if pending.kind == "input":
        value = answer if answer is not None else decision
        return Decision(action="answer", answer=tool_output_text(value))
    if answer is not None:
        raise ResumeError(
            "this pause asks for an approval: pass decision='approve' (or a rejection), not answer="
        )
    if decision is True or (isinstance(decision, str) and decision.strip().lower() in _APPROVALS):
        return Decision(action="approve")
    if reason is None and decision != "reject":
        reason = decision if isinstance(decision, str) else f"decision {decision!r}"
    return Decision(action="reject", reason=reason)


def _delegation_key(ctx: ToolContext[Any]) -> str:
    """The child session of this delegation: unique per call in the parent's history, and the
    same when the parent resumes the call."""
    messages = ctx.state.messages
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role is Role.ASSISTANT and any(c.id == ctx.call.id for c in message.tool_calls):
            return f"{ctx.session_id}/{index}.{ctx.call.id}"
    return f"{ctx.session_id}/{ctx.call.id}"


def _since(total: Usage, before: Usage) -> Usage:
    """The part of `total` added after `before` was taken."""
    return Usage(**{k: v - getattr(before, k) for k, v in total.__dict__.items()})


def _pass_up(name: str, child: State) -> NoReturn:
    """Raise the paused child's interrupt as the parent's own."""
    pause = child.pending
    if pause is None:
        raise SpineError(f"sub-agent '{name}' is interrupted but has no pending question")
    data = {
        "agent": name,
        "session_id": child.session_id,
        "tool_call": pause.tool_call.model_dump(mode="json"),
        **pause.data,
    }
    raise Interrupt(pause.question, data=data, kind=pause.kind)


def _flatten(tools: Iterable[Tool | Iterable[Tool]]) -> Iterator[Tool]:
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
