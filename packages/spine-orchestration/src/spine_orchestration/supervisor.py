"""`supervisor`: an agent that delegates to worker agents, each exposed as a tool."""

from __future__ import annotations

from typing import Any

from spine_core import Agent, Provider, Tool

__all__ = ["supervisor"]

_INSTRUCTIONS = (
    "You coordinate specialist agents. Choose the single best worker tool for "
    "the request, call it, then return its result."
)


def supervisor(
    model: str | Provider,
    workers: dict[str, Agent],
    *,
    system: str | None = None,
    **kwargs: Any,
) -> Agent:
    """Build a supervisor agent that delegates to ``workers`` as tools.

    Each worker becomes a tool named by its key (`Agent.as_tool`): a call runs the worker in a
    child session of the supervisor's session, at depth + 1 (so `Guards.max_depth` bounds
    delegation cycles), its usage added to the supervisor's. A pause inside a worker (an
    approval, a tool's `Interrupt`) pauses the supervisor; `supervisor.resume(token, ...)`
    hands the decision down, also from a fresh process sharing the checkpoint stores.

    Args:
        model: "scheme:model" or a `Provider` for the supervisor itself.
        workers: Worker agents by tool name.
        system: The supervisor's system prompt (default: pick the best worker, call it,
            return its result).
        **kwargs: Any other `Agent` argument (guards, middleware, checkpoint, name, ...);
            `tools` are offered next to the workers.

    Raises:
        ValueError: no workers, or a worker name that clashes with another tool.
    """
    if not workers:
        raise ValueError("supervisor needs at least one worker")
    extra: list[Tool] = list(kwargs.pop("tools", None) or [])
    tools = [agent.as_tool(name=name) for name, agent in workers.items()]
    return Agent(model, tools=[*tools, *extra], system=system or _INSTRUCTIONS, **kwargs)
