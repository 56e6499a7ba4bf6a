"""Multi-agent patterns (`Sequential`, `Parallel`, `supervisor`, `Handoff`) and durable graph
workflows (`Graph` -> `Workflow`) for Spine."""

from ._stream import GraphStream
from .errors import GraphError
from .events import GraphEvent, GraphEventType
from .graph import END, START, Graph
from .handoff import Handoff
from .history import Checkpoint
from .nodes import NodeContext
from .observe import WorkflowObserver, WorkflowRun, add_observer, remove_observer
from .parallel import Aggregate, Parallel
from .reducers import Reducer, append, last_write
from .results import GraphResult, MemberResult, TeamResult
from .sequential import Sequential
from .supervisor import supervisor
from .workflow import Workflow

__all__ = [
    "END",
    "START",
    "Aggregate",
    "Checkpoint",
    "Graph",
    "GraphError",
    "GraphEvent",
    "GraphEventType",
    "GraphResult",
    "GraphStream",
    "Handoff",
    "MemberResult",
    "NodeContext",
    "Parallel",
    "Reducer",
    "Sequential",
    "TeamResult",
    "Workflow",
    "WorkflowObserver",
    "WorkflowRun",
    "add_observer",
    "append",
    "last_write",
    "remove_observer",
    "supervisor",
]
