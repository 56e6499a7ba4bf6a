"""The client side: connect, start a run, send a decision, read the status, get the result."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from spine_core import InterruptRequest, Result

from ._payloads import DecisionInput, RunRequest, RunView
from .workflow import WORKFLOW_NAME

__all__ = ["RunHandle", "connect", "start_run"]


async def connect(address: str, *, namespace: str = "default", **options: Any) -> Client:
    """A Temporal client with the pydantic data converter, which Spine's payloads need.

    Args:
        address: The frontend's "host:port" (the dev server's default is 127.0.0.1:7233).
        namespace: The Temporal namespace.
        options: Passed to `temporalio.client.Client.connect` (tls, api_key, ...).

    Raises:
        RuntimeError: the server cannot be reached (temporalio's error).
    """
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter, **options
    )


async def start_run(
    client: Client,
    request: RunRequest,
    *,
    task_queue: str,
    workflow_id: str,
    output: TypeAdapter[Any] | None = None,
    task_timeout_s: float | None = None,
) -> RunHandle:
    """Start the `spine.agent` workflow for `request` on `task_queue`.

    Args:
        client: A client made with `connect`.
        request: The run (see `TemporalAgent.request`).
        task_queue: Where the agent's workers poll.
        workflow_id: The workflow id (one running workflow per id).
        output: Rebuilds `Result.output` from its JSON form (the agent's output type).
        task_timeout_s: The workflow task timeout, seconds (Temporal's default is 10).

    Raises:
        temporalio.exceptions.WorkflowAlreadyStartedError: that workflow id is running.
    """
    handle: WorkflowHandle[Any, Result] = await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=workflow_id,
        task_queue=task_queue,
        result_type=Result,
        task_timeout=timedelta(seconds=task_timeout_s) if task_timeout_s else None,
    )
    return RunHandle(handle, output=output)


class RunHandle:
    """A run in progress or done, from any process.

    Args:
        handle: The workflow's handle.
        output: Rebuilds `Result.output` (an adapter of the agent's `output_type`), or None.
    """

    def __init__(
        self, handle: WorkflowHandle[Any, Any], *, output: TypeAdapter[Any] | None = None
    ) -> None:
        self.workflow = handle
        self._output = output

    @property
    def workflow_id(self) -> str:
        return self.workflow.id

    async def status(self) -> RunView:
        """The run's `RunView` (phase, steps, the pending pause)."""
        view: RunView = await self.workflow.query("status", result_type=RunView)
        return view

    async def wait(self) -> RunView:
        """Wait until the run waits for a human or has ended; its view then."""
        view: RunView = await self.workflow.execute_update("wait", result_type=RunView)
        return view

    async def decide(
        self,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
        interrupt_id: str | None = None,
        wait: bool = True,
    ) -> None:
        """Send a human decision to the pending pause (arguments as `Agent.resume`).

        Args:
            decision: True / "approve" runs the approved call; anything else rejects it.
            answer: A tool `Interrupt`'s answer.
            reason: Why the call was rejected (shown to the model).
            interrupt_id: The pause meant (`RunView.pending.id`); None: the current one.
            wait: True sends an update, which a worker validates before it is accepted;
                False sends a signal, recorded even while no worker is up (a decision
                that does not fit the pause is then ignored).

        Raises:
            temporalio.client.WorkflowUpdateFailedError: (`wait=True`) the run is not
                waiting, the interrupt id is stale, or `answer` was given to an approval.
        """
        payload = DecisionInput(
            decision=decision, answer=answer, reason=reason, interrupt_id=interrupt_id
        )
        if wait:
            await self.workflow.execute_update("decide", payload, result_type=RunView)
        else:
            await self.workflow.signal("decide", payload)

    async def result(self) -> Result:
        """The run's `Result` (waits for the run to end).

        Raises:
            temporalio.client.WorkflowFailureError: the workflow failed (a Spine error such
                as a checkpoint conflict, or the workflow was terminated).
        """
        result: Result = await self.workflow.result()
        if isinstance(result.interrupt, dict):
            result.interrupt = InterruptRequest.model_validate(result.interrupt)
        if self._output is not None and result.output is not None:
            result.output = self._output.validate_python(result.output)
        return result

    async def cancel(self) -> None:
        """Ask the run to stop (Temporal cancellation: the run ends as cancelled)."""
        await self.workflow.cancel()
