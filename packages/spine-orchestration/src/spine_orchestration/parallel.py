"""`Parallel`: fan a task out to several agents at once, then aggregate their answers."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio

from spine_core import (
    Agent,
    CheckpointStore,
    Result,
    ResumeError,
    State,
    StopReason,
    tool_output_text,
)

from ._members import stored_result
from ._team import Team, TeamRun

__all__ = ["Aggregate", "Parallel"]

Aggregate = (
    Literal["concat"]
    | Agent
    | Callable[[list[Result]], Any]
    | Callable[[list[Result]], Awaitable[Any]]
)

_AGGREGATE_PROMPT = (
    "Combine the answers below, given by {count} agents to the same task, into one answer.\n\n"
    "Task:\n{task}\n\n{answers}"
)


class Parallel(Team):
    """Run agents on the same task at once, then aggregate their answers.

    Every branch gets the task as its input and runs in the session `<session_id>/<n>` of
    its own agent's store; at most `max_concurrency` branches run at a time. A failing branch
    never loses the run: the others finish, the answer aggregates the branches that answered,
    and the result has `stopped_reason` error with `error` naming the failed branches (their
    `MemberResult`s say why). A pause in any branch pauses the whole run once every other
    branch has finished or paused; each `resume` answers one pause (the next one surfaces
    until none is left), then the answers are aggregated. One instance serves any number of
    concurrent runs.

    Args:
        *agents: The branches.
        aggregate: How the answers become one:
            - "concat" (default): each answer under its agent's name in brackets
              (`"[name]\\nanswer"`), in agent order, separated by blank lines;
            - a function (sync or async) given the answered branches' `Result`s in agent
              order (branches finished before a resume in another process have no trace);
              a str becomes the answer, any other value the `output` (and its JSON the
              answer);
            - an `Agent`, run on a prompt holding the task and the concatenated answers,
              in the session `<session_id>/aggregate`; its answer is the answer, and a pause
              in it pauses the run like a branch's.
        max_concurrency: Branches running at once (None: all).
        name: The pattern's name in its session and traces (default "parallel").
        checkpoint: Where the run's own session is kept (default: the first agent's store).

    Raises:
        ValueError: no agents, or `max_concurrency` below 1.
        TypeError: `aggregate` is none of the above.
    """

    kind = "parallel"

    def __init__(
        self,
        *agents: Agent,
        aggregate: Aggregate = "concat",
        max_concurrency: int | None = 8,
        name: str | None = None,
        checkpoint: CheckpointStore | None = None,
    ) -> None:
        if not agents:
            raise ValueError("Parallel needs at least one agent")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1 (or None for no limit)")
        if not (aggregate == "concat" or isinstance(aggregate, Agent) or callable(aggregate)):
            raise TypeError(
                f"aggregate must be 'concat', an Agent or a function, not {aggregate!r}"
            )
        self.agents = list(agents)
        self.aggregate = aggregate
        self.max_concurrency = max_concurrency
        self.name = name or "parallel"
        self.checkpoint = checkpoint or agents[0].checkpoint
        self.tenant_id = agents[0].tenant_id

    async def _drive(self, run: TeamRun) -> tuple[StopReason, str | None, str | None]:
        session = run.state.session_id
        if not run.members:
            for index, agent in enumerate(self.agents):
                run.add_member(agent, f"{session}/{index}")
        results: dict[int, Result] = {}
        limit = self.max_concurrency or len(self.agents)
        limiter = anyio.CapacityLimiter(limit)  # per run: runs never wait on each other

        async def branch(index: int) -> None:
            async with limiter:
                results[index] = await _contained(
                    run, index, self.agents[index], run.progress["input"]
                )

        try:
            async with anyio.create_task_group() as group:
                for index in range(len(self.agents)):
                    if run.todo(index):
                        group.start_soon(branch, index)
        except ExceptionGroup as failure:  # the run's own checkpoint failed in a branch
            raise failure.exceptions[0] from None
        for index in range(len(self.agents)):
            result = results.get(index)
            if result is not None and result.interrupted:
                await run.pause(index, result)
                return StopReason.INTERRUPT, None, None
        answered = [
            results.get(i) or await self._stored(i, run)
            for i in range(len(self.agents))
            if run.members[i]["stopped_reason"] == StopReason.FINAL.value
        ]
        failed = [
            f"{r['agent']} ({r['stopped_reason']}{': ' + r['error'] if r.get('error') else ''})"
            for r in run.members[: len(self.agents)]
            if r["stopped_reason"] != StopReason.FINAL.value
        ]
        answer: str | None = None
        if answered:
            outcome = await self._aggregate(run, answered)
            if outcome is None:
                return StopReason.INTERRUPT, None, None
            reason, answer, error = outcome
            if reason is not StopReason.FINAL:
                return reason, answer, error
        if failed:
            error = f"{len(failed)} of {len(self.agents)} branches failed: " + "; ".join(failed)
            return StopReason.ERROR, answer, error
        return StopReason.FINAL, answer, None

    async def _stored(self, index: int, run: TeamRun) -> Result:
        """The Result of a branch that finished in an earlier invocation."""
        agent = self.agents[index]
        state = await agent.checkpoint.get(run.members[index]["session_id"])
        if state is None:
            raise ResumeError(f"branch '{agent.label}' lost its session")
        return stored_result(state)

    async def _aggregate(
        self, run: TeamRun, answered: list[Result]
    ) -> tuple[StopReason, str | None, str | None] | None:
        """The aggregate (reason, answer, error); None when the aggregating agent paused."""
        labelled = "\n\n".join(f"[{r.state.agent}]\n{r.answer or ''}" for r in answered)
        aggregate = self.aggregate
        if isinstance(aggregate, Agent):
            slot = len(self.agents)
            if len(run.members) == slot:
                run.add_member(aggregate, f"{run.state.session_id}/aggregate")
            elif not run.todo(slot):
                message = run.members[slot].get("message")
                text = run.state.messages[message].text if message is not None else ""
                return StopReason.FINAL, text, None
            prompt = _AGGREGATE_PROMPT.format(
                count=len(answered), task=run.progress["input"], answers=labelled
            )
            result = await run.drive(slot, aggregate, prompt)
            if result.interrupted:
                await run.pause(slot, result)
                return None
            run.output = result.output
            error = (
                f"aggregate '{aggregate.label}' failed: {result.error}" if result.error else None
            )
            return result.stopped_reason, result.answer, error
        if aggregate == "concat":
            return StopReason.FINAL, labelled, None
        assert callable(aggregate)
        value = aggregate(answered)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, str):
            return StopReason.FINAL, value, None
        run.output = value
        return StopReason.FINAL, tool_output_text(value), None


async def _contained(run: TeamRun, index: int, agent: Agent, input: str) -> Result:
    """Drive a branch; an exception (a broken store, a resume race) becomes its failure."""
    try:
        return await run.drive(index, agent, input)
    except Exception as exc:
        record = run.members[index]
        record["stopped_reason"], record["error"] = (
            StopReason.ERROR.value,
            f"{type(exc).__name__}: {exc}",
        )
        await run.save()
        return Result(
            stopped_reason=StopReason.ERROR,
            state=State(session_id=record["session_id"], agent=agent.label),
            error=record["error"],
        )
