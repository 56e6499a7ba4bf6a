"""What every pattern shares: its own session in a checkpoint store, `run` / `resume` with a
compare-and-set claim, member bookkeeping, and the pause passed up as the pattern's own.

A pattern run is a `State` (agent = the pattern's name) whose messages are the task and the
members' answers, and whose `scratch["spine.team"]` holds the progress: one record per member
(`agent`, `session_id`, `stopped_reason`, `error`, `usage`, the index of its answer message)
and the pattern's own cursor. Members run in their own sessions (`<run>/<n>...`) in their own
agents' stores, so the pattern never keeps per-run state on itself.
"""

from __future__ import annotations

import contextlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import anyio

from spine_core import (
    Agent,
    CheckpointConflict,
    CheckpointStore,
    Message,
    Result,
    ResumeError,
    Role,
    RunStatus,
    SpineError,
    State,
    StopReason,
    TraceEvent,
    Usage,
)

from ._members import Human, drive_agent, pass_up
from .observe import WorkflowKind, observed
from .results import MemberResult, TeamResult

KEY = "spine.team"
_CANCEL_SAVE_S = 5.0  # seconds a cancelled run may spend checkpointing itself (shielded)


class TeamRun:
    """One `run` / `resume` invocation of a pattern: the state, the human reply it carries,
    and what it collected (trace events, the typed output). Never shared between calls."""

    __slots__ = ("deps", "human", "lock", "output", "retry", "state", "store", "trace")

    def __init__(
        self, store: CheckpointStore, state: State, *, human: Human | None, deps: Any, retry: bool
    ) -> None:
        self.store = store
        self.state = state
        self.human = human
        self.deps = deps
        self.retry = retry  # a continuation re-runs failed members
        self.lock = anyio.Lock()
        self.trace: list[TraceEvent] = []
        self.output: Any = None

    @property
    def progress(self) -> dict[str, Any]:
        data: dict[str, Any] = self.state.scratch[KEY]
        return data

    @property
    def members(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.progress["members"]
        return records

    def add_member(self, agent: Agent, session_id: str, *, name: str | None = None) -> int:
        """Add a member record (not yet run); returns its slot."""
        self.members.append(
            {"agent": name or agent.label, "session_id": session_id, "stopped_reason": None}
        )
        return len(self.members) - 1

    def todo(self, slot: int) -> bool:
        """Whether member `slot` still has to be driven in this invocation."""
        record = self.members[slot]
        reason = record["stopped_reason"]
        return reason in (None, StopReason.INTERRUPT.value) or (
            self.retry and reason == StopReason.ERROR.value
        )

    async def drive(
        self,
        slot: int,
        agent: Agent,
        input: Any,
        *,
        note: Callable[[Result], dict[str, Any]] | None = None,
    ) -> Result:
        """Drive member `slot` (see `drive_agent`), record how it ended (plus what `note`
        adds to the record) and checkpoint, in one write."""
        record = self.members[slot]
        paused = self.progress.get("paused")
        human = self.human if paused == record["session_id"] else None
        result = await drive_agent(
            agent, record["session_id"], input, human=human, deps=self.deps, retry_failed=self.retry
        )
        self.trace.extend(result.trace)
        async with self.lock:
            if human is not None:  # the reply is spent, whatever the member did with it
                self.human, self.progress["paused"], self.state.pending = None, None, None
            record["stopped_reason"] = result.stopped_reason.value
            record["error"] = result.error
            record["usage"] = result.usage.model_dump(mode="json")
            if result.answer and result.stopped_reason is not StopReason.INTERRUPT:
                self.state.add_message(
                    Message(role=Role.ASSISTANT, content=result.answer, name=record["agent"])
                )
                record["message"] = len(self.state.messages) - 1
            if note is not None:
                record.update(note(result))
            await self._put()
        return result

    async def save(self) -> None:
        async with self.lock:
            await self._put()

    async def _put(self) -> None:
        usage = Usage()
        for record in self.members:
            if record.get("usage"):
                usage.add(Usage.model_validate(record["usage"]))
        self.state.usage = usage
        await self.store.put(self.state)

    async def pause(self, slot: int, result: Result) -> None:
        """Make member `slot`'s pause the pattern's own and checkpoint it."""
        assert result.interrupt is not None
        record = self.members[slot]
        self.state.pending = pass_up(record["agent"], result.state.session_id, result.interrupt)
        self.progress["paused"] = record["session_id"]
        await self.finish(StopReason.INTERRUPT)

    async def finish(self, reason: StopReason, answer: str | None = None) -> None:
        state = self.state
        state.stopped_reason = reason
        state.status = {
            StopReason.INTERRUPT: RunStatus.INTERRUPTED,
            StopReason.ERROR: RunStatus.ERROR,
            StopReason.CANCELLED: RunStatus.CANCELLED,
        }.get(reason, RunStatus.DONE)
        if reason is not StopReason.INTERRUPT:
            state.pending = None
        self.progress["answer"] = answer
        await self.save()


class Team(ABC):
    """Base of the patterns: the pattern's session lives in `checkpoint` (by default the first
    member's store), and `run` / `resume` drive `_drive`, which each pattern implements."""

    kind: ClassVar[WorkflowKind]  # how observers name the pattern
    name: str
    checkpoint: CheckpointStore
    tenant_id: str | None = None

    def _progress(self, input: str) -> dict[str, Any]:
        """The initial progress record of a new run."""
        return {"members": [], "input": input}

    @abstractmethod
    async def _drive(self, run: TeamRun) -> tuple[StopReason, str | None, str | None]:
        """Advance the run; returns (stop reason, answer, error). Pauses call `run.pause`."""

    async def run(
        self, input: str | None, *, session_id: str | None = None, deps: Any = None
    ) -> TeamResult:
        """Run the pattern on `input`, or continue an unfinished run (input None).

        Args:
            input: The task (a string). None continues the run `session_id` from its
                checkpoints: members that finished are not run again, a member cut off by a
                crash continues from its own checkpoint, and failed members are retried; a
                paused or finished run is returned as it stands.
            session_id: The pattern run's session id (default: a new one). Members run in
                sessions `<session_id>/<n>...` of their own agents' stores.
            deps: Passed to every member run (`Agent.run(deps=...)`).

        Returns:
            A `TeamResult`; on a pause in any member, `stopped_reason` is interrupt and
            `resume_token` continues the whole pattern through `resume`.

        Raises:
            SpineError: `input` given for a session that exists, or an unknown session and
                `input` None.
            CheckpointConflict: another worker advanced the run first.
        """
        state = await self.checkpoint.get(session_id) if session_id else None
        if state is None:
            if input is None:
                raise SpineError(f"session '{session_id}' not found and no input given")
            text = str(input)
            state = State(
                session_id=session_id or uuid.uuid4().hex,
                agent=self.name,
                tenant_id=self.tenant_id,
                messages=[Message.user(text)],
                scratch={KEY: self._progress(text)},
            )
            await self.checkpoint.put(state)  # the run exists before any member runs
            return await self._execute(
                TeamRun(self.checkpoint, state, human=None, deps=deps, retry=False)
            )
        if KEY not in state.scratch:
            raise SpineError(f"session '{state.session_id}' is not a run of a pattern")
        if input is not None:
            raise SpineError(
                f"session '{state.session_id}' already holds a {self.name} run; "
                "pass input=None to continue it, or use a new session_id"
            )
        if state.status in (RunStatus.INTERRUPTED, RunStatus.DONE):  # the pause or the end
            return self._result(TeamRun(self.checkpoint, state, human=None, deps=deps, retry=False))
        pending = state.pending
        human = Human.from_json(pending.decision) if pending is not None else None
        return await self._execute(
            TeamRun(self.checkpoint, state, human=human, deps=deps, retry=True)
        )

    async def resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
        deps: Any = None,
    ) -> TeamResult:
        """Continue a paused (or cancelled) pattern run with a human's reply, in this or any
        process whose agents share the checkpoint stores.

        Args:
            token: `TeamResult.resume_token` (`"<session>:<interrupt id>"`, stale-checked), or
                the session id.
            decision: For an approval pause: True, "approve", "approved" or "yes" approves; any
                other value rejects (and is shown to the model). For an input pause (a tool's
                `Interrupt`): the answer, unless `answer` is given.
            answer: The answer to an input pause.
            reason: Why a call was rejected (shown to the model).
            deps: Passed to every member run.

        The reply is committed to the pattern's session with a compare-and-set write before
        anything runs, so of several workers resuming one pause, one continues the run.

        Raises:
            ResumeError: unknown session, nothing to resume, a stale token, or another worker
                resumed the pause first.
        """
        state = await self.checkpoint.get(token)
        interrupt_id: str | None = None
        if state is None:
            session_id, colon, interrupt_id = token.rpartition(":")
            state = await self.checkpoint.get(session_id) if colon and session_id else None
        if state is None or KEY not in state.scratch:
            raise ResumeError(f"no resumable {self.name} run for token '{token}'")
        pending = state.pending
        if state.status is RunStatus.INTERRUPTED and pending is not None:
            if interrupt_id and interrupt_id != pending.id:
                raise ResumeError(f"resume token '{token}' is stale: that pause was resolved")
            human = Human(decision, answer, reason)
            pending.decision = human.to_json()
        elif state.status is RunStatus.CANCELLED and not interrupt_id:
            human = None
        else:
            raise ResumeError(
                f"session '{state.session_id}' has nothing to resume: it is {state.status.value}"
            )
        state.status = RunStatus.RUNNING
        try:
            await self.checkpoint.put(state)  # the claim
        except CheckpointConflict as exc:
            raise ResumeError(
                f"session '{state.session_id}' was resumed by another worker first"
            ) from exc
        return await self._execute(
            TeamRun(self.checkpoint, state, human=human, deps=deps, retry=False)
        )

    async def _execute(self, run: TeamRun) -> TeamResult:
        with observed(self.kind, self.name, run.state) as seen:
            result = await self._advance(run)
            seen.stopped_reason, seen.error = result.stopped_reason, result.error
        return result

    async def _advance(self, run: TeamRun) -> TeamResult:
        try:
            reason, answer, error = await self._drive(run)
        except (CheckpointConflict, ResumeError):
            raise
        except anyio.get_cancelled_exc_class():
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(_CANCEL_SAVE_S),
                contextlib.suppress(CheckpointConflict),
            ):
                await run.finish(StopReason.CANCELLED)
            raise
        except Exception as exc:  # a failing aggregate, a broken member: the run's error
            reason, answer, error = StopReason.ERROR, None, f"{type(exc).__name__}: {exc}"
        if reason is not StopReason.INTERRUPT:
            run.progress["error"] = error
            await run.finish(reason, answer)
        return self._result(run)

    def _result(self, run: TeamRun) -> TeamResult:
        state = run.state
        reason = state.stopped_reason or StopReason.FINAL
        paused = reason is StopReason.INTERRUPT and state.pending is not None
        return TeamResult(
            answer=run.progress.get("answer"),
            stopped_reason=reason,
            state=state,
            trace=run.trace,
            usage=state.usage.model_copy(),
            resume_token=f"{state.session_id}:{state.pending.id}"
            if paused and state.pending
            else None,
            interrupt=state.pending if paused else None,
            error=run.progress.get("error") if reason is StopReason.ERROR else None,
            output=run.output,
            members=[_member(state, record) for record in run.members],
        )


def _member(state: State, record: dict[str, Any]) -> MemberResult:
    index = record.get("message")
    return MemberResult(
        agent=record["agent"],
        session_id=record["session_id"],
        stopped_reason=record.get("stopped_reason"),
        answer=state.messages[index].text if index is not None else None,
        error=record.get("error"),
        handoff_to=record.get("handoff_to"),
        usage=record.get("usage") or Usage(),
    )
