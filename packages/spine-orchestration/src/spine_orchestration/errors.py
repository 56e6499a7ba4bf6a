"""The errors spine_orchestration raises."""

from __future__ import annotations

from spine_core import SpineError

__all__ = ["GraphError"]


class GraphError(SpineError, ValueError):
    """A graph is invalid (raised by `Graph.compile` and `Graph.add_*`, listing every problem
    found), or a run broke a graph rule: a node wrote an unknown field or a value of the
    wrong type, two nodes of one step wrote the same last-write-wins field, or a router named
    a node that does not exist (these end the run with `StopReason.error`)."""
