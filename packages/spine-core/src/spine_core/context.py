"""What middleware hooks and tools see: `StepContext` for a step, `ToolContext` for a call."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from .messages import Message, ModelResponse, ToolCall, Usage
from .state import State
from .tracing import Tracer

if TYPE_CHECKING:
    from .tools import Tool

__all__ = ["Decision", "StepContext", "ToolContext"]

DepsT = TypeVar("DepsT")


@dataclass(slots=True, frozen=True)
class Decision:
    """A human's answer to an interrupt: approve, reject (with a reason) or answer (text)."""

    action: Literal["approve", "reject", "answer"]
    reason: str | None = None
    answer: str | None = None

    @property
    def approved(self) -> bool:
        return self.action == "approve"


class StepContext(Generic[DepsT]):
    """Mutable per-step context shared across the model-call hooks.

    Middleware may rewrite `messages` (reassign it to leave the stored history alone), edit
    `tools` or `settings`, swap the `provider`, preset `response` in `before_model` to skip
    the provider (a cache hit, a replay), and read or replace `response` in `after_model`.
    Setting `force_continue` asks for another model call even when the response has no tool
    calls (a repair loop). `extra` is per-run scratch space for middleware: keep per-run data
    there, never on the middleware object, so one instance serves concurrent runs. `deps` is
    the application object passed to `Agent.run(deps=...)`.

    Attributes:
        state: The session state (`state.messages` is the stored history).
        messages: What the next model call sends (by default the history itself).
        tools: The tools offered to the model on this call.
        provider: The provider of this call.
        response: The model's response, once there is one.
        attempt: Retries already spent on this step's model call.
        force_continue: Request another turn without tool calls.
        extra: Per-run middleware storage (not persisted).
        settings: Provider settings of this call (temperature, tool_choice, ...).
        agent: The agent's name.
        deadline: `time.monotonic()` value at which the run times out, or None.
        deps: The run's dependencies object (None when not given).
        tracer: The run's `Tracer` (`tracer.events`: the trace so far); a fresh one when
            the context is built without one.
    """

    __slots__ = (
        "agent",
        "attempt",
        "deadline",
        "deps",
        "extra",
        "force_continue",
        "messages",
        "provider",
        "response",
        "settings",
        "state",
        "tools",
        "tracer",
    )

    def __init__(
        self,
        state: State,
        messages: list[Message],
        tools: list[Tool],
        provider: Any = None,
        *,
        tracer: Tracer | None = None,
    ) -> None:
        self.state = state
        self.messages = messages
        self.tools = tools
        self.provider = provider
        self.response: ModelResponse | None = None
        self.attempt = 0
        self.force_continue = False
        self.extra: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}
        self.agent: str = state.agent
        self.deadline: float | None = None
        self.deps: DepsT = None  # type: ignore[assignment]
        self.tracer = tracer if tracer is not None else Tracer()

    @property
    def session_id(self) -> str:
        return self.state.session_id

    @property
    def tenant_id(self) -> str | None:
        return self.state.tenant_id

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def depth(self) -> int:
        return self.state.depth

    @property
    def usage(self) -> Usage:
        """Tokens and USD of the current run so far."""
        return self.state.run_usage

    def time_left(self) -> float | None:
        """Seconds until the run's timeout, or None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()


class ToolContext(Generic[DepsT]):
    """Mutable per-tool-call context shared across the tool hooks (and given to tools).

    `before_tool` may rewrite `args`, set `timeout_s` (seconds; running over it is a tool
    error), or answer the call itself: set `result` and `skip = True` (and `is_error = True`
    to make that answer an error). `after_tool` reads and may replace `result` (the tool's
    return value, or the error text) and `error` (the exception, None on success); the call
    is reported as an error while `error` is set or `is_error` is True. A tool declares a
    parameter typed `ToolContext` (or `ToolContext[MyDeps]`) to receive it; `deps` is the
    run's dependencies object.

    Attributes:
        state: The session state.
        tool: The called tool (None when the model named an unknown tool).
        call: The model's tool call.
        args: The arguments the tool will receive (a copy of `call.arguments`).
        result: The tool's result, once there is one.
        error: The exception the tool raised, if any.
        timeout_s: Per-call timeout in seconds, or None.
        skip: Set by `before_tool` to use `result` without calling the tool.
        is_error: Marks `result` as an error result.
        decision: The human's decision when the call resumes after an interrupt.
        attempt: Retries already spent on this call.
        run: The run's `StepContext`.
        deps: The run's dependencies object.
    """

    __slots__ = (
        "args",
        "attempt",
        "call",
        "decision",
        "deps",
        "error",
        "is_error",
        "result",
        "run",
        "skip",
        "state",
        "timeout_s",
        "tool",
    )

    def __init__(
        self,
        state: State,
        tool: Tool | None,
        call: ToolCall,
        *,
        run: StepContext[DepsT] | None = None,
    ) -> None:
        self.state = state
        self.tool = tool
        self.call = call
        self.args: dict[str, Any] = dict(call.arguments)
        self.result: Any = None
        self.error: Exception | None = None
        self.timeout_s: float | None = None
        self.skip = False
        self.is_error = False
        self.decision: Decision | None = None
        self.attempt = 0
        self.run: StepContext[DepsT] = run if run is not None else StepContext(state, [], [])
        self.deps: DepsT = self.run.deps

    @property
    def session_id(self) -> str:
        return self.state.session_id

    @property
    def tenant_id(self) -> str | None:
        return self.state.tenant_id

    @property
    def depth(self) -> int:
        return self.state.depth

    @property
    def extra(self) -> dict[str, Any]:
        """The run's per-run middleware storage (`StepContext.extra`)."""
        return self.run.extra
