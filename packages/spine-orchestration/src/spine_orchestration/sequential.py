"""`Sequential`: agents in a row, each answer the next agent's input."""

from __future__ import annotations

from spine_core import Agent, CheckpointStore, StopReason

from ._team import Team, TeamRun

__all__ = ["Sequential"]


class Sequential(Team):
    """Run agents in order, feeding each answer as the next agent's input.

    The answer is the last agent's; a member that stops without a final answer (an error, a
    guard trip) stops the chain with its stop reason, and a member's pause pauses the chain
    (`resume` continues it from that member). Each member runs in the session
    `<session_id>/<n>` of its own agent's store; the chain's own session goes to
    `checkpoint`. One instance serves any number of concurrent runs.

    Args:
        *agents: The members, in order.
        name: The pattern's name in its session and traces (default "sequential").
        checkpoint: Where the chain's own session is kept (default: the first agent's store).

    Raises:
        ValueError: no agents.
    """

    kind = "sequential"

    def __init__(
        self, *agents: Agent, name: str | None = None, checkpoint: CheckpointStore | None = None
    ) -> None:
        if not agents:
            raise ValueError("Sequential needs at least one agent")
        self.agents = list(agents)
        self.name = name or "sequential"
        self.checkpoint = checkpoint or agents[0].checkpoint
        self.tenant_id = agents[0].tenant_id

    async def _drive(self, run: TeamRun) -> tuple[StopReason, str | None, str | None]:
        current: str = run.progress["input"]
        for index, agent in enumerate(self.agents):
            if index == len(run.members):
                run.add_member(agent, f"{run.state.session_id}/{index}")
            elif not run.todo(index):  # finished before a pause or a crash
                message = run.members[index].get("message")
                current = run.state.messages[message].text if message is not None else ""
                continue
            result = await run.drive(index, agent, current)
            if result.interrupted:
                await run.pause(index, result)
                return StopReason.INTERRUPT, None, None
            if not result.ok:
                error = None
                if result.stopped_reason is StopReason.ERROR:
                    error = f"member '{agent.label}' failed: {result.error}"
                return result.stopped_reason, result.answer, error
            current = result.answer or ""
            run.output = result.output
        return StopReason.FINAL, current, None
