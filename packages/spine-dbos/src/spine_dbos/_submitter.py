"""`Submitter`: the DBOS calls `DurableAgent` and `DurableWorkflow` share, made either in this
process (`DBOS`, launched here) or through a `DBOSClient` (a process that runs no workflows)."""

from __future__ import annotations

import time
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions, WorkflowStatus

from spine_core import StopReason

from ._workflows import DECISION_TOPIC

__all__ = ["Submitter", "cancelled_reason"]


class Submitter:
    """Enqueue, message, cancel, await and list workflows, through `client` when given.

    Attributes:
        client: The `DBOSClient` to go through; None: this process's launched DBOS.
        poll_interval_s: Seconds between polls while awaiting a workflow's result.
    """

    def __init__(self, client: DBOSClient | None, poll_interval_s: float) -> None:
        self.client = client
        self.poll_interval_s = poll_interval_s

    async def _enqueue(self, options: EnqueueOptions, *args: Any) -> None:
        if self.client is not None:
            await self.client.enqueue_async(options, *args)
        else:
            await DBOS.enqueue_workflow_with_options_async(options, *args)

    async def _send_decision(self, workflow_id: str, message: Any, key: str) -> None:
        """Send `message` on the decision topic, once per idempotency `key`."""
        if self.client is not None:
            await self.client.send_async(workflow_id, message, DECISION_TOPIC, key)
        else:
            await DBOS.send_async(workflow_id, message, DECISION_TOPIC, idempotency_key=key)

    async def _cancel(self, workflow_id: str) -> None:
        if self.client is not None:
            await self.client.cancel_workflow_async(workflow_id)
        else:
            await DBOS.cancel_workflow_async(workflow_id)

    async def _get_result(self, workflow_id: str) -> Any:
        """The workflow's output, once it ends.

        Raises:
            DBOSNonExistentWorkflowError: no such workflow.
            DBOSAwaitedWorkflowCancelledError: it was cancelled (or timed out).
        """
        handle: Any
        if self.client is not None:
            handle = await self.client.retrieve_workflow_async(workflow_id)
        else:
            handle = await DBOS.retrieve_workflow_async(workflow_id)
        return await handle.get_result(polling_interval_sec=self.poll_interval_s)

    async def _event(self, workflow_id: str, key: str) -> Any:
        """The workflow's event `key` as last set, or None (never waits)."""
        if self.client is not None:
            return await self.client.get_event_async(workflow_id, key, timeout_seconds=0)
        return await DBOS.get_event_async(workflow_id, key, timeout_seconds=0)

    async def _status(self, workflow_id: str) -> WorkflowStatus | None:
        found = await self._list(workflow_ids=[workflow_id])
        return found[0] if found else None

    async def _list(self, **filters: Any) -> list[WorkflowStatus]:
        """`list_workflows` newest first, inputs loaded and outputs not unless asked."""
        filters.setdefault("load_input", True)
        filters.setdefault("load_output", False)
        filters["sort_desc"] = True
        if self.client is not None:
            return await self.client.list_workflows_async(**filters)
        return await DBOS.list_workflows_async(**filters)


def cancelled_reason(status: WorkflowStatus | None) -> StopReason:
    """Why a cancelled workflow stopped: TIMEOUT when its deadline has passed, else
    CANCELLED."""
    deadline = status.workflow_deadline_epoch_ms if status is not None else None
    timed_out = deadline is not None and time.time() * 1000 >= deadline
    return StopReason.TIMEOUT if timed_out else StopReason.CANCELLED
