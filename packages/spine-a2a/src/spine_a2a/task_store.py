"""`CheckpointTaskStore`: A2A tasks kept in a Spine `CheckpointStore`.

Each task is one record of the store, under the session id `<prefix><task id>` (default
prefix "a2a-task:"), with the task's proto3 JSON in `state.scratch["a2a.task"]`. The record's
`revision` is the task's `TaskVersion`, so two server processes sharing a store (e.g. one
`PostgresCheckpoint`) never overwrite each other's progress: a stale write raises
`ConcurrentTaskModificationError`, which a2a-sdk's request handler answers by reloading.
"""

from __future__ import annotations

import builtins

from a2a.server.cluster.task_store import (
    ConcurrentTaskModificationError,
    StoredTask,
    VersionedTaskStore,
)
from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import ListTasksRequest, ListTasksResponse, Task, TaskState
from google.protobuf.json_format import MessageToDict, ParseDict

from spine_core import CheckpointConflict, CheckpointStore, RunStatus, State

from ._convert import TERMINAL

__all__ = ["TASK_AGENT", "CheckpointTaskStore"]

TASK_AGENT = "a2a-task"
"""`State.agent` of task records (tells them apart from conversation sessions)."""

_TASK = "a2a.task"
_STATUS = {
    TaskState.TASK_STATE_COMPLETED: RunStatus.DONE,
    TaskState.TASK_STATE_FAILED: RunStatus.ERROR,
    TaskState.TASK_STATE_REJECTED: RunStatus.ERROR,
    TaskState.TASK_STATE_CANCELED: RunStatus.CANCELLED,
    TaskState.TASK_STATE_INPUT_REQUIRED: RunStatus.INTERRUPTED,
    TaskState.TASK_STATE_AUTH_REQUIRED: RunStatus.INTERRUPTED,
}


class CheckpointTaskStore(VersionedTaskStore):
    """An a2a-sdk `VersionedTaskStore` over a Spine `CheckpointStore`.

    Args:
        store: Where the task records go (typically the served agent's `checkpoint`).
        prefix: Session-id prefix of the task records.
        tenant_id: Recorded on every task record.

    `list` reads every task record of the store (a listing plus one `get` per task), so it
    suits stores with up to some thousands of tasks. Tasks are not scoped per user: any
    caller that reaches the server can read any task by id.
    """

    def __init__(
        self, store: CheckpointStore, *, prefix: str = "a2a-task:", tenant_id: str | None = None
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.tenant_id = tenant_id

    def key(self, task_id: str) -> str:
        """The session id of task `task_id`'s record."""
        return f"{self.prefix}{task_id}"

    async def _read(self, task_id: str) -> tuple[State, Task] | None:
        state = await self.store.get(self.key(task_id))
        if state is None or _TASK not in state.scratch:
            return None
        return state, ParseDict(state.scratch[_TASK], Task(), ignore_unknown_fields=True)

    async def get(self, task_id: str, context: ServerCallContext) -> StoredTask | None:
        """The task with its version (the record's revision), or None."""
        found = await self._read(task_id)
        if found is None:
            return None
        state, task = found
        return StoredTask(task, TaskVersion(state.revision))

    async def save(
        self,
        task: Task,
        *,
        event: Event | None,
        prev: Task | None,
        prev_version: TaskVersion,
        context: ServerCallContext,
    ) -> TaskVersion:
        """Write `task` if the stored version is still `prev_version` (a move to canceled
        overwrites any non-terminal task).

        Raises:
            ConcurrentTaskModificationError: another writer got there first.
        """
        del event, prev
        cancel = task.status.state == TaskState.TASK_STATE_CANCELED
        for _ in range(8):  # a cancel retries against concurrent writers
            found = await self._read(task.id)
            current = TaskVersion(found[0].revision) if found else TaskVersion.MISSING
            if cancel:
                if found is None or found[1].status.state in TERMINAL:
                    raise ConcurrentTaskModificationError(task.id)
            elif current != prev_version:
                raise ConcurrentTaskModificationError(task.id)
            state = (
                found[0]
                if found
                else State(session_id=self.key(task.id), agent=TASK_AGENT, tenant_id=self.tenant_id)
            )
            state.scratch[_TASK] = MessageToDict(task)
            state.status = _STATUS.get(task.status.state, RunStatus.RUNNING)
            try:
                await self.store.put(state)
            except CheckpointConflict:
                if not cancel:
                    raise ConcurrentTaskModificationError(task.id) from None
                continue
            return TaskVersion(state.revision)
        raise ConcurrentTaskModificationError(task.id)

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        """Tasks filtered by context and state, newest status first, paginated."""
        page = InMemoryTaskStore(use_copying=False)  # a2a-sdk's own filter / sort / cursors
        for info in await self._records():
            found = await self._read(info.removeprefix(self.prefix))
            if found is not None:
                await page.save(found[1], context)
        return await page.list(params, context)

    async def _records(self) -> builtins.list[str]:
        infos = await self.store.list(tenant_id=self.tenant_id)
        return [
            i.session_id
            for i in infos
            if i.agent == TASK_AGENT and i.session_id.startswith(self.prefix)
        ]

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        """Remove the task's record."""
        await self.store.delete(self.key(task_id))
