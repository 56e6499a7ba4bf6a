"""`GraphEvent`: what a streamed graph run reports, interleaved with its agents' own events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from spine_core import TraceEvent

__all__ = ["GraphEvent", "GraphEventType"]


class GraphEventType(StrEnum):
    """What happened in a graph run.

    - node_start: a node began (`node`; `data["kind"]` is function / agent / graph).
    - node_end: a node finished; `data["update"]` is what it wrote.
    - state: a step's writes were merged; `data["values"]` is the new state (the typed
      object), `data["next"]` the nodes of the next step.
    - agent: an event of an agent node's run; the `TraceEvent` is in `event`.
    - interrupt: the run paused; `data` is the `InterruptRequest` as JSON.
    - error: a node or the run failed; `data["error"]` says why.
    - final: the run ended; `data["stopped_reason"]`.
    """

    NODE_START = "node_start"
    NODE_END = "node_end"
    STATE = "state"
    AGENT = "agent"
    INTERRUPT = "interrupt"
    ERROR = "error"
    FINAL = "final"


@dataclass(slots=True)
class GraphEvent:
    """One event of a graph run.

    Attributes:
        type: What happened.
        step: The graph step it belongs to (0: before the first node ran).
        node: The node, for node and agent events (`parent/child` inside a sub-graph).
        data: Details (see `GraphEventType`).
        event: For `agent` events, the agent's own `TraceEvent`.
        ts: Wall-clock time, seconds since the epoch.
    """

    type: GraphEventType
    step: int = 0
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    event: TraceEvent | None = None
    ts: float = field(default_factory=time.time)
