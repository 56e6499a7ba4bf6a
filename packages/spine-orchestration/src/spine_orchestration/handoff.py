"""`Handoff`: a team of agents that pass the conversation to one another."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from spine_core import Agent, CheckpointStore, Result, StopReason

from ._team import Team, TeamRun
from ._transfer import EndTurnOnTransfer, check_name, transfer_in_batch, transfer_tool
from .results import TeamResult

__all__ = ["Handoff"]


class Handoff(Team):
    """A team of agents that can transfer the conversation to a named peer.

    Each agent is given ``transfer_to_<peer>`` tools (one per other member, added to its
    `tools`) and a middleware that ends its turn as soon as a transfer tool has answered: no
    further model call, even when the same response asked for more tools. The named peer
    then takes over with the original task. Bounded by ``max_handoffs`` so a transfer cycle
    can't run forever: a transfer past the bound ends the run with `StopReason.max_steps`.

    Per-run state lives in the run: who holds the conversation is checkpointed in the
    team's session, and the path is on the result (`TeamResult.path`, one name per visit,
    the start agent first; `members[i].handoff_to` says where visit i transferred). Visit i
    runs in the session `<session_id>/<i>.<name>` of that agent's store. A pause in the agent
    holding the conversation pauses the team; `resume` continues it. One instance serves any
    number of concurrent runs.

    Args:
        agents: The members by name (the names make the tool names, so 1-52 letters,
            digits, `_` or `-`); each agent object at most once.
        start: The member that gets the task first.
        max_handoffs: Transfers allowed per run.
        name: The team's name in its session and traces (default "handoff").
        checkpoint: Where the team's own session is kept (default: the start agent's store).

    Raises:
        ValueError: `start` is not a member, a name is not a valid tool name, an agent is
            listed twice, or `max_handoffs` is negative.
    """

    kind = "handoff"

    def __init__(
        self,
        agents: dict[str, Agent],
        *,
        start: str,
        max_handoffs: int = 5,
        name: str | None = None,
        checkpoint: CheckpointStore | None = None,
    ) -> None:
        if start not in agents:
            raise ValueError(f"start agent '{start}' not in the team ({', '.join(agents)})")
        if max_handoffs < 0:
            raise ValueError("max_handoffs must be 0 or more")
        if len({id(agent) for agent in agents.values()}) != len(agents):
            raise ValueError("each agent may appear in a Handoff team once")
        for member in agents:
            check_name(member)
        self.agents = dict(agents)
        self.start = start
        self.max_handoffs = max_handoffs
        self.name = name or "handoff"
        self.checkpoint = checkpoint or agents[start].checkpoint
        self.tenant_id = agents[start].tenant_id
        self._last_path: ContextVar[tuple[str, ...]] = ContextVar(
            f"spine_handoff_path_{id(self)}", default=()
        )
        self._wire()

    @property
    def path(self) -> list[str]:
        """The path of the latest run or resume of this team in the calling task (a context
        variable, so concurrent tasks each see their own; prefer `TeamResult.path`)."""
        return list(self._last_path.get())

    def _wire(self) -> None:
        for member, agent in self.agents.items():
            for peer in self.agents:
                if peer != member:
                    transfer = transfer_tool(peer)
                    agent.tools[transfer.name] = transfer
            if not any(isinstance(mw, EndTurnOnTransfer) for mw in agent.chain):
                agent.chain.add(EndTurnOnTransfer(), outermost=True)

    def _progress(self, input: str) -> dict[str, Any]:
        return {"members": [], "input": input}

    async def run(
        self, input: str | None, *, session_id: str | None = None, deps: Any = None
    ) -> TeamResult:
        result = await super().run(input, session_id=session_id, deps=deps)
        self._last_path.set(tuple(result.path))
        return result

    async def resume(
        self,
        token: str,
        decision: Any = "approve",
        *,
        answer: Any = None,
        reason: str | None = None,
        deps: Any = None,
    ) -> TeamResult:
        result = await super().resume(token, decision, answer=answer, reason=reason, deps=deps)
        self._last_path.set(tuple(result.path))
        return result

    run.__doc__ = Team.run.__doc__
    resume.__doc__ = Team.resume.__doc__

    async def _drive(self, run: TeamRun) -> tuple[StopReason, str | None, str | None]:
        task: str = run.progress["input"]
        while True:
            slot = len(run.members) - 1
            if slot < 0 or not run.todo(slot):
                record = run.members[slot] if slot >= 0 else None
                if record is not None and record.get("handoff_to") is None:
                    return _outcome(record, run)
                if record is not None and slot + 1 > self.max_handoffs:
                    return StopReason.MAX_STEPS, None, None
                member = record["handoff_to"] if record is not None else self.start
                visit = f"{run.state.session_id}/{slot + 1}.{member}"
                slot = run.add_member(self.agents[member], visit, name=member)
            member = run.members[slot]["agent"]
            agent = self.agents[member]
            result = await run.drive(slot, agent, task, note=self._note(agent))
            if result.interrupted:
                await run.pause(slot, result)
                return StopReason.INTERRUPT, None, None

    def _note(self, agent: Agent) -> Any:
        def note(result: Result) -> dict[str, Any]:
            if not result.ok:
                return {}
            target = transfer_in_batch(result.state.messages, agent.tools)
            return {"handoff_to": target} if target in self.agents else {}

        return note


def _outcome(record: dict[str, Any], run: TeamRun) -> tuple[StopReason, str | None, str | None]:
    reason = StopReason(record["stopped_reason"])
    message = record.get("message")
    answer = run.state.messages[message].text if message is not None else None
    if reason is StopReason.FINAL:
        return reason, answer or "", None
    error = (
        f"member '{record['agent']}' failed: {record.get('error')}"
        if reason is StopReason.ERROR
        else None
    )
    return reason, answer, error
