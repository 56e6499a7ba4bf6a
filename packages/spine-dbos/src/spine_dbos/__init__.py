"""Durable, distributed Spine runs on DBOS Transact (Postgres or SQLite).

A run of a Spine agent (`DurableAgent`) or of an orchestration pattern or graph
(`DurableWorkflow`) becomes a DBOS workflow: each model call and each tool call is a step,
a human pause waits on `DBOS.recv`, and a DBOS queue spreads runs over worker processes.
"""

from ._patterns import DECISION_EVENT, NODE_STEP_PREFIX, PATTERN_WORKFLOW, PAUSE_EVENT
from ._steps import MODEL_STEP, TOOL_STEP_PREFIX, StepMiddleware, StepProvider, StepTool
from ._workflows import DECISION_TOPIC, RUN_WORKFLOW, WAIT_WORKFLOW
from .durable import DEFAULT_APPROVAL_TIMEOUT_S, DurableAgent, RunInfo, durable
from .durable_workflow import DurableWorkflow
from .engine import DEFAULT_APP_NAME, DEFAULT_DATABASE_URL, dbos_config, launch, shutdown
from .worker import Worker, serve

__all__ = [
    "DECISION_EVENT",
    "DECISION_TOPIC",
    "DEFAULT_APPROVAL_TIMEOUT_S",
    "DEFAULT_APP_NAME",
    "DEFAULT_DATABASE_URL",
    "MODEL_STEP",
    "NODE_STEP_PREFIX",
    "PATTERN_WORKFLOW",
    "PAUSE_EVENT",
    "RUN_WORKFLOW",
    "TOOL_STEP_PREFIX",
    "WAIT_WORKFLOW",
    "DurableAgent",
    "DurableWorkflow",
    "RunInfo",
    "StepMiddleware",
    "StepProvider",
    "StepTool",
    "Worker",
    "dbos_config",
    "durable",
    "launch",
    "serve",
    "shutdown",
]
