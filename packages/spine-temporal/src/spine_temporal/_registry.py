"""Which `TemporalAgent`s a worker in this process serves, by task queue and agent name.

The workflow sandbox re-imports workflow modules for every run, so the agents live here, in a
module the sandbox passes through: a workflow finds its agent with `lookup(task_queue, name)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agent import TemporalAgent

_AGENTS: dict[tuple[str, str], TemporalAgent] = {}


def register(task_queue: str, agent: TemporalAgent) -> None:
    """Serve `agent` on `task_queue` in this process (a later registration replaces it)."""
    _AGENTS[(task_queue, agent.name)] = agent


def lookup(task_queue: str, name: str) -> TemporalAgent:
    """The agent registered under `name` for `task_queue` (or, when the queue has none, the
    only agent of that name registered in this process: a `Replayer` replays on a queue of its
    own).

    Raises:
        LookupError: no worker in this process serves that agent on that queue.
    """
    found = _AGENTS.get((task_queue, name))
    if found is None:
        named = [agent for (_, n), agent in _AGENTS.items() if n == name]
        if len(named) == 1:
            return named[0]
        served = ", ".join(sorted(n for q, n in _AGENTS if q == task_queue)) or "none"
        raise LookupError(
            f"no agent '{name}' is served on task queue '{task_queue}' (served: {served})"
        )
    return found
