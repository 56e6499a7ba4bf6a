"""Workflow observers: an optional instrumentation point around every pattern and graph run.

An observer is any object with a `workflow(run) -> context manager` method. Each `run` /
`resume` of a `Sequential`, `Parallel`, `Handoff` or compiled `Graph` (a `Workflow`, sub-graphs
included) enters every registered observer's context around its work, in the calling task,
so whatever the observer makes current (a tracing span) is current while the members, nodes
and sub-graphs run. spine-otel's `OTelMiddleware` is one (`invoke_workflow {name}` spans)::

    from spine_orchestration import add_observer

    remove = add_observer(otel)  # later: remove()

No tracing library is imported here; with no observer registered a run pays one list check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from spine_core import State, StopReason

__all__ = ["WorkflowObserver", "WorkflowRun", "add_observer", "remove_observer"]

WorkflowKind = Literal["sequential", "parallel", "handoff", "graph"]


@dataclass(slots=True)
class WorkflowRun:
    """One `run` / `resume` invocation of a pattern or graph, as an observer sees it.

    Attributes:
        kind: The pattern: "sequential", "parallel", "handoff" or "graph".
        name: The pattern's or graph's name.
        state: The run's own session (its `scratch` is checkpointed with the run, so an
            observer may keep small JSON values there, e.g. to link a resume to the pause).
        stopped_reason: How the invocation ended; set before the observer's context exits
            normally (None when it exits with an exception).
        error: The run's error message when `stopped_reason` is error.
    """

    kind: WorkflowKind
    name: str
    state: State
    stopped_reason: StopReason | None = None
    error: str | None = None


class WorkflowObserver(Protocol):
    """What `add_observer` takes: `workflow(run)` returns a context manager that is entered
    before the invocation does any work and exited after it ended (with the exception, if
    one escaped: a lost compare-and-set race, a cancellation)."""

    def workflow(self, run: WorkflowRun) -> AbstractContextManager[object]: ...


_observers: list[WorkflowObserver] = []


def add_observer(observer: WorkflowObserver) -> Callable[[], None]:
    """Register `observer` for every pattern and graph run in this process (once, however
    often it is added). Returns a function that removes it again."""
    if not any(o is observer for o in _observers):
        _observers.append(observer)
    return lambda: remove_observer(observer)


def remove_observer(observer: WorkflowObserver) -> None:
    """Unregister `observer` (nothing happens when it is not registered)."""
    _observers[:] = [o for o in _observers if o is not observer]


@contextmanager
def observed(kind: WorkflowKind, name: str, state: State) -> Iterator[WorkflowRun]:
    """Enter every registered observer's context around one invocation (internal)."""
    run = WorkflowRun(kind, name, state)
    if not _observers:
        yield run
        return
    with ExitStack() as stack:
        for observer in list(_observers):
            stack.enter_context(observer.workflow(run))
        yield run
