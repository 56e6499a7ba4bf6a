"""The a2a-sdk `AgentExecutor` that runs a Spine agent for each A2A request."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import TYPE_CHECKING, Any

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Message, Part, Task, TaskState, TaskStatus

from spine_core import (
    Agent,
    CheckpointConflict,
    Decision,
    EventType,
    InterruptRequest,
    Result,
    RunStatus,
    SpineError,
    StopReason,
    TraceEvent,
)

from ._convert import SPINE_PAUSE, TERMINAL, message_text, to_spine_message

if TYPE_CHECKING:
    from .task_store import CheckpointTaskStore

# state.scratch key of a conversation session: the A2A task that owns its pending pause.
OWNER_KEY = "spine_a2a.task_id"

_APPROVALS = frozenset({"approve", "approved", "yes", "y", "ok", "okay", "allow"})
_REJECT_PREFIX = re.compile(r"^\s*(reject(ed)?|deny|denied|no)\b\s*[:,.\-]?\s*", re.IGNORECASE)


def decision_for(pending: InterruptRequest, text: str) -> Decision:
    """The decision a reply makes for a pause: the answer itself for a tool's question; for
    an approval, "approve" / "yes" / "ok" approve, anything else rejects (the text, less a
    leading "reject:", is the reason the model sees)."""
    if pending.kind == "input":
        return Decision(action="answer", answer=text)
    word = text.strip().lower().rstrip(".!")
    if word in _APPROVALS:
        return Decision(action="approve")
    reason = _REJECT_PREFIX.sub("", text).strip() or None
    return Decision(action="reject", reason=reason)


class SpineExecutor(AgentExecutor):
    """Runs `agent` in the Spine session of each A2A context (`<session_prefix><contextId>`).

    A message on a task waiting for input resumes the paused run with the message as the
    decision; a message without a task id starts a new task (a new turn) in its context.
    """

    def __init__(self, agent: Agent, tasks: CheckpointTaskStore, session_prefix: str) -> None:
        self.agent = agent
        self.tasks = tasks
        self.session_prefix = session_prefix
        self._running: set[str] = set()  # tasks with a turn in flight in this process
        self._cancelled: set[str] = set()

    def session_id(self, context_id: str) -> str:
        return f"{self.session_prefix}{context_id}"

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        task_id = str(context.task_id)
        # A follow-up naming only the task gets a fresh context id from a2a-sdk: the task's own
        # context is the conversation.
        context_id = task.context_id if task is not None else str(context.context_id)
        updater = TaskUpdater(event_queue, task_id, context_id)
        # Read now: a2a-sdk updates this object in place as our status events are applied.
        resuming = task is not None and task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        if task is None:
            history = [context.message] if context.message is not None else []
            first = Task(
                id=task_id,
                context_id=context_id,
                status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                history=history,
            )
            await event_queue.enqueue_event(first)
        await updater.start_work()
        session = self.session_id(context_id)
        state = await self.agent.checkpoint.get(session)
        user = context.message
        if resuming:
            if (
                state is None
                or state.status is not RunStatus.INTERRUPTED
                or state.pending is None
                or state.scratch.get(OWNER_KEY) != task_id
            ):
                await updater.failed(_agent_message(updater, "This task has no pending question."))
                return
            text = message_text(user) if user is not None else ""
            state.pending.decision = dataclasses.asdict(decision_for(state.pending, text))
            state.status = RunStatus.RUNNING
            try:
                await self.agent.checkpoint.put(state)  # the claim: one answer wins
            except CheckpointConflict:
                note = "This question was answered by another request first."
                await updater.failed(_agent_message(updater, note))
                return
            stream = self.agent.stream(None, session_id=session)
        else:
            if state is not None and state.status is RunStatus.INTERRUPTED:
                owner = str(state.scratch.get(OWNER_KEY) or "")
                if await self._still_waiting(owner, context.call_context):
                    note = (
                        f"Context {context_id} is waiting for input on task {owner}; "
                        "reply with that taskId first."
                    )
                    await updater.reject(_agent_message(updater, note))
                    return
                state.pending, state.status = None, RunStatus.CANCELLED  # its task is over
                state.scratch.pop(OWNER_KEY, None)
                await self.agent.checkpoint.put(state)
            spine_input = to_spine_message(user) if user is not None else ""
            stream = self.agent.stream(spine_input, session_id=session)
        result: Result | None = None
        self._running.add(task_id)
        try:
            try:
                async for event in stream:
                    if task_id not in self._cancelled:
                        await self._forward(updater, event)
                result = stream.result
            except CheckpointConflict:
                note = "Another request updated this conversation first; try again."
                await updater.failed(_agent_message(updater, note))
                return
            except SpineError as exc:
                await updater.failed(_agent_message(updater, str(exc)))
                return
            finally:
                await stream.aclose()
            if task_id not in self._cancelled and result is not None:
                await self._finish(updater, result, task_id)
        finally:
            self._running.discard(task_id)
            self._cancelled.discard(task_id)

    async def _still_waiting(self, owner: str, call: ServerCallContext) -> bool:
        if not owner:
            return False
        stored = await self.tasks.get(owner, call)
        return stored is not None and stored.task.status.state not in TERMINAL

    async def _forward(self, updater: TaskUpdater, event: TraceEvent) -> None:
        """Pass a run's tool activity on as `working` status updates."""
        data = event.data
        if event.type is EventType.TOOL_CALL:
            text = f"Calling tool '{data.get('name')}'."
            meta = {"name": data.get("name"), "id": data.get("id")}
        elif event.type is EventType.TOOL_RESULT:
            failed = bool(data.get("is_error"))
            text = f"Tool '{data.get('name')}' {'failed' if failed else 'finished'}."
            meta = {"name": data.get("name"), "id": data.get("id"), "is_error": failed}
        else:
            return
        message = _agent_message(updater, text, {"spine.event": {"type": event.type.value, **meta}})
        await updater.update_status(TaskState.TASK_STATE_WORKING, message=message)

    async def _finish(self, updater: TaskUpdater, result: Result, task_id: str) -> None:
        reason = result.stopped_reason
        if reason is StopReason.FINAL:
            answer = result.answer or ""
            await updater.add_artifact(
                [Part(text=answer)], artifact_id="answer", name="answer", last_chunk=True
            )
            await updater.complete()
        elif reason is StopReason.INTERRUPT and result.interrupt is not None:
            pause: InterruptRequest = result.interrupt
            state = result.state
            state.scratch[OWNER_KEY] = task_id
            await self.agent.checkpoint.put(state)
            meta = {
                SPINE_PAUSE: {
                    "kind": pause.kind,
                    "interrupt_id": pause.id,
                    "tool": pause.tool_call.name,
                    "data": pause.data,
                }
            }
            await updater.requires_input(_agent_message(updater, pause.question, meta))
        elif reason is StopReason.CANCELLED:
            await updater.cancel()
        elif reason is StopReason.ERROR:
            await updater.failed(_agent_message(updater, result.error or "The run failed."))
        elif reason is StopReason.GUARDRAIL:
            note = result.answer or "Blocked by a guardrail."
            await updater.reject(_agent_message(updater, note))
        else:
            if result.answer:
                await updater.add_artifact(
                    [Part(text=result.answer)], artifact_id="answer", name="answer"
                )
            note = f"The run stopped before finishing: {reason.value}."
            await updater.failed(_agent_message(updater, note))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Stop the task: a running turn is cancelled (the kernel checkpoints it as cancelled
        when a2a-sdk cancels `execute`); a pending question of this task is dropped."""
        task_id = str(context.task_id)
        current = context.current_task
        context_id = current.context_id if current is not None else str(context.context_id)
        if task_id in self._running:
            self._cancelled.add(task_id)
        state = await self.agent.checkpoint.get(self.session_id(context_id))
        if (
            state is not None
            and state.status is RunStatus.INTERRUPTED
            and state.scratch.get(OWNER_KEY) == task_id
        ):
            state.pending, state.status = None, RunStatus.CANCELLED
            state.scratch.pop(OWNER_KEY, None)
            # A conflict: someone answered it meanwhile, and that run is being cancelled.
            with contextlib.suppress(CheckpointConflict):
                await self.agent.checkpoint.put(state)
        await TaskUpdater(event_queue, task_id, context_id).cancel()


def _agent_message(
    updater: TaskUpdater, text: str, metadata: dict[str, Any] | None = None
) -> Message:
    return updater.new_agent_message([Part(text=text)], metadata=metadata)
