"""`TemporalAgent`: a Spine agent whose runs are Temporal workflows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from temporalio.common import RetryPolicy

from spine_core import Agent, Message, ProviderErrorKind, Result

from ._payloads import RunRequest

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from .client import RunHandle

__all__ = ["NON_RETRYABLE_KINDS", "ActivityOptions", "TemporalAgent"]

NON_RETRYABLE_KINDS: frozenset[ProviderErrorKind] = frozenset(
    {
        ProviderErrorKind.AUTH,
        ProviderErrorKind.BAD_REQUEST,
        ProviderErrorKind.CONTEXT_LENGTH,
        ProviderErrorKind.CONTENT_FILTER,
        ProviderErrorKind.UNKNOWN,
    }
)
"""Provider error kinds the model activity never retries (Spine's non-retryable kinds)."""


def provider_error_type(kind: ProviderErrorKind | str) -> str:
    """The Temporal `ApplicationError.type` a provider error of `kind` travels as."""
    return f"ProviderError.{ProviderErrorKind(kind).value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityOptions:
    """Timeouts and retries of the activities a run schedules.

    Attributes:
        model_timeout_s: Seconds one model-call attempt may take (start-to-close).
        tool_timeout_s: Seconds one tool-call attempt may take (start-to-close).
        heartbeat_timeout_s: Seconds without a heartbeat after which an attempt counts as
            lost (a killed worker) and is retried elsewhere; the activities heartbeat every
            third of it on their own, so long calls are fine.
        model_attempts: Attempts per model call (retryable provider errors only: rate_limit,
            timeout, connection, server, overloaded; a provider's `retry_after_s` sets the
            next delay).
        tool_attempts: Attempts per tool call for transient errors (`ConnectionError`,
            `TimeoutError`, retryable `ProviderError`s); any other tool error goes back to the
            model at once, as a tool error, like in a local run.
        retry_initial_s: Seconds before the first retry (doubling after each).
        retry_max_s: Longest wait between retries, seconds.
        store_timeout_s: Seconds one load or save of the session in the agent's checkpoint
            store may take.
    """

    model_timeout_s: float = 300.0
    tool_timeout_s: float = 300.0
    heartbeat_timeout_s: float = 30.0
    model_attempts: int = 8
    tool_attempts: int = 3
    retry_initial_s: float = 1.0
    retry_max_s: float = 60.0
    store_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for field in ("model_timeout_s", "tool_timeout_s", "heartbeat_timeout_s"):
            if getattr(self, field) <= 0:
                raise ValueError(f"ActivityOptions.{field} must be positive")
        if self.model_attempts < 1 or self.tool_attempts < 1:
            raise ValueError("ActivityOptions attempts must be at least 1")

    def model_retry(self) -> RetryPolicy:
        """The model activity's retry policy."""
        return RetryPolicy(
            initial_interval=timedelta(seconds=self.retry_initial_s),
            maximum_interval=timedelta(seconds=self.retry_max_s),
            maximum_attempts=self.model_attempts,
            non_retryable_error_types=sorted(provider_error_type(k) for k in NON_RETRYABLE_KINDS),
        )

    def tool_retry(self) -> RetryPolicy:
        """The tool activity's retry policy (its non-transient errors never reach it)."""
        return RetryPolicy(
            initial_interval=timedelta(seconds=self.retry_initial_s),
            maximum_interval=timedelta(seconds=self.retry_max_s),
            maximum_attempts=self.tool_attempts,
        )

    def store_retry(self) -> RetryPolicy:
        """The load / save activities' retry policy (a conflict is never retried)."""
        return RetryPolicy(
            initial_interval=timedelta(seconds=self.retry_initial_s),
            maximum_interval=timedelta(seconds=self.retry_max_s),
            non_retryable_error_types=["CheckpointConflict"],
        )


class TemporalAgent:
    """A Spine `Agent` whose runs execute as Temporal workflows.

    The agent loop (guards, middleware, approvals, typed output) runs in the workflow
    `spine.agent`; each model call is a `spine.model` activity and each tool call a
    `spine.tool` activity on a worker, so a run survives the loss of any worker. The session
    is loaded from and saved to the agent's checkpoint store (activities `spine.load` and
    `spine.save`) at the start, at each pause and at the end, when `persist` is True.

    Middleware run inside the workflow, so they must be deterministic: no I/O, clocks or
    randomness of their own (see docs/temporal.md for the list). Temporal's retry policy
    replaces Spine's `Retry` middleware.

    Args:
        agent: The agent. The same agent (same name, tools and middleware) must be served by
            every worker on the task queue.
        task_queue: The Temporal task queue its runs are scheduled on.
        activities: Activity timeouts and retries.
        persist: Load and save sessions in `agent.checkpoint`.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        task_queue: str = "spine",
        activities: ActivityOptions | None = None,
        persist: bool = True,
    ) -> None:
        self.agent = agent
        self.task_queue = task_queue
        self.activities = activities or ActivityOptions()
        self.persist = persist

    @property
    def name(self) -> str:
        """The agent's name (`Agent.label`): how workers and workflows find it."""
        return self.agent.label

    def workflow_id(self, session_id: str) -> str:
        """The workflow id of a run of `session_id`: one run per session at a time."""
        return f"spine:{self.name}:{session_id}"

    def request(
        self,
        input: str | Message | Sequence[Message] | None,
        *,
        session_id: str | None = None,
        message_history: Sequence[Message] | None = None,
        settings: dict[str, Any] | None = None,
        approval_timeout_s: float | None = None,
    ) -> RunRequest:
        """The workflow input for a run (see `start`)."""
        if isinstance(input, Message):
            input = [input]
        elif input is not None and not isinstance(input, str):
            input = list(input)
        return RunRequest(
            agent=self.name,
            input=input,
            session_id=session_id or uuid.uuid4().hex,
            message_history=list(message_history) if message_history is not None else None,
            settings=settings,
            approval_timeout_s=approval_timeout_s,
        )

    async def start(
        self,
        client: Client,
        input: str | Message | Sequence[Message] | None,
        *,
        session_id: str | None = None,
        message_history: Sequence[Message] | None = None,
        settings: dict[str, Any] | None = None,
        approval_timeout_s: float | None = None,
        workflow_id: str | None = None,
        task_timeout_s: float | None = None,
    ) -> RunHandle:
        """Start a run as a workflow and return its handle at once.

        Args:
            client: A client made with `spine_temporal.connect` (the pydantic converter).
            input: The user's message; None continues the stored session (after a pause
                that timed out, for instance).
            session_id: The session (default a new one); the workflow id is
                `workflow_id(session_id)` unless `workflow_id` is given.
            message_history: Messages that seed a new session.
            settings: Provider settings for this run only.
            approval_timeout_s: Seconds a pause waits for a decision before the run ends
                interrupted (None: no limit).
            workflow_id: An explicit workflow id.
            task_timeout_s: Temporal's workflow task timeout (seconds; default 10): how soon
                a workflow task held by a lost worker is handed to another.

        Raises:
            temporalio.exceptions.WorkflowAlreadyStartedError: a run of this session is
                already in progress.
        """
        from .client import start_run

        request = self.request(
            input,
            session_id=session_id,
            message_history=message_history,
            settings=settings,
            approval_timeout_s=approval_timeout_s,
        )
        return await start_run(
            client,
            request,
            task_queue=self.task_queue,
            workflow_id=workflow_id or self.workflow_id(request.session_id),
            output=self.output_adapter,
            task_timeout_s=task_timeout_s,
        )

    async def run(
        self,
        client: Client,
        input: str | Message | Sequence[Message] | None,
        **options: Any,
    ) -> Result:
        """Start a run and wait for its `Result` (same arguments as `start`). A run that
        pauses for a human waits until a decision arrives (from any process: see
        `RunHandle.decide`) or `approval_timeout_s` passes."""
        handle = await self.start(client, input, **options)
        return await handle.result()

    def handle(self, client: Client, session_id: str) -> RunHandle:
        """The handle of the latest run of `session_id` (to decide, query or await it)."""
        from .client import RunHandle

        return RunHandle(
            client.get_workflow_handle(self.workflow_id(session_id)),
            output=self.output_adapter,
        )

    @property
    def output_adapter(self) -> TypeAdapter[Any] | None:
        """A `TypeAdapter` of the agent's `output_type` (None without one), which rebuilds
        `Result.output` from its JSON form on the client."""
        spec = self.agent.output_spec
        return None if spec is None else spec.adapter

    def worker(self, client: Client, *, deps: Any = None, **worker_options: Any) -> Worker:
        """A `temporalio.worker.Worker` serving this agent on its task queue (use it as
        `async with agent.worker(client): ...` or `await worker.run()`).

        Args:
            client: A client made with `spine_temporal.connect`.
            deps: The dependencies object tools get as `ctx.deps` on this worker.
            worker_options: Passed to `Worker` (e.g. `max_concurrent_activities`).
        """
        from .worker import create_worker

        return create_worker(client, [self], deps=deps, **worker_options)
